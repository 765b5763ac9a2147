//! Transparent huge pages off while the WAL replays. Owned by the replay driver.
//!
//! Replay builds hundreds of MB of chunks as fast as it can (from segments, or
//! restored from a checkpoint), and each fresh page it touches is a page fault.
//! With huge pages (which the allocator asks for) each of those faults zeroes
//! 2 MB and may first compact memory to find 2 MB of contiguous RAM; on a busy
//! host that stall cost up to a third of the replay's CPU (docs/benchmarks.md,
//! "WAL"). Plain 4 KB pages fault in small, steady steps. Once replay is over
//! the previous setting comes back, so queries keep huge pages for their large
//! scratch buffers.

use std::sync::Mutex;

/// While any guard is alive, the process takes no new transparent huge pages.
/// When the last one is dropped, the setting found by the first comes back
/// (guards are counted: the flag belongs to the whole process).
pub struct HugePagesOff(());

/// Live guards, and the setting to restore (None: leave it as it is).
static STATE: Mutex<(usize, Option<bool>)> = Mutex::new((0, None));

impl HugePagesOff {
    pub fn new() -> Self {
        let mut st = STATE.lock().unwrap_or_else(|e| e.into_inner());
        if st.0 == 0 {
            st.1 = match thp_disabled() {
                Some(false) if set_thp_disabled(true) => Some(false),
                _ => None,
            };
            tracing::debug!(changed = st.1.is_some(), "transparent huge pages off for the WAL replay");
        }
        st.0 += 1;
        HugePagesOff(())
    }
}

impl Drop for HugePagesOff {
    fn drop(&mut self) {
        let mut st = STATE.lock().unwrap_or_else(|e| e.into_inner());
        st.0 -= 1;
        if st.0 == 0 {
            if let Some(v) = st.1.take() {
                if !set_thp_disabled(v) {
                    tracing::warn!("could not turn transparent huge pages back on after the WAL replay");
                }
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn thp_disabled() -> Option<bool> {
    // SAFETY: PR_GET_THP_DISABLE takes no pointer arguments; it only reads a flag of
    // this process's memory map and returns it (or -1 on kernels without it).
    // The variadic arguments are passed as full-width longs: the kernel refuses
    // non-zero upper bits in the unused ones.
    let r = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, ZERO, ZERO, ZERO, ZERO) };
    (r >= 0).then_some(r != 0)
}

#[cfg(target_os = "linux")]
fn set_thp_disabled(off: bool) -> bool {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers; it sets a flag of this
    // process's memory map that later page faults consult. No memory is touched.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, libc::c_ulong::from(off), ZERO, ZERO, ZERO) == 0 }
}

#[cfg(target_os = "linux")]
const ZERO: libc::c_ulong = 0;

#[cfg(not(target_os = "linux"))]
fn thp_disabled() -> Option<bool> {
    None
}

#[cfg(not(target_os = "linux"))]
fn set_thp_disabled(_: bool) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn off_while_alive_then_restored() {
        // Only this test makes guards in the unit tests' process.
        let before = thp_disabled();
        {
            let _a = HugePagesOff::new();
            let _b = HugePagesOff::new();
            if before.is_some() {
                assert_eq!(thp_disabled(), Some(true));
            }
            drop(_a);
            if before.is_some() {
                assert_eq!(thp_disabled(), Some(true), "one guard is still alive");
            }
        }
        assert_eq!(thp_disabled(), before);
    }
}
