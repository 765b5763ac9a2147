//! One conformance suite for the object storage client, run against every
//! backend: memory, the local filesystem and a real S3 server (s3s-fs).

mod common;

use bytes::Bytes;
use common::{S3Server, TempDir, S3_KEY, S3_SECRET};
use skald::config::storage::S3Config;
use skald::storage::object::{ObjectClient, ObjectInfo, StorageError};

async fn suite(c: &ObjectClient) {
    let kind = c.kind();
    // missing objects are NotFound, not a generic error
    assert!(matches!(c.get("fake/none").await, Err(StorageError::NotFound(_))), "{kind}");

    let blob: Bytes = (0..=255u8).cycle().take(300_000).collect::<Vec<u8>>().into();
    c.put("fake/chunks/a/1", blob.clone()).await.unwrap();
    c.put("fake/chunks/a/2", Bytes::from_static(b"two")).await.unwrap();
    c.put("fake/chunks/b/1", Bytes::from_static(b"")).await.unwrap();
    c.put("other/index/x", Bytes::from_static(b"idx")).await.unwrap();

    assert_eq!(c.get("fake/chunks/a/1").await.unwrap(), blob, "{kind}: binary round trip");
    assert_eq!(c.get("fake/chunks/b/1").await.unwrap().len(), 0, "{kind}: empty object");
    assert_eq!(&c.get_range("fake/chunks/a/1", 256..260).await.unwrap()[..], &[0, 1, 2, 3], "{kind}: range");

    // overwrite replaces
    c.put("fake/chunks/a/2", Bytes::from_static(b"TWO!")).await.unwrap();
    assert_eq!(&c.get("fake/chunks/a/2").await.unwrap()[..], b"TWO!");

    let listed = c.list("fake/chunks").await.unwrap();
    assert_eq!(
        listed,
        vec![
            ObjectInfo { key: "fake/chunks/a/1".into(), size: 300_000 },
            ObjectInfo { key: "fake/chunks/a/2".into(), size: 4 },
            ObjectInfo { key: "fake/chunks/b/1".into(), size: 0 },
        ],
        "{kind}: list is recursive, sorted and sized"
    );
    assert_eq!(c.list("").await.unwrap().len(), 4, "{kind}: list all");
    assert!(c.list("nothing/here").await.unwrap().is_empty());

    c.delete("fake/chunks/a/2").await.unwrap();
    assert!(matches!(c.get("fake/chunks/a/2").await, Err(StorageError::NotFound(_))));
    assert_eq!(c.list("fake").await.unwrap().len(), 2);
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn memory_backend() {
    rt().block_on(suite(&ObjectClient::memory()));
}

#[test]
fn filesystem_backend() {
    let dir = TempDir::new("fs");
    let c = ObjectClient::filesystem(&dir.0.join("chunks")).unwrap();
    rt().block_on(suite(&c));
    assert!(dir.0.join("chunks/other/index/x").is_file(), "objects are plain files under the directory");
}

#[test]
fn s3_backend_against_s3s_fs() {
    let s3 = S3Server::start("loki-data");
    let cfg = S3Config {
        endpoint: s3.endpoint(),
        bucketnames: s3.bucket.clone(),
        access_key_id: S3_KEY.into(),
        secret_access_key: S3_SECRET.into(),
        s3forcepathstyle: true,
        insecure: true,
        ..Default::default()
    };
    rt().block_on(suite(&ObjectClient::s3(&cfg).unwrap()));
    assert!(s3.dir.0.join("loki-data/other/index/x").is_file(), "the object landed in the bucket");

    // the URL form, as Loki configs write it
    let url = S3Config {
        s3: format!("s3://{S3_KEY}:{S3_SECRET}@{}/loki-data", s3.endpoint()),
        s3forcepathstyle: true,
        insecure: true,
        ..Default::default()
    };
    let c = ObjectClient::s3(&url).unwrap();
    rt().block_on(async { assert_eq!(&c.get("other/index/x").await.unwrap()[..], b"idx") });

    // wrong credentials are a backend error, not a panic or NotFound
    let bad = S3Config { secret_access_key: "wrong".into(), ..cfg };
    let c = ObjectClient::s3(&bad).unwrap();
    rt().block_on(async { assert!(matches!(c.get("other/index/x").await, Err(StorageError::Backend { .. }))) });
}

#[test]
fn backend_is_chosen_from_loki_config() {
    let dir = TempDir::new("cfg");
    let yaml = format!(
        "common:\n  path_prefix: {}\nschema_config:\n  configs:\n    - from: 2020-10-24\n      store: tsdb\n      object_store: filesystem\n      schema: v13\n      index: {{prefix: index_, period: 24h}}\n",
        dir.0.display()
    );
    let cfg = skald::config::load_str(&yaml).unwrap();
    assert!(!cfg.ignored_keys.contains(&"schema_config.configs[].object_store".to_string()), "{:?}", cfg.ignored_keys);
    let c = ObjectClient::from_config(&cfg.config).unwrap();
    assert_eq!(c.kind(), "filesystem");
    rt().block_on(c.put("k", Bytes::from_static(b"v"))).unwrap();
    assert!(dir.0.join("chunks/k").is_file(), "default directory is <path_prefix>/chunks");
    let seed = std::fs::read_to_string(common::shared().join("reference/seed/loki-config.yaml")).unwrap();
    let cfg = skald::config::load_str(&seed).unwrap().config;
    let c = ObjectClient::from_config(&cfg).unwrap();
    assert_eq!(c.kind(), "s3", "the seed deployment stores in MinIO");
}
