//! The signals that stop `volley produce` (issue 13): SIGINT, SIGTERM and SIGHUP. The first
//! stops reading and interrupts a `send` that waits (for metadata or buffer memory); what
//! was sent is flushed within `--close-timeout-ms`. A second one stops waiting at once: the
//! producer closes without waiting and every unresolved record is reported. The exit code
//! names the first signal, as shells do: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP).

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// How many stopping signals came, and the exit code of the first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Stopped {
    pub(super) count: u32,
    pub(super) exit_code: u8,
    pub(super) name: &'static str,
}

/// Starts listening; the receiver sees every stopping signal.
///
/// # Errors
/// A handler could not be installed.
pub(super) fn install() -> std::io::Result<watch::Receiver<Stopped>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (tx, rx) = watch::channel(Stopped::default());
    tokio::spawn(async move {
        loop {
            let (code, name) = tokio::select! {
                Some(()) = int.recv() => (130, "SIGINT"),
                Some(()) = term.recv() => (143, "SIGTERM"),
                Some(()) = hup.recv() => (129, "SIGHUP"),
                else => return,
            };
            let mut first = false;
            tx.send_modify(|s| {
                if s.count == 0 {
                    first = true;
                    s.exit_code = code;
                    s.name = name;
                }
                s.count += 1;
            });
            if first {
                super::progress::eprint(format_args!(
                    "{name}: no more input is read; flushing what was sent (again to stop waiting)"
                ));
            } else {
                super::progress::eprint(format_args!(
                    "{name} again: not waiting for outstanding records; they are reported as failed"
                ));
            }
        }
    });
    Ok(rx)
}

/// Waits until `at_least` stopping signals came.
pub(super) async fn wait(rx: &mut watch::Receiver<Stopped>, at_least: u32) {
    let _ = rx.wait_for(|s| s.count >= at_least).await;
}
