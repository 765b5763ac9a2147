//! Real helper servers for the tests: s3s-fs (an S3 server) and Debian's
//! memcached, each on a free loopback port and killed on drop.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{await_listener, free_port, TempDir};

/// A real S3 server (s3s-fs) on a free loopback port, with one bucket; killed on drop.
pub struct S3Server {
    child: Child,
    pub port: u16,
    pub bucket: String,
    pub dir: TempDir,
}

pub const S3_KEY: &str = "skaldtest";
pub const S3_SECRET: &str = "skaldtestsecret";

impl S3Server {
    pub fn start(bucket: &str) -> S3Server {
        let dir = TempDir::new("s3");
        std::fs::create_dir_all(dir.0.join(bucket)).expect("bucket dir");
        let port = free_port();
        let child = Self::spawn(&dir, port);
        S3Server { child, port, bucket: bucket.to_string(), dir }
    }

    /// Kills the server (an outage); `resume` brings it back on the same port and data.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn resume(&mut self) {
        self.child = Self::spawn(&self.dir, self.port);
    }

    fn spawn(dir: &TempDir, port: u16) -> Child {
        let mut child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", S3_KEY, "--secret-key", S3_SECRET])
            .arg(&dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs must be installed (.ci/run installs it: cargo install s3s-fs --version 0.14.1 --features binary --locked)");
        await_listener("s3s-fs", &mut child, port, Duration::from_secs(20));
        child
    }

    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real memcached (Debian package) on a free loopback port; killed on drop.
/// Its stderr goes to a log file so that a failure can show what it said.
pub struct MemcachedServer {
    child: Child,
    pub port: u16,
    log: TempDir,
}

impl MemcachedServer {
    /// Starts memcached and proves that the server answering on the port is this
    /// child (its `stats` pid), not some other listener that took the port first;
    /// on a foreign answer it tries again on a new port.
    pub fn start() -> MemcachedServer {
        for _ in 0..5 {
            let log = TempDir::new("memcached");
            let port = free_port();
            let err = std::fs::File::create(log.0.join("stderr")).expect("memcached log");
            let mut child = Command::new("memcached")
                .args(["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0", "-m", "64", "-u", "root"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .expect("memcached must be installed (.ci/run installs the Debian package)");
            await_listener("memcached", &mut child, port, Duration::from_secs(10));
            let m = MemcachedServer { child, port, log };
            match m.try_stat("pid") {
                Ok(Some(pid)) if pid == u64::from(m.child.id()) => return m,
                answer => eprintln!("port {port} answered {answer:?}, not memcached pid {}: retrying", m.child.id()),
            }
        }
        panic!("memcached did not start on a port of its own in 5 tries");
    }

    /// One counter from memcached's `stats`; a server that cannot be reached
    /// fails the test with its exit status and what it logged.
    pub fn stat(&self, name: &str) -> u64 {
        match self.try_stat(name) {
            Ok(v) => v.unwrap_or(0),
            Err(e) => {
                let proc = format!("/proc/{}/status", self.child.id());
                let state = std::fs::read_to_string(proc).ok();
                let status = state.as_deref().and_then(|s| s.lines().find(|l| l.starts_with("State:")));
                let said = std::fs::read_to_string(self.log.0.join("stderr")).unwrap_or_default();
                panic!("memcached on {} unreachable ({e}); process: {status:?}; stderr: {said}", self.port)
            }
        }
    }

    fn try_stat(&self, name: &str) -> std::io::Result<Option<u64>> {
        use std::io::{BufRead, BufReader, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(b"stats\r\n")?;
        let mut r = BufReader::new(s);
        let mut line = String::new();
        while r.read_line(&mut line)? > 0 && !line.starts_with("END") {
            if let Some(v) = line.strip_prefix(&format!("STAT {name} ")) {
                return Ok(v.trim().parse().ok());
            }
            line.clear();
        }
        Ok(None)
    }
}

impl Drop for MemcachedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
