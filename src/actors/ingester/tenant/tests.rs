//! Tenant actor tests: how streams are spread over the shards.

use std::sync::Arc;

use actix::Actor;

use super::*;
use crate::actors::ingester::shard::ShardCounters;
use crate::actors::ingester::test_settings;
use crate::model::Entry;

#[actix::test]
async fn new_streams_go_to_the_emptiest_shard() {
    let settings = Arc::new(test_settings());
    let shards: Vec<Addr<StreamShardActor>> = (0..2)
        .map(|_| {
            StreamShardActor::new("t".into(), settings.clone(), std::time::Duration::from_secs(3600), None).start()
        })
        .collect();
    let tenant = TenantActor::new("t".into(), shards.clone(), Arc::new(Overrides::new(Default::default()))).start();
    // after every new stream the shards hold counts at most one apart. The values
    // ("00", "11", ..., "2929") repeat each digit, so every fingerprint (FNV-1a)
    // has the same low bit: `fingerprint % 2` would put all of them on one shard.
    for i in 0..30 {
        let labels = Labels::parse(&format!("{{app=\"a\", n=\"{i}{i}\"}}")).unwrap();
        let (reply, rx) = tokio::sync::oneshot::channel();
        let streams = vec![StreamPush::new(labels, vec![Entry::new(1, "x")])];
        tenant.do_send(TenantPush { streams, reply, replay: false });
        assert_eq!(rx.await.unwrap().unwrap().accepted, 1);
        let mut per_shard = Vec::new();
        for s in &shards {
            per_shard.push(s.send(Observe::<ShardCounters>::new()).await.unwrap().streams);
        }
        assert_eq!(per_shard.iter().sum::<usize>(), i + 1);
        assert!(per_shard[0].abs_diff(per_shard[1]) <= 1, "after {} streams: {per_shard:?}", i + 1);
    }
}
