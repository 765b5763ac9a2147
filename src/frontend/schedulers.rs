//! `Schedulers`: the query-frontend's clients of its query-schedulers. The
//! configured `frontend.scheduler_address` may be a DNS name standing for
//! several schedulers (a Kubernetes headless service): it is resolved now and
//! every `frontend.scheduler_dns_lookup_period`, every address gets a lazily
//! connected client, and jobs go to them in turn.
//!
//! Built by the node's query-frontend module; used through `QueueHandle`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use super::FrontendError;
use crate::actors::querier::manager::membership_change;
use crate::actors::scheduler::MAX_MESSAGE_BYTES;
use crate::proto::frontend::queue_client::QueueClient;

type Client = QueueClient<Channel>;

pub struct Schedulers {
    target: String,
    clients: RwLock<Vec<(String, Client)>>,
    next: AtomicUsize,
}

fn client(addr: &str) -> Result<Client, FrontendError> {
    let ep = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| FrontendError::Address(addr.into(), e.to_string()))?
        .connect_timeout(Duration::from_secs(5));
    Ok(QueueClient::new(ep.connect_lazy())
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

impl Schedulers {
    /// Clients for `target` (`host:port`), resolved again every `period` on the
    /// current runtime. Until the first lookup answers, the name itself is used.
    pub fn start(target: &str, period: Duration) -> Result<Arc<Schedulers>, FrontendError> {
        let first = client(target)?;
        let s = Arc::new(Schedulers {
            target: target.to_string(),
            clients: RwLock::new(vec![(target.to_string(), first)]),
            next: AtomicUsize::new(0),
        });
        let weak = Arc::downgrade(&s);
        let period = period.max(Duration::from_millis(100));
        tokio::spawn(async move {
            loop {
                let Some(s) = weak.upgrade() else { return };
                s.refresh().await;
                drop(s);
                tokio::time::sleep(period).await;
            }
        });
        Ok(s)
    }

    async fn refresh(&self) {
        let resolved = match tokio::net::lookup_host(self.target.as_str()).await {
            Ok(it) => it.map(|a| a.to_string()).collect(),
            Err(e) => {
                tracing::warn!(scheduler = %self.target, error = %e, "cannot resolve the scheduler address");
                return;
            }
        };
        let mut clients = self.clients.write().unwrap_or_else(|e| e.into_inner());
        let current: Vec<String> = clients.iter().map(|(a, _)| a.clone()).collect();
        let (gone, new, _) = membership_change(current.iter(), &resolved, 1);
        if gone.is_empty() && new.is_empty() {
            return;
        }
        clients.retain(|(a, _)| !gone.contains(a));
        for a in new {
            match client(&a) {
                Ok(c) => clients.push((a, c)),
                Err(e) => tracing::warn!(scheduler = %a, error = %e, "bad scheduler address"),
            }
        }
        let addrs: Vec<&str> = clients.iter().map(|(a, _)| a.as_str()).collect();
        tracing::info!(scheduler = %self.target, addresses = ?addrs, "query-schedulers");
    }

    /// The scheduler addresses jobs go to now.
    pub fn addresses(&self) -> Vec<String> {
        self.clients.read().unwrap_or_else(|e| e.into_inner()).iter().map(|(a, _)| a.clone()).collect()
    }

    /// The next scheduler's client, in turn.
    pub fn pick(&self) -> Option<Client> {
        let clients = self.clients.read().unwrap_or_else(|e| e.into_inner());
        let n = clients.len();
        (n > 0).then(|| clients[self.next.fetch_add(1, Ordering::Relaxed) % n].1.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_is_replaced_by_the_addresses_it_resolves_to() {
        let s = Schedulers::start("localhost:1", Duration::from_secs(60)).unwrap();
        assert!(s.pick().is_some(), "the name serves until the first lookup");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while s.addresses() == ["localhost:1"] {
            assert!(std::time::Instant::now() < deadline, "lookup never answered");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let addrs = s.addresses();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ends_with(":1") && a != "localhost:1"), "{addrs:?}");
    }
}
