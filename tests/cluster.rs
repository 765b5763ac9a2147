//! Gossip membership across real processes: three nodes find each other from one
//! seed, `/memberlist` and `/ring` show them (HTML and JSON), a killed node is
//! detected dead but stays in the ring until its heartbeat is stale, and leaves
//! every ring once forgotten (`POST /ring`) until it restarts.

mod common;

use std::time::Duration;

use common::{client, free_port, wait_for, Skald};
use serde_json::Value;
use skald::model::{Entry, Labels, StreamPush};
use skald::proto::logproto;
use skald::rpc::ingester::to_proto;

fn node(i: usize, port: u16, seed: u16) -> Skald {
    Skald::start(&format!(
        "memberlist:\n  join_members: [127.0.0.1:{seed}]\n  bind_addr: [127.0.0.1]\n  bind_port: {port}\n  gossip_interval: 100ms\n\
         ingester:\n  lifecycler:\n    id: node-{i}\n    ring:\n      heartbeat_timeout: 3s\n"
    ))
}

fn json(s: &Skald, path: &str) -> Value {
    client().get(s.url(path)).header("Accept", "application/json").send().unwrap().json().unwrap()
}

fn member<'a>(v: &'a Value, id: &str) -> Option<&'a Value> {
    v["members"].as_array()?.iter().find(|m| m["id"] == id)
}

#[test]
fn three_nodes_gossip_and_a_dead_one_stays_in_the_ring_until_stale() {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes: Vec<Skald> = (0..3).map(|i| node(i, ports[i], ports[0])).collect();

    for n in &nodes {
        wait_for("every node to see three live members", Duration::from_secs(30), || {
            let v = json(n, "/memberlist");
            (0..3).all(|i| member(&v, &format!("node-{i}")).is_some_and(|m| m["live"] == true))
        });
    }
    let v = json(&nodes[1], "/memberlist");
    let m0 = member(&v, "node-0").unwrap();
    assert_eq!(m0["keys"]["targets"], "all");
    assert_eq!(m0["keys"]["http"], format!("127.0.0.1:{}", nodes[0].http_port));
    assert_eq!(m0["keys"]["grpc"], format!("127.0.0.1:{}", nodes[0].grpc_port));

    // the ring: three ACTIVE ingesters with 128 tokens each, owning the whole circle
    wait_for("three ACTIVE ring members", Duration::from_secs(30), || {
        let r = json(&nodes[0], "/ring");
        r["shards"].as_array().is_some_and(|s| s.len() == 3 && s.iter().all(|x| x["state"] == "ACTIVE"))
    });
    let r = json(&nodes[0], "/ring");
    let shards = r["shards"].as_array().unwrap();
    assert!(shards.iter().all(|s| s["tokens"].as_array().unwrap().len() == 128 && s["healthy"] == true));
    let total: f64 = shards.iter().map(|s| s["ownership"].as_f64().unwrap()).sum();
    assert!((total - 100.0).abs() < 0.01, "ownership adds up to 100%: {total}");
    let page = client().get(nodes[0].url("/ring")).send().unwrap().text().unwrap();
    assert!(page.contains("<table>") && page.contains("node-2") && page.contains("ACTIVE"), "{page}");
    let page = client().get(nodes[0].url("/memberlist")).send().unwrap().text().unwrap();
    assert!(page.contains("node-1") && page.contains("alive"), "{page}");
    wait_for("three ACTIVE distributors", Duration::from_secs(30), || {
        let d = json(&nodes[2], "/distributor/ring");
        d["shards"].as_array().is_some_and(|s| s.len() == 3 && s.iter().all(|x| x["state"] == "ACTIVE"))
    });
    let page = client().get(nodes[2].url("/distributor/ring")).send().unwrap().text().unwrap();
    assert!(page.contains("Distributor ring") && page.contains("node-0"), "{page}");

    // a crash: detected dead, kept in the ring until its heartbeat is stale, then unhealthy
    nodes[2].kill();
    wait_for("node-2 detected dead", Duration::from_secs(60), || {
        member(&json(&nodes[0], "/memberlist"), "node-2").is_some_and(|m| m["live"] == false)
    });
    let still = json(&nodes[0], "/ring");
    assert!(
        still["shards"].as_array().unwrap().iter().any(|s| s["id"] == "node-2"),
        "a suspected node stays in the ring"
    );
    wait_for("node-2 unhealthy once its heartbeat is stale", Duration::from_secs(30), || {
        json(&nodes[0], "/ring")["shards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "node-2" && s["healthy"] == false)
    });

    // Loki's "Forget" on one node: every node drops the dead member, which comes back when it restarts
    let page = client().get(nodes[0].url("/ring")).send().unwrap().text().unwrap();
    assert!(page.contains(r#"<button name="forget" value="node-2" type="submit">Forget</button>"#), "{page}");
    let no_redirect = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // a live member is not forgotten (Loki's would add itself back at its next heartbeat)
    for id in ["node-1", "node-2"] {
        let r = no_redirect.post(nodes[0].url("/ring")).form(&[("forget", id)]).send().unwrap();
        assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (302, "#"));
    }
    let in_ring = |n: &Skald| json(n, "/ring")["shards"].as_array().unwrap().iter().any(|s| s["id"] == "node-2");
    for n in &nodes[..2] {
        wait_for("the forgotten node out of every ring", Duration::from_secs(30), || !in_ring(n));
    }
    let m = json(&nodes[1], "/memberlist");
    assert!(member(&m, "node-2").is_none());
    let tombstones = &member(&m, "node-0").unwrap()["keys"];
    assert!(tombstones.get("forget:node-2").is_some() && tombstones.get("forget:node-1").is_none(), "{tombstones}");
    assert!(json(&nodes[1], "/ring")["shards"].as_array().unwrap().iter().any(|s| s["id"] == "node-1"));
    nodes[2].start_again();
    for n in &nodes {
        wait_for("the restarted node ACTIVE in every ring", Duration::from_secs(30), || {
            json(n, "/ring")["shards"].as_array().unwrap().iter().any(|s| s["id"] == "node-2" && s["state"] == "ACTIVE")
        });
    }
}

#[test]
fn single_binary_ring_has_one_active_member() {
    let s = Skald::start("auth_enabled: false\n");
    wait_for("the ingester to turn ACTIVE after its WAL replay", Duration::from_secs(10), || {
        json(&s, "/ring")["shards"][0]["state"] == "ACTIVE"
    });
    let r = json(&s, "/ring");
    let shards = r["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 1);
    assert_eq!(shards[0]["state"], "ACTIVE");
    assert!((shards[0]["ownership"].as_f64().unwrap() - 100.0).abs() < 0.01);
    let m = json(&s, "/memberlist");
    assert_eq!(m["members"].as_array().unwrap().len(), 1);
}

fn replicated_node(i: usize, port: u16, seed: u16, rf: usize) -> Skald {
    Skald::start(&format!(
        "auth_enabled: false\nmemberlist:\n  join_members: [127.0.0.1:{seed}]\n  bind_addr: [127.0.0.1]\n  bind_port: {port}\n  gossip_interval: 100ms\n\
         ingester:\n  lifecycler:\n    id: node-{i}\n    ring:\n      replication_factor: {rf}\n      heartbeat_timeout: 3s\n"
    ))
}

fn cluster(rf: usize) -> Vec<Skald> {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let nodes: Vec<Skald> = (0..3).map(|i| replicated_node(i, ports[i], ports[0], rf)).collect();
    for n in &nodes {
        wait_for("three ACTIVE ring members on every node", Duration::from_secs(30), || {
            let r = json(n, "/ring");
            r["shards"].as_array().is_some_and(|s| s.len() == 3 && s.iter().all(|x| x["state"] == "ACTIVE"))
        });
    }
    nodes
}

/// Pushes `n` streams of 10 lines each to `s`; the status code.
fn push_streams(s: &Skald, n: usize, tag: &str) -> u16 {
    let now = common::now_ns();
    let streams: Vec<Value> = (0..n)
        .map(|i| {
            let values: Vec<Value> = (0..10)
                .map(|j| serde_json::json!([(now + j).to_string(), format!("{tag} stream {i} line {j}")]))
                .collect();
            serde_json::json!({"stream": {"app": "repl", "stream": format!("s{i}")}, "values": values})
        })
        .collect();
    client()
        .post(s.url("/loki/api/v1/push"))
        .header("Content-Type", "application/json")
        .body(serde_json::json!({ "streams": streams }).to_string())
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Streams this node's own ingester holds.
fn local_streams(s: &Skald) -> usize {
    common::metric(s, r#"loki_ingester_memory_streams{tenant="fake"}"#) as usize
}

/// Lines of `{app="repl"}` a query through `s` answers (it reads every ingester of the ring).
fn queried_lines(s: &Skald) -> usize {
    let q = [("query", r#"{app="repl"}"#), ("limit", "5000"), ("since", "10m")];
    let v: Value = client().get(s.url("/loki/api/v1/query_range")).query(&q).send().unwrap().json().unwrap();
    v["data"]["result"].as_array().unwrap().iter().map(|s| s["values"].as_array().unwrap().len()).sum()
}

/// Pushes `n` streams (`g0`, `g1`, ...) of 10 lines each through Loki's gRPC `Pusher` service of `s`.
fn push_streams_grpc(s: &Skald, n: usize, tag: &str) {
    let now = common::now_ns();
    let streams = (0..n)
        .map(|i| {
            let labels = Labels::parse(&format!(r#"{{app="repl", stream="g{i}"}}"#)).unwrap();
            StreamPush::new(
                labels,
                (0..10).map(|j| Entry::new(now + j, format!("{tag} stream {i} line {j}"))).collect(),
            )
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let url = format!("http://127.0.0.1:{}", s.grpc_port);
        let mut c = logproto::pusher_client::PusherClient::connect(url).await.unwrap();
        let req = logproto::PushRequest { streams: to_proto(streams), ..Default::default() };
        c.push(req).await.expect("gRPC push accepted");
    });
}

#[test]
fn pushes_reach_every_replica_over_grpc() {
    let nodes = cluster(3);
    assert_eq!(push_streams(&nodes[0], 20, "rf3"), 204);
    // Loki's gRPC push: a node's gRPC server runs on its ingester's front thread, whose tasks
    // reach the other ingesters through bridges of their own
    push_streams_grpc(&nodes[1], 20, "grpc");
    for n in &nodes {
        // the push returns at quorum (two of three): the third copy may still be on its way
        wait_for("every ingester to hold every stream (three replicas)", Duration::from_secs(30), || {
            local_streams(n) == 40
        });
        assert_eq!(queried_lines(n), 400, "replicas are read once each line");
    }
}

#[test]
fn replication_factor_one_spreads_streams_and_quorum_failures_answer_5xx() {
    let mut nodes = cluster(1);
    assert_eq!(push_streams(&nodes[1], 30, "rf1"), 204);
    let per_node: Vec<usize> = nodes.iter().map(local_streams).collect();
    assert_eq!(per_node.iter().sum::<usize>(), 30, "each stream on exactly one ingester: {per_node:?}");
    assert!(per_node.iter().filter(|n| **n > 0).count() >= 2, "streams spread over the ring: {per_node:?}");
    for n in &nodes {
        assert_eq!(queried_lines(n), 300, "every node's querier reads every ingester");
    }
    drop(nodes.pop());
    drop(nodes.pop());
    // streams owned by the dead ingesters cannot be written: a server error, not an acknowledgement
    let status = push_streams(&nodes[0], 30, "after");
    assert!(status >= 500, "got {status}");
}

#[test]
fn global_ingestion_rate_is_shared_by_the_cluster_distributors() {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let limits = "limits_config:\n  ingestion_rate_mb: 0.003\n  ingestion_burst_size_mb: 0.003\n";
    let nodes: Vec<Skald> = (0..3)
        .map(|i| {
            Skald::start(&format!(
                "auth_enabled: false\n{limits}memberlist:\n  join_members: [127.0.0.1:{}]\n  bind_addr: [127.0.0.1]\n  bind_port: {}\n  gossip_interval: 100ms\n\
                 ingester:\n  lifecycler:\n    id: node-{i}\n",
                ports[0], ports[i]
            ))
        })
        .collect();
    for n in &nodes {
        wait_for("three live members", Duration::from_secs(30), || {
            let v = json(n, "/memberlist");
            v["members"].as_array().is_some_and(|m| m.len() == 3 && m.iter().all(|x| x["live"] == true))
        });
    }
    // 0.003 MiB/s = 3145 bytes/s for the tenant; each of three distributors enforces a third of it
    let big = "x".repeat(4000);
    let body =
        serde_json::json!({"streams": [{"stream": {"app": "r"}, "values": [[common::now_ns().to_string(), big]]}]});
    // a refused push spends no budget, so asking again is free: a distributor that gossip briefly
    // thought dead (a stall on a loaded machine) makes the share a half for a moment, not for good
    let mut text = String::new();
    wait_for("the limit to be a third of the tenant's rate", Duration::from_secs(30), || {
        let r = client()
            .post(nodes[0].url("/loki/api/v1/push"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 429);
        text = r.text().unwrap();
        text.contains("(limit: 1048 bytes/sec)")
    });
    assert!(text.contains("Ingestion rate limit exceeded for user fake"), "{text}");
}

#[test]
fn a_graceful_leave_takes_the_node_out_of_the_ring_and_a_restart_brings_it_back() {
    let mut nodes = cluster(3);
    let ids = |n: &Skald| -> Vec<String> {
        let mut v: Vec<String> = json(n, "/ring")["shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let state_of = |n: &Skald, id: &str| -> String {
        json(n, "/ring")["shards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["state"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    // SIGTERM without a flush: the WAL keeps the data, so the ingester keeps its place (LEAVING) until it returns
    let st = nodes[1].terminate(Duration::from_secs(30));
    assert!(st.success(), "{st}");
    wait_for("node-1 LEAVING", Duration::from_secs(10), || state_of(&nodes[0], "node-1") == "LEAVING");
    assert_eq!(ids(&nodes[0]).len(), 3);
    nodes[1].start_again();
    wait_for("node-1 ACTIVE again", Duration::from_secs(30), || state_of(&nodes[0], "node-1") == "ACTIVE");

    // /ingester/shutdown flushes and leaves, and the ring forgets it: a node that only died stays
    // listed (unhealthy) until gossip's dead-node grace period, as the first test shows
    let r = client().post(nodes[2].url("/ingester/shutdown")).send().unwrap();
    assert_eq!(r.status().as_u16(), 204);
    wait_for("node-2 to exit", Duration::from_secs(60), || nodes[2].exited().is_some());
    wait_for("node-2 out of the ring on the others", Duration::from_secs(60), || {
        ids(&nodes[0]) == ["node-0", "node-1"] && ids(&nodes[1]) == ["node-0", "node-1"]
    });
    // writes still reach a quorum of the two left
    assert_eq!(push_streams(&nodes[0], 5, "two"), 204);
    nodes[2].start_again();
    for n in &nodes {
        wait_for("node-2 back and ACTIVE everywhere", Duration::from_secs(30), || {
            let r = json(n, "/ring");
            let s = r["shards"].as_array().unwrap();
            s.len() == 3 && s.iter().all(|x| x["state"] == "ACTIVE")
        });
    }
    let m = json(&nodes[0], "/memberlist");
    let node2: Vec<&Value> = m["members"].as_array().unwrap().iter().filter(|x| x["id"] == "node-2").collect();
    assert_eq!(node2.len(), 1, "one entry per node: the new generation replaces the old");
}

#[test]
fn autoforget_unhealthy_drops_a_dead_ingester_once_its_heartbeat_is_stale() {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes: Vec<Skald> = (0..3)
        .map(|i| {
            Skald::start(&format!(
                "memberlist:\n  join_members: [127.0.0.1:{}]\n  bind_addr: [127.0.0.1]\n  bind_port: {}\n  gossip_interval: 100ms\n\
                 ingester:\n  autoforget_unhealthy: true\n  lifecycler:\n    id: node-{i}\n    ring:\n      heartbeat_timeout: 3s\n",
                ports[0], ports[i]
            ))
        })
        .collect();
    let in_ring = |n: &Skald, id: &str| json(n, "/ring")["shards"].as_array().unwrap().iter().any(|s| s["id"] == id);
    for n in &nodes {
        wait_for("three ring members", Duration::from_secs(30), || (0..3).all(|i| in_ring(n, &format!("node-{i}"))));
    }
    nodes[2].kill();
    for n in &nodes[..2] {
        wait_for("the dead ingester forgotten", Duration::from_secs(60), || !in_ring(n, "node-2"));
    }
    let forgotten = common::metric(&nodes[0], "loki_ingester_autoforget_unhealthy_ingesters_total")
        + common::metric(&nodes[1], "loki_ingester_autoforget_unhealthy_ingesters_total");
    assert!(forgotten >= 1.0, "counted where it was done");
    nodes[2].start_again();
    wait_for("the restarted ingester back in the ring", Duration::from_secs(30), || in_ring(&nodes[0], "node-2"));
}
