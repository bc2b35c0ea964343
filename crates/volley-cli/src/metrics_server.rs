//! `--metrics-addr HOST:PORT`: `/metrics` in the Prometheus text format while a command runs.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use volley::MetricsHandle;

/// Binds `addr` and serves scrapes until the returned task is aborted.
///
/// # Errors
/// The address cannot be bound.
pub(crate) async fn serve(addr: &str, handle: MetricsHandle) -> Result<tokio::task::JoinHandle<()>, String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--metrics-addr {addr}: cannot listen: {e}"))?;
    Ok(tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                // The request head only; scrapes have no body.
                let mut head = Vec::with_capacity(512);
                let mut buf = [0u8; 512];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&head);
                let path = line.split_whitespace().nth(1).unwrap_or("");
                let (status, body) = if path == "/metrics" || path.starts_with("/metrics?") {
                    ("200 OK", volley::metrics::prometheus::render(&handle.snapshot()))
                } else {
                    ("404 Not Found", "only /metrics is served here\n".to_owned())
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(answer.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    }))
}

/// Stops the exporter when the command ends.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
