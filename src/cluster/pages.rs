//! `/memberlist` and `/ring`: the cluster as this node sees it, as HTML for
//! people and as JSON with `Accept: application/json` (Loki's ring JSON shape:
//! `{"shards": [...], "now": ...}`).
//!
//! Mounted on every node; they read the `ClusterView` the membership keeps.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::keys;
use super::membership::{ClusterView, Member};
use super::ring::{tokens_for, Instance, InstanceState, Ring};
use crate::api::AppState;
use crate::model::time::now_ns;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/memberlist", web::get().to(memberlist))
        .route("/ring", web::get().to(ring))
        .route("/ring", web::post().to(forget))
        .route("/distributor/ring", web::get().to(distributor_ring));
}

fn wants_json(req: &HttpRequest) -> bool {
    req.headers().get("accept").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html(title: &str, body: String) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px}}</style>\
         </head><body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    ))
}

fn view(st: &AppState) -> ClusterView {
    st.cluster.read().map(|v| v.clone()).unwrap_or_default()
}

async fn memberlist(st: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = view(&st);
    if wants_json(&req) {
        return HttpResponse::Ok().json(&v);
    }
    let mut rows = String::new();
    for m in &v.members {
        let kv: Vec<String> = m.keys.iter().map(|(k, v)| format!("{}={}", esc(k), esc(v))).collect();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
            esc(&m.id),
            esc(&m.gossip_addr),
            if m.live { "alive" } else { "dead" },
            m.generation,
            m.heartbeat_age_ms,
            kv.join("<br>")
        ));
    }
    html(
        "Memberlist",
        format!(
            "<p>This node: {} (cluster label {:?}), {} members.</p><table><tr><th>id</th><th>gossip address</th>\
             <th>state</th><th>generation</th><th>last heartbeat</th><th>keys</th></tr>{rows}</table>",
            esc(&v.self_id),
            v.cluster_label,
            v.members.len()
        ),
    )
}

/// The ingester ring built from the members that announce tokens.
pub fn ring_of(v: &ClusterView, heartbeat_timeout_ms: i64) -> Ring {
    let now_ms = now_ns() / 1_000_000;
    let instances = v.members.iter().filter_map(|m| instance_of(m, now_ms)).collect();
    Ring::new(instances, heartbeat_timeout_ms)
}

fn instance_of(m: &Member, now_ms: i64) -> Option<Instance> {
    let n: usize = m.keys.get(keys::TOKENS)?.parse().ok()?;
    let state =
        m.keys.get(keys::INGESTER_STATE).and_then(|s| InstanceState::parse(s)).unwrap_or(InstanceState::Pending);
    Some(Instance {
        id: m.id.clone(),
        addr: m.keys.get(keys::GRPC).cloned().unwrap_or_default(),
        state,
        tokens: tokens_for(&m.id, n),
        heartbeat_ms: now_ms - m.heartbeat_age_ms as i64,
    })
}

async fn ring(st: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let timeout = st.config.ingester.lifecycler.ring.heartbeat_timeout.0.as_millis() as i64;
    let r = ring_of(&view(&st), timeout);
    let own = r.ownership();
    let now_ms = now_ns() / 1_000_000;
    let ts = |ms: i64| crate::model::time::rfc3339_secs(ms * 1_000_000);
    if wants_json(&req) {
        let shards: Vec<_> = r
            .instances()
            .iter()
            .zip(&own)
            .map(|(i, o)| {
                json!({
                    "id": i.id, "state": i.state.as_str(), "address": i.addr,
                    "timestamp": ts(i.heartbeat_ms), "zone": "", "tokens": i.tokens,
                    "ownership": o * 100.0, "healthy": r.healthy(i, super::ring::Op::Read, now_ms),
                })
            })
            .collect();
        return HttpResponse::Ok().json(json!({"shards": shards, "now": ts(now_ms)}));
    }
    let mut rows = String::new();
    for (i, o) in r.instances().iter().zip(&own) {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{}</td>\
             <td><button name=\"forget\" value=\"{}\" type=\"submit\">Forget</button></td></tr>",
            esc(&i.id),
            i.state.as_str(),
            esc(&i.addr),
            ts(i.heartbeat_ms),
            i.tokens.len(),
            o * 100.0,
            if r.healthy(i, super::ring::Op::Read, now_ms) { "healthy" } else { "unhealthy" },
            esc(&i.id)
        ));
    }
    html(
        "Ingester ring",
        format!(
            "<form action=\"\" method=\"POST\"><table><tr><th>instance</th><th>state</th><th>address</th>\
             <th>last heartbeat</th><th>tokens</th><th>ownership</th><th>health</th><th></th></tr>{rows}</table></form>"
        ),
    )
}

/// Loki's "Forget" (`POST /ring` with `forget=<id>`, in a urlencoded form body or
/// the query string): the member leaves every node's ring once gossip spreads the
/// word, unless it is alive (see `cluster::forget`). Answers 302 back to the page,
/// as Loki does, also for an id the ring does not hold (or none).
async fn forget(st: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let field = |pairs: Vec<(String, String)>| pairs.into_iter().find(|(k, _)| k == "forget").map(|(_, v)| v);
    let id = field(serde_urlencoded::from_bytes(&body).unwrap_or_default())
        .or_else(|| field(serde_urlencoded::from_str(req.query_string()).unwrap_or_default()))
        .unwrap_or_default();
    if let Some(m) = &st.membership {
        if let Err(e) = m.send(super::membership::Forget { id: id.clone(), generation: None }).await {
            return HttpResponse::InternalServerError().body(format!("error forgetting instance '{id}': {e}\n"));
        }
    }
    HttpResponse::Found().insert_header(("Location", "#")).finish()
}

/// The distributors of the cluster (they share `global` rate limits): every member
/// running a distributor, ACTIVE while alive and ready.
async fn distributor_ring(st: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = view(&st);
    let now_ms = now_ns() / 1_000_000;
    let ts = |ms: i64| crate::model::time::rfc3339_secs(ms * 1_000_000);
    let members: Vec<&Member> =
        v.members.iter().filter(|m| m.keys.get(keys::TARGETS).is_some_and(|t| keys::runs_distributor(t))).collect();
    let state = |m: &Member| match (m.live, m.keys.get(keys::READY).map(String::as_str)) {
        (true, Some("true")) => "ACTIVE",
        (true, _) => "JOINING",
        (false, _) => "UNHEALTHY",
    };
    if wants_json(&req) {
        let shards: Vec<_> = members
            .iter()
            .map(|m| {
                json!({
                    "id": m.id, "state": state(m), "address": m.keys.get(keys::HTTP).cloned().unwrap_or_default(),
                    "timestamp": ts(now_ms - m.heartbeat_age_ms as i64), "zone": "", "tokens": [],
                })
            })
            .collect();
        return HttpResponse::Ok().json(json!({"shards": shards, "now": ts(now_ms)}));
    }
    let mut rows = String::new();
    for m in &members {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.id),
            state(m),
            esc(m.keys.get(keys::HTTP).map(String::as_str).unwrap_or("")),
            ts(now_ms - m.heartbeat_age_ms as i64)
        ));
    }
    html(
        "Distributor ring",
        format!("<table><tr><th>instance</th><th>state</th><th>address</th><th>last heartbeat</th></tr>{rows}</table>"),
    )
}
