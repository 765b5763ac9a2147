//! The local microservices cluster (`deploy/local/cluster.sh`: 13 Skald processes,
//! s3s-fs, memcached, nginx) driven through its nginx gateway, as Promtail and
//! Grafana would use it: pushes and queries through the gateway while an ingester
//! is SIGKILLed and restarted; a live tail through the gateway with a forced
//! disconnect and resume; the canary (tail, queries and spot checks) through the gateway.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::lines::{assert_exactly_once, push_round, ring, tail_entries, Pusher};
use common::{now_ns, wait_for, TempDir};
use serde_json::Value;
use skald::loadgen::tail_client::TailClient;

/// A running local cluster; `down` on drop.
struct LocalCluster {
    dir: TempDir,
    offset: u16,
}

fn port_free(p: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() && std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()
}

impl LocalCluster {
    fn script() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/local/cluster.sh")
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(Self::script())
            .args(args)
            .env("RUN_DIR", &self.dir.0)
            .env("PORT_OFFSET", self.offset.to_string())
            .env("LOCAL_BIN", common::BIN)
            .output()
            .expect("run cluster.sh");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "cluster.sh {args:?} failed: {text}");
        text
    }

    fn up() -> LocalCluster {
        // an offset whose every port is free (the script's fixed layout, shifted); the tests of this
        // process draw from disjoint slot sets, so two clusters starting at once never pick the same
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let lane = (NEXT.fetch_add(1, Ordering::Relaxed) % 4) as u64;
        let seed = (std::process::id() as u64 * 7919 + now_ns() as u64 % 997) % 100;
        let offset = (0..100u64)
            .map(|i| 1000 + (((seed + i * 37) % 100) * 4 + lane) as u16 * 50)
            .find(|o| {
                [8080, 9000, 11211].iter().all(|p| port_free(p + o))
                    && (0..13).all(|i| [3101, 9101, 7101].iter().all(|p| port_free(p + o + i)))
            })
            .expect("a free port range");
        let c = LocalCluster { dir: TempDir::new("local-cluster"), offset };
        c.run(&["up"]);
        c
    }

    fn gateway(&self) -> String {
        format!("http://127.0.0.1:{}", 8080 + self.offset)
    }

    fn http(&self, index: u16) -> String {
        format!("http://127.0.0.1:{}", 3101 + self.offset + index)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = Command::new(Self::script())
            .arg("down")
            .env("RUN_DIR", &self.dir.0)
            .env("PORT_OFFSET", self.offset.to_string())
            .env("LOCAL_BIN", common::BIN)
            .output();
    }
}

#[test]
fn through_the_gateway_an_ingester_killed_under_pushes_loses_nothing() {
    let c = LocalCluster::up();
    let gw = c.gateway();
    let pusher = Pusher::start(&gw, "gw", 3);
    pusher.rounds(100);
    c.run(&["kill", "ingester-1"]);
    pusher.rounds(100);
    // the launcher's heartbeat timeout is 20 s: wait until the ring has marked it, then push on
    wait_for("the killed ingester unhealthy", Duration::from_secs(60), || {
        ring(&c.http(3)).get("ingester-1").is_some_and(|(_, healthy)| !healthy)
    });
    pusher.rounds(100);
    let (acked_now, fails) = pusher.stop();
    assert!(fails.is_empty(), "every push succeeds with two of three replicas: {:?}", &fails[..fails.len().min(3)]);
    assert_exactly_once(&gw, "gw", &acked_now);

    c.run(&["start", "ingester-1"]);
    wait_for("ingester-1 ACTIVE again", Duration::from_secs(60), || {
        let r = ring(&c.http(3));
        r.len() == 3 && r.values().all(|(s, healthy)| s == "ACTIVE" && *healthy)
    });
    let more: Vec<String> = (0..10).flat_map(|r| push_round(&gw, "gw", 3, 1_000_000 + r).unwrap()).collect();
    assert_exactly_once(&gw, "gw", &acked_now.into_iter().chain(more).collect::<Vec<_>>());
}

#[test]
fn a_live_tail_through_the_gateway_gets_every_line_once_and_resumes_without_gap() {
    let c = LocalCluster::up();
    let gw = c.gateway();
    // delay_for: the querier holds entries a second and sorts them, as three replicas deliver at their own pace
    let q = [("query", r#"{app="tailgw", s="1"}"#), ("delay_for", "1")];
    let mut t = TailClient::connect(&gw, "/loki/api/v1/tail", &q, &[]).expect("tail through nginx");
    let first: Vec<String> = (0..30).map(|r| push_round(&gw, "tailgw", 3, r).unwrap()[1].clone()).collect();
    let got = tail_entries(&mut t, 30);
    assert_eq!(got.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>(), first, "every line once, in order");
    t.kill();
    let missed: Vec<String> = (30..60).map(|r| push_round(&gw, "tailgw", 3, r).unwrap()[1].clone()).collect();
    let last = got.last().unwrap().0.to_string();
    let q = [("query", r#"{app="tailgw", s="1"}"#), ("start", last.as_str()), ("resume", "true"), ("delay_for", "1")];
    let mut t = TailClient::connect(&gw, "/loki/api/v1/tail", &q, &[]).expect("tail resumes");
    let resumed = tail_entries(&mut t, 30);
    assert_eq!(resumed.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>(), missed, "no gap and no duplicate");
}

#[test]
fn the_canary_through_the_gateway_finds_nothing_missing_duplicated_or_out_of_order() {
    let c = LocalCluster::up();
    let out = Command::new(common::BIN)
        .args(["canary", "--url", &c.gateway(), "--duration", "10s", "--spot-check-every", "2s"])
        .output()
        .expect("run the canary");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "canary failed: {report} {}", String::from_utf8_lossy(&out.stderr));
    let line = report.lines().rev().find(|l| l.starts_with('{')).expect("a JSON report");
    let v: Value = serde_json::from_str(line).unwrap();
    // an entry every 100 ms for 10 s, each push waiting for its answer: fewer on a loaded machine
    assert!(v["entries"].as_u64().unwrap() >= 20, "{v}");
    assert_eq!(v["received"], v["entries"], "{v}");
    for k in ["missing", "duplicates", "out_of_order", "spot_check_missing", "query_errors", "write_errors"] {
        assert_eq!(v[k], 0, "{k}: {v}");
    }
    assert!(v["spot_checks"].as_u64().unwrap() >= 2, "spot checks went through the query-frontend: {v}");
}
