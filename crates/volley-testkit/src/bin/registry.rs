//! `volley-registry`: the Schema Registry test double (`volley_testkit::registry`) as a
//! program, for tests in other languages (the Python package's pytest suite). Starts it on a
//! free port of 127.0.0.1, prints its URL on stdout, and serves until Ctrl-C or SIGTERM.

use std::io::Write as _;

use volley_testkit::registry::RegistryDouble;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let registry = RegistryDouble::start().await;
    println!("{}", registry.url());
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
    drop(registry);
}
