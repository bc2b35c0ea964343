//! What the CLI's test binaries share: running `volley`, sending it signals, reading its
//! output.

#![allow(dead_code)]

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// `volley ARGS...` with `stdin` as its input, to the end.
pub fn volley(args: &[&str], stdin: &[u8]) -> Output {
    volley_env(args, stdin, &[])
}

/// [`volley`] with these environment variables set (and `RUST_LOG` and `VOLLEY_LOG` unset
/// unless given).
pub fn volley_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = spawn_env(args, env);
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write input");
    child.wait_with_output().expect("volley output")
}

/// `volley produce --bootstrap-servers BOOTSTRAP --topic TOPIC EXTRA...` with `stdin`.
pub fn produce(bootstrap: &str, topic: &str, extra: &[&str], stdin: &[u8]) -> Output {
    let mut args = vec!["produce", "--bootstrap-servers", bootstrap, "--topic", topic];
    args.extend_from_slice(extra);
    volley(&args, stdin)
}

/// `volley ARGS...` started with piped standard streams (for tests that keep its input open).
pub fn spawn(args: &[&str]) -> Child {
    spawn_env(args, &[])
}

/// [`spawn`] with these environment variables set (and `RUST_LOG` and `VOLLEY_LOG` unset
/// unless given).
pub fn spawn_env<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_volley"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("VOLLEY_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("run volley")
}

/// Ctrl-C for `child` (SIGINT).
pub fn interrupt(child: &Child) {
    send_signal(child, "-INT");
}

/// `kill SIGNAL child`.
pub fn send_signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits at most `limit` for `child` to end (`why` names what the bound proves).
pub fn wait_within(child: Child, limit: Duration, why: &str) -> Output {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(limit).expect(why).expect("output")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
