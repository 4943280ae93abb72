//! SIGINT (Ctrl-C), SIGTERM and SIGHUP as requests to stop: `mfcl run` and `mfcl resume`
//! stop between two steps, checkpoint there and exit 1, instead of dying with no checkpoint.
//! SIGTERM is what `kill`, `timeout` and schedulers (Slurm at a time limit) send; SIGHUP
//! what a closed terminal sends.

use std::sync::Once;
use std::sync::atomic::{AtomicI32, Ordering};

/// The first stop signal received, 0 for none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signals that stop a run.
const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Installs the handler of the stop signals, once per process. From then on they are only
/// recorded: whoever does long work asks [`received`] between two pieces of it. Called
/// first thing by the commands that write a run, so that no signal finds the default action
/// (death without a checkpoint) in place.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        for signal in STOP_SIGNALS {
            // SAFETY: the handler only stores into an atomic, which is async-signal-safe;
            // SA_RESTART keeps the signal from failing a read or write in progress (EINTR).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    });
}

extern "C" fn record(signal: libc::c_int) {
    let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
}

/// The first stop signal received since [`install`], in words: `Ctrl-C (SIGINT)`,
/// `SIGTERM`, `SIGHUP`.
pub fn received() -> Option<&'static str> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        libc::SIGINT => Some("Ctrl-C (SIGINT)"),
        libc::SIGTERM => Some("SIGTERM"),
        libc::SIGHUP => Some("SIGHUP"),
        _ => Some("a signal"),
    }
}
