//! Test harness: starts the real `skald` binary on 127.0.0.1 with a config and
//! free ports, waits for /ready with a deadline, and kills it on drop.
#![allow(dead_code)]

pub mod fe;
pub mod lines;
mod servers;

#[allow(unused_imports)]
pub use servers::{MemcachedServer, S3Server, S3_KEY, S3_SECRET};

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A port free for TCP and for UDP (gossip binds UDP on ports handed out here),
/// never handed out twice by this test process: tests run in parallel, and a
/// port whose TCP side is free may already carry another test's gossip.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("free port");
        let port = tcp.local_addr().expect("local address").port();
        let udp_free = std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if udp_free && !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Waits until `child` accepts TCP connections on the loopback `port`.
/// A connection whose local address equals its peer is the kernel's TCP
/// self-connect (the probe picked `port` as its own source port while nothing
/// listened yet), not the server: it is dropped and the wait goes on. A child
/// that exits (say the port was taken) fails at once with its status.
pub fn await_listener(name: &str, child: &mut Child, port: u16, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name} exited before listening on {port}: {status}");
        }
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            if s.local_addr().ok() != s.peer_addr().ok() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{name} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "skald-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Skald {
    child: Option<Child>,
    pub http_port: u16,
    pub grpc_port: u16,
    pub dir: TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

pub const BIN: &str = env!("CARGO_BIN_EXE_skald");

impl Skald {
    /// Starts skald with `yaml` as its config (ports and data dir filled in).
    pub fn start(yaml: &str) -> Skald {
        Self::start_with(yaml, &[], &[])
    }

    pub fn start_with(yaml: &str, args: &[&str], env: &[(&str, &str)]) -> Skald {
        let mut s = Self::prepare(yaml, args, env);
        s.spawn();
        s
    }

    /// Starts skald without waiting for `/ready` (a process not ready by design).
    pub fn start_unready(yaml: &str, args: &[&str]) -> Skald {
        let mut s = Self::prepare(yaml, args, &[]);
        s.spawn_only();
        s
    }

    fn prepare(yaml: &str, args: &[&str], env: &[(&str, &str)]) -> Skald {
        let dir = TempDir::new("node");
        let (http_port, grpc_port) = (free_port(), free_port());
        let cfg_path = dir.0.join("config.yaml");
        std::fs::write(&cfg_path, yaml).expect("write config");
        let mut all = vec![
            format!("-config.file={}", cfg_path.display()),
            format!("-server.http-listen-port={http_port}"),
            format!("-server.grpc-listen-port={grpc_port}"),
            "-server.http-listen-address=127.0.0.1".to_string(),
            format!("-common.path-prefix={}", dir.0.join("data").display()),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Skald { child: None, http_port, grpc_port, dir, args: all, env }
    }

    fn spawn(&mut self) {
        self.spawn_only();
        self.wait_ready(Duration::from_secs(30));
    }

    fn spawn_only(&mut self) {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.0.join("skald.log")).expect("log");
        let child = Command::new(BIN)
            .args(&self.args)
            .stdin(Stdio::null())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start skald");
        self.child = Some(child);
    }

    /// Stops the process with SIGTERM and starts it again on the same ports and data.
    pub fn restart(&mut self) {
        let st = self.terminate(Duration::from_secs(30));
        assert!(st.success(), "clean exit before restart: {st}");
        self.spawn();
    }

    /// SIGKILL (a crash): no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the process again on the same ports and data (after `kill`).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }

    /// The process's exit status if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let st = self.child.as_mut()?.try_wait().ok().flatten();
        if st.is_some() {
            self.child = None;
        }
        st
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let client = client();
        loop {
            if let Ok(r) = client.get(self.url("/ready")).timeout(Duration::from_secs(1)).send() {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(st) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("skald exited during start ({st}): {}", self.stderr());
            }
            assert!(Instant::now() < deadline, "skald not ready in {timeout:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The running process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// A field of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`: peak RSS).
    pub fn proc_status_bytes(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        let line = status.lines().find(|l| l.starts_with(&format!("{field}:"))).expect("status field");
        let kb: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("kB value");
        kb * 1024
    }

    /// What the process logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("skald.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status (with a deadline).
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                self.child = None;
                return st;
            }
            assert!(Instant::now() < deadline, "skald did not exit within {timeout:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Skald {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `ok` until it holds; fails the test after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

/// Pushes `{"streams": streams}` as JSON for `tenant`; the status and body text.
pub fn push_streams(s: &Skald, tenant: &str, streams: serde_json::Value) -> (u16, String) {
    let r = client()
        .post(s.url("/loki/api/v1/push"))
        .header("X-Scope-OrgID", tenant)
        .header("Content-Type", "application/json")
        .body(serde_json::json!({ "streams": streams }).to_string())
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// A GET for `tenant`: the status and the body as JSON (a string when it is not JSON).
pub fn get_value(s: &Skald, tenant: &str, path: &str, params: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let r = client().get(s.url(path)).header("X-Scope-OrgID", tenant).query(params).send().unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

/// One label's value in every series of a query answer (`data.result[].metric`), sorted.
pub fn result_label_values(v: &serde_json::Value, label: &str) -> Vec<String> {
    let mut out: Vec<String> = v["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no result in {v}"))
        .iter()
        .map(|r| r["metric"][label].as_str().unwrap_or_else(|| panic!("no {label} in {r}")).to_string())
        .collect();
    out.sort();
    out
}

pub fn client() -> reqwest::blocking::Client {
    skald::tls::ensure_crypto_provider();
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// The value of the first `/metrics` line starting with `prefix` (0 when absent).
pub fn metric(s: &Skald, prefix: &str) -> f64 {
    let m = client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    m.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Path of the shared read-only folder (conformance cases, reference configs).
pub fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("shared")
}
