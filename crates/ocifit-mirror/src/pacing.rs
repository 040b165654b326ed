//! Congestion control of connections from this node.
//!
//! BBR asks the kernel to pace what a socket sends: without the `fq` queue
//! discipline (loopback has none) TCP spaces its packets out with a timer
//! per socket. Pacing protects a network's bottleneck queues from bursts;
//! on loopback there is no network, only the timer and the wake-ups it
//! costs. With BBR as the system's default, a 1 GiB blob came through the
//! mirror at a steady ~2000 MiB/s against ~3400 MiB/s straight from a
//! registry on the same machine; unpaced, the mirror's hop is as fast as
//! the direct download at best, and its CPU per GiB fell by a quarter
//! (`docs/performance-notes.md`).
//!
//! So a connection from this host that would be paced switches to cubic
//! (reno where the kernel does not allow cubic to unprivileged programs;
//! every kernel allows reno). Connections from other hosts
//! (`--allow-remote`) cross a real network and keep the system's choice,
//! as do local connections whose congestion control does not pace.

use std::net::IpAddr;

/// Congestion controls that make the kernel pace a socket without `fq`
/// (Linux's `bbr`; out-of-tree versions are named `bbr2`, `bbr3`).
fn paces(congestion_control: &[u8]) -> bool {
    congestion_control.starts_with(b"bbr")
}

/// Whether a connection between `peer` and this end at `local`, now using
/// `congestion_control`, should be switched to one that does not pace: it
/// paces and never leaves this host (a loopback peer, or a peer at this
/// end's own address, which the kernel also routes through loopback).
pub fn should_unpace(peer: IpAddr, local: IpAddr, congestion_control: &[u8]) -> bool {
    let peer = canonical(peer);
    (peer.is_loopback() || peer == canonical(local)) && paces(congestion_control)
}

/// A v4 client of a dual-stack listener arrives as `::ffff:a.b.c.d`.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The congestion controls tried, in order, for an unpaced connection.
const UNPACED: [&str; 2] = ["cubic", "reno"];

/// Switch a client connection off pacing where [`should_unpace`] says so.
/// Returns the congestion control now in use when it was changed. Failing
/// to read or change it only costs speed, so errors are ignored.
pub fn unpace_loopback_client(stream: &tokio::net::TcpStream) -> Option<&'static str> {
    #[cfg(target_os = "linux")]
    {
        let (peer, local) = (stream.peer_addr().ok()?.ip(), stream.local_addr().ok()?.ip());
        let socket = socket2::SockRef::from(stream);
        let current = socket.tcp_congestion().ok()?;
        let current = current.split(|&b| b == 0).next().unwrap_or_default();
        if !should_unpace(peer, local, current) {
            return None;
        }
        UNPACED.into_iter().find(|name| socket.set_tcp_congestion(name.as_bytes()).is_ok())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s9_loopback_clients_are_not_paced() {
        // peer, this end, congestion control, switched
        let cases: [(&str, &str, &[u8], bool); 13] = [
            ("127.0.0.1", "127.0.0.1", b"bbr", true),
            ("127.3.4.5", "127.0.0.1", b"bbr", true),
            ("::1", "::1", b"bbr", true),
            ("::ffff:127.0.0.1", "::", b"bbr", true),
            ("127.0.0.1", "127.0.0.1", b"bbr3", true),
            // The node's own address at both ends: routed through loopback.
            ("10.0.0.7", "10.0.0.7", b"bbr", true),
            ("::ffff:10.0.0.7", "10.0.0.7", b"bbr", true),
            ("127.0.0.1", "127.0.0.1", b"cubic", false),
            ("127.0.0.1", "127.0.0.1", b"reno", false),
            ("127.0.0.1", "127.0.0.1", b"dctcp", false),
            ("10.0.0.8", "10.0.0.7", b"bbr", false),
            ("2001:db8::1", "2001:db8::2", b"bbr", false),
            ("::ffff:10.0.0.8", "::ffff:10.0.0.7", b"bbr", false),
        ];
        for (peer, local, congestion_control, expected) in cases {
            let (peer, local): (IpAddr, IpAddr) = (peer.parse().unwrap(), local.parse().unwrap());
            assert_eq!(
                should_unpace(peer, local, congestion_control),
                expected,
                "{peer} to {local} with {}",
                String::from_utf8_lossy(congestion_control)
            );
        }
    }

    /// The switch on real sockets: a loopback connection accepted with BBR
    /// ends up on cubic or reno; one accepted with reno is left alone.
    #[cfg(target_os = "linux")]
    #[test]
    fn s9_loopback_clients_are_not_paced_on_real_sockets() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
        runtime.block_on(async {
            let available = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
                .expect("reading /proc/sys/net/ipv4/tcp_available_congestion_control");
            let bbr_loaded = available.split_whitespace().any(|n| n == "bbr");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            for (start, changed) in [(&b"bbr"[..], true), (&b"reno"[..], false)] {
                let _client = tokio::net::TcpStream::connect(address).await.unwrap();
                let (accepted, _) = listener.accept().await.unwrap();
                let socket = socket2::SockRef::from(&accepted);
                if let Err(e) = socket.set_tcp_congestion(start) {
                    // Root may load the module; without it the kernel lacks BBR.
                    panic!(
                        "cannot give a test socket {}: {e} (available here: {}; bbr loaded: {bbr_loaded}); \
                         this test needs a kernel with tcp_bbr (modprobe tcp_bbr)",
                        String::from_utf8_lossy(start),
                        available.trim()
                    );
                }
                let result = unpace_loopback_client(&accepted);
                let now = socket.tcp_congestion().unwrap();
                let now = String::from_utf8_lossy(now.split(|&b| b == 0).next().unwrap()).into_owned();
                if changed {
                    assert!(matches!(result, Some("cubic" | "reno")), "{result:?}");
                    assert_eq!(Some(now.as_str()), result, "the socket's congestion control");
                } else {
                    assert_eq!(result, None);
                    assert_eq!(now, "reno");
                }
            }
        });
    }
}
