//! Opening a broker's TCP socket the way the config says: `send.buffer.bytes`,
//! `receive.buffer.bytes`, `socket.keepalive.enable`, `socket.nagle.disable`, every address
//! a name resolves to tried in order (`client.dns.lookup=use_all_dns_ips`), and the canonical
//! names of `resolve_canonical_bootstrap_servers_only`.

use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

use crate::config::{ClientDnsLookup, ProducerConfig};

/// The socket options of every broker connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketOptions {
    /// `SO_SNDBUF`; `None`: the OS default.
    pub(crate) send_buffer: Option<usize>,
    /// `SO_RCVBUF`; `None`: the OS default.
    pub(crate) receive_buffer: Option<usize>,
    /// `SO_KEEPALIVE`.
    pub(crate) keepalive: bool,
    /// `TCP_NODELAY`.
    pub(crate) nodelay: bool,
}

impl SocketOptions {
    /// The options `config` asks for.
    pub(crate) fn of(config: &ProducerConfig) -> Self {
        Self {
            send_buffer: config.send_buffer_bytes,
            receive_buffer: config.receive_buffer_bytes,
            keepalive: config.socket_keepalive,
            nodelay: config.tcp_nodelay,
        }
    }
}

impl Default for SocketOptions {
    /// Java's: 128 KiB to send, 32 KiB to receive, no keepalive, Nagle off.
    fn default() -> Self {
        Self {
            send_buffer: Some(131_072),
            receive_buffer: Some(32_768),
            keepalive: false,
            nodelay: true,
        }
    }
}

/// Opens one socket to `addr` with `opts` set before the connect (buffer sizes must be set
/// before the handshake to size the TCP window).
async fn dial_one(addr: SocketAddr, opts: SocketOptions) -> std::io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(n) = opts.send_buffer {
        socket.set_send_buffer_size(u32::try_from(n).unwrap_or(u32::MAX))?;
    }
    if let Some(n) = opts.receive_buffer {
        socket.set_recv_buffer_size(u32::try_from(n).unwrap_or(u32::MAX))?;
    }
    socket.set_keepalive(opts.keepalive)?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(opts.nodelay)?;
    Ok(stream)
}

/// Connects to `host:port`: every address the name resolves to, in order, until one answers
/// (the error of the last one otherwise). The order starts `attempt` addresses further on
/// each new attempt (Java's `ClusterConnectionStates` moves to the next address after a
/// failed connect), so an address that hangs until the setup timeout does not hide the
/// others behind it for ever.
pub(crate) async fn dial(addr: &str, opts: SocketOptions, attempt: u32) -> std::io::Result<TcpStream> {
    let addrs = rotated(tokio::net::lookup_host(addr).await?.collect(), attempt);
    dial_addrs(&addrs, opts, addr).await
}

/// `addrs` starting at `attempt` modulo their number.
fn rotated(mut addrs: Vec<SocketAddr>, attempt: u32) -> Vec<SocketAddr> {
    if !addrs.is_empty() {
        let n = addrs.len();
        addrs.rotate_left(usize::try_from(attempt).unwrap_or(0) % n);
    }
    addrs
}

/// Tries `addrs` in order; `name` is what they were resolved from (for the error).
async fn dial_addrs(addrs: &[SocketAddr], opts: SocketOptions, name: &str) -> std::io::Result<TcpStream> {
    let mut last = None;
    for a in addrs {
        match dial_one(*a, opts).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, format!("'{name}' resolves to no address"))
    }))
}

/// The host and port of `host:port` or `[v6]:port`.
fn split_host_port(addr: &str) -> Option<(&str, &str)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Some((host, port))
}

/// The bootstrap addresses to dial. With `resolve_canonical_bootstrap_servers_only`, each
/// name is resolved and every address replaced by its canonical host name (a reverse
/// lookup; an address without one stays as it is), as the Java client does for Kerberos and
/// TLS names behind an alias; duplicates are dropped, order kept. A name that does not
/// resolve stays, so that dialling it reports the error.
pub(crate) async fn bootstrap_addresses(servers: &[String], how: ClientDnsLookup) -> Vec<String> {
    if how == ClientDnsLookup::UseAllDnsIps {
        return servers.to_vec();
    }
    let mut out: Vec<String> = Vec::new();
    for s in servers {
        let Some((host, port)) = split_host_port(s) else {
            out.push(s.clone());
            continue;
        };
        let ips: Vec<IpAddr> = match tokio::net::lookup_host(s.as_str()).await {
            Ok(addrs) => addrs.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        };
        if ips.is_empty() {
            out.push(s.clone());
            continue;
        }
        for ip in ips {
            let name = tokio::task::spawn_blocking(move || canonical_name(ip))
                .await
                .unwrap_or_else(|_| ip.to_string());
            let name = if name.contains(':') { format!("[{name}]") } else { name };
            let addr = format!("{name}:{port}");
            tracing::debug!(bootstrap = %s, %host, canonical = %addr, "canonical bootstrap address");
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
    }
    out
}

/// The host name of `ip` (reverse lookup), or its text if it has none.
fn canonical_name(ip: IpAddr) -> String {
    dns_lookup::lookup_addr(&ip).unwrap_or_else(|_| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `send.buffer.bytes`, `receive.buffer.bytes`, `socket.keepalive.enable` and
    /// `socket.nagle.disable` reach the socket (Linux doubles the buffer sizes asked for).
    #[tokio::test]
    async fn socket_options_reach_the_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let accept = tokio::spawn(async move { listener.accept().await });
        let opts = SocketOptions {
            send_buffer: Some(300_000),
            receive_buffer: Some(70_000),
            keepalive: true,
            nodelay: false,
        };
        let s = dial(&addr, opts, 0).await.expect("dial");
        let sock = socket2::SockRef::from(&s);
        assert!(sock.send_buffer_size().expect("sndbuf") >= 300_000);
        assert!(sock.recv_buffer_size().expect("rcvbuf") >= 70_000);
        assert!(sock.keepalive().expect("keepalive"));
        assert!(!s.nodelay().expect("nodelay"));
        drop(accept.await);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let accept = tokio::spawn(async move { listener.accept().await });
        let opts = SocketOptions {
            send_buffer: Some(4_096),
            receive_buffer: None,
            keepalive: false,
            nodelay: true,
        };
        let s = dial(&addr, opts, 0).await.expect("dial");
        let sock = socket2::SockRef::from(&s);
        assert!(sock.send_buffer_size().expect("sndbuf") < 300_000);
        assert!(!sock.keepalive().expect("keepalive"));
        assert!(s.nodelay().expect("nodelay"));
        drop(accept.await);
    }

    /// Every address of a name is tried in order until one answers, and each new attempt
    /// starts one address further on (a first address that hangs cannot hide the rest).
    #[tokio::test]
    async fn every_address_is_tried_starting_further_on_each_attempt() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let open = listener.local_addr().expect("addr");
        let accept = tokio::spawn(async move {
            for _ in 0..2 {
                let _ = listener.accept().await;
            }
        });
        // A port nothing listens on: bound, then closed.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr");
        let addrs = vec![closed, open];
        dial_addrs(&addrs, SocketOptions::default(), "test")
            .await
            .expect("the second address answers");
        assert_eq!(rotated(addrs.clone(), 0), vec![closed, open]);
        assert_eq!(rotated(addrs.clone(), 1), vec![open, closed]);
        assert_eq!(rotated(addrs.clone(), 2), vec![closed, open]);
        assert!(rotated(Vec::new(), 3).is_empty());
        dial(&format!("localhost:{}", open.port()), SocketOptions::default(), 1)
            .await
            .expect("dial localhost");
        drop(accept.await);
        let e = dial_addrs(&[closed], SocketOptions::default(), "test")
            .await
            .expect_err("nothing listens");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    /// `resolve_canonical_bootstrap_servers_only` replaces an address by its canonical name
    /// (127.0.0.1 is "localhost" in every hosts file); `use_all_dns_ips` keeps the list.
    #[tokio::test]
    async fn canonical_bootstrap_names() {
        let servers = vec!["127.0.0.1:9092".to_owned(), "no-such-host.invalid:9092".to_owned()];
        let kept = bootstrap_addresses(&servers, ClientDnsLookup::UseAllDnsIps).await;
        assert_eq!(kept, servers);
        let canon = bootstrap_addresses(&servers, ClientDnsLookup::ResolveCanonicalBootstrapServersOnly).await;
        assert_eq!(
            canon,
            vec!["localhost:9092".to_owned(), "no-such-host.invalid:9092".to_owned()]
        );
    }
}
