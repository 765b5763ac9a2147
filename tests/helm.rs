//! The Helm chart (deploy/helm/skald) rendered by Helm's own engine: lint, the
//! Kubernetes schema, Services that select real pods, addresses that name real
//! Services, every workload's args loading the rendered config in this build of
//! Skald, and the gateway's nginx.conf passing `nginx -t`; with the default
//! values, single-binary mode, optional parts on, and the seed deployment's
//! loki-distributed values. The checks are in tests/helm/check_chart.py.

mod common;

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_helm_chart_renders_valid_manifests_that_skald_and_nginx_accept() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("tests/helm/check_chart.py"))
        .arg(root.join("deploy/helm/skald"))
        .arg(env!("CARGO_BIN_EXE_skald"))
        .arg(common::shared().join("reference/seed/chart-values.yaml"))
        .output()
        .expect("python3");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "chart check failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("chart ok"), "{stdout}");
}
