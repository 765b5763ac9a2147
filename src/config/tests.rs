use super::*;

const SHARED: &str = "../shared";

#[test]
fn defaults_are_lokis() {
    let l = load_str("").unwrap();
    assert_eq!(l.config.server.http_listen_port, 3100);
    assert_eq!(l.config.server.grpc_listen_port, 9095);
    assert_eq!(l.config.target, vec!["all"]);
    assert_eq!(l.config.limits_config.max_line_size.0, 256_000);
    // Skald's one chosen difference here (docs/configuration.md): lz4, not gzip
    assert_eq!(l.config.ingester.chunk_encoding, "lz4");
    assert!(l.ignored_keys.is_empty());
}

#[test]
fn seed_deployment_config_loads_with_warnings() {
    let text = std::fs::read_to_string(format!("{SHARED}/reference/seed/loki-config.yaml")).unwrap();
    let l = load_str(&text).unwrap();
    assert!(!l.config.auth_enabled);
    assert_eq!(l.config.ingester.chunk_encoding, "snappy");
    assert_eq!(l.config.ingester.chunk_target_size.0, 1_536_000);
    assert!(l.ignored_keys.contains(&"table_manager.retention_period".to_string()), "{:?}", l.ignored_keys);
    assert!(l.ignored_keys.contains(&"storage_config.boltdb_shipper.shared_store".to_string()));
    assert_eq!(l.notes.len(), 1, "boltdb-shipper is mapped to Skald's index with one warning");
    assert!(l.notes[0].contains("boltdb-shipper"));
}

#[test]
fn conformance_configs_load() {
    std::env::set_var("HTTP_PORT", "3999");
    std::env::set_var("GRPC_PORT", "9999");
    std::env::set_var("DATA_DIR", "/tmp/skald-x");
    for f in ["loki-reference-3x.yaml", "loki-reference.yaml"] {
        let text = std::fs::read_to_string(format!("{SHARED}/conformance/{f}")).unwrap();
        let l = load_str(&expand_env(&text)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(l.config.server.http_listen_port, 3999);
        assert_eq!(l.config.limits_config.max_entries_limit_per_query, 100_000);
        assert!(!l.config.limits_config.reject_old_samples);
        assert_eq!(l.config.common.path_prefix, "/tmp/skald-x");
    }
}

#[test]
fn misspelt_keys_are_errors_naming_the_key() {
    let e = load_str("server:\n  http_listen_prot: 3100\n").unwrap_err().to_string();
    assert!(e.contains("\"server.http_listen_prot\""), "{e}");
    assert!(e.contains("did you mean \"http_listen_port\""), "{e}");
    let e = load_str("ingestr:\n  chunk_encoding: gzip\n").unwrap_err().to_string();
    assert!(e.contains("\"ingestr\""), "{e}");
    let e = load_str("ingester:\n  lifecycler:\n    ring:\n      kvstor: {}\n").unwrap_err().to_string();
    assert!(e.contains("ingester.lifecycler.ring.kvstor"), "{e}");
}

#[test]
fn bad_values_name_their_path() {
    let e = load_str("server:\n  http_listen_port: lots\n").unwrap_err().to_string();
    assert!(e.contains("server.http_listen_port"), "{e}");
    let e = load_str("ingester:\n  chunk_encoding: brotli\n").unwrap_err().to_string();
    assert!(e.contains("unsupported encoding"), "{e}");
}

#[test]
fn env_expansion() {
    std::env::set_var("SKTEST_PORT", "4100");
    std::env::remove_var("SKTEST_UNSET");
    assert_eq!(expand_env("a: ${SKTEST_PORT}"), "a: 4100");
    assert_eq!(expand_env("a: ${SKTEST_UNSET:-7}"), "a: 7");
    assert_eq!(expand_env("a: ${SKTEST_UNSET}"), "a: ");
}

#[test]
fn every_example_in_config_dir_parses() {
    for dir in ["config", "deploy/local"] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&p).unwrap();
                load_str(&expand_env(&text)).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            }
        }
    }
}
