//! CPU time and resident memory of a process, read from /proc (Linux).

/// Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// utime + stime of `pid` in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after the command name, which is in parentheses and may hold spaces
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// Resident set size of `pid` in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The server's processes (`--pid 12,13,14`: every process of a cluster); CPU
/// and RSS are summed over them.
#[derive(Clone, Debug)]
pub struct Procs(pub Vec<u32>);

impl Procs {
    pub fn parse(s: &str) -> Result<Procs, String> {
        let pids = s
            .split(',')
            .map(|p| p.trim().parse::<u32>().map_err(|_| format!("invalid --pid {p:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Procs(pids))
    }

    /// Summed CPU-seconds; `None` when any process cannot be read.
    pub fn cpu_seconds(&self) -> Option<f64> {
        self.0.iter().map(|p| cpu_seconds(*p)).sum()
    }

    pub fn rss_bytes(&self) -> Option<u64> {
        self.0.iter().map(|p| rss_bytes(*p)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some());
        assert!(rss_bytes(me).unwrap() > 1 << 20);
        let two = Procs::parse(&format!("{me},{me}")).unwrap();
        assert_eq!(two.rss_bytes().map(|r| r > 2 << 20), Some(true));
        assert!(Procs::parse("1,x").is_err());
    }
}
