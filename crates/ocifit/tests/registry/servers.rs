//! Tiny loopback HTTP servers for failure modes a healthy registry does
//! not produce: a front that answers some requests itself (503, 401, a
//! redirect) and forwards the rest to a real registry, recording every
//! request head; and a listener that accepts connections and never answers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fixture::{Headers, read_head};

/// What the front does with one request.
pub enum Action {
    Forward,
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Write these bytes as the whole answer, then close.
    Raw(Vec<u8>),
    /// Write `head` at once, then `body` one byte per `every` (a server
    /// that keeps each read under any per-read timeout, forever).
    Trickle {
        head: Vec<u8>,
        body: Vec<u8>,
        every: Duration,
    },
}

pub type Rule = Box<dyn Fn(&str, &[(String, String)]) -> Action + Send + Sync>;

pub struct Front {
    pub port: u16,
    /// (request line, lowercased headers) of every request, in order.
    pub seen: Arc<Mutex<Vec<(String, Headers)>>>,
}

impl Front {
    /// Serve on a fresh port of `ip` (a loopback address) until the test
    /// binary exits (or 60 s).
    pub fn start(ip: &str, upstream: u16, rule: Rule) -> Front {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let started = Instant::now();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if started.elapsed() > Duration::from_secs(60) {
                    break;
                }
                let Ok(mut client) = stream else { continue };
                let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
                // A TLS handshake on this plain-HTTP port: answer 400 at
                // once, as Go's and nginx's HTTP servers do.
                let mut first = [0u8; 1];
                if client.peek(&mut first).is_ok_and(|n| n == 1) && first[0] == 0x16 {
                    let _ = client.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
                    continue;
                }
                let Some((line, headers, raw)) = read_head(&mut client) else { continue };
                // Read a request body (a token POST) before answering:
                // closing with unread bytes would reset the connection.
                let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok());
                let mut body = vec![0u8; length.unwrap_or(0).min(1 << 20)];
                let _ = client.read_exact(&mut body);
                log.lock().unwrap().push((line.clone(), headers.clone()));
                match rule(&line, &headers) {
                    Action::Respond { status, headers, body } => {
                        let mut head =
                            format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
                        for (n, v) in headers {
                            head.push_str(&format!("{n}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        let _ = client.write_all(head.as_bytes());
                        let _ = client.write_all(&body);
                    }
                    Action::Raw(bytes) => {
                        let _ = client.write_all(&bytes);
                    }
                    Action::Trickle { head, body, every } => {
                        // Its own thread: the front keeps serving meanwhile.
                        std::thread::spawn(move || {
                            let _ = client.write_all(&head);
                            for b in body {
                                std::thread::sleep(every);
                                if client.write_all(&[b]).is_err() {
                                    break;
                                }
                            }
                        });
                    }
                    Action::Forward => forward(&mut client, &raw, &body, upstream),
                }
            }
        });
        Front { port, seen }
    }

    pub fn requests(&self) -> Vec<(String, Headers)> {
        self.seen.lock().unwrap().clone()
    }
}

/// Send one request (head and body) upstream with `Connection: close` and
/// copy the answer back.
fn forward(client: &mut TcpStream, raw_head: &[u8], body: &[u8], upstream: u16) {
    let text = String::from_utf8_lossy(raw_head);
    let mut head: String = text
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    head.push_str("Connection: close\r\n\r\n");
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
    let _ = up.set_read_timeout(Some(Duration::from_secs(10)));
    if up.write_all(head.as_bytes()).is_err() || up.write_all(body).is_err() {
        return;
    }
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    let _ = client.write_all(&answer);
}

/// Accepts connections and never answers, for `seconds`.
pub fn silent_listener(seconds: u64) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let _ = listener.set_nonblocking(true);
        let start = Instant::now();
        let mut held = Vec::new();
        while start.elapsed() < Duration::from_secs(seconds) {
            if let Ok((s, _)) = listener.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    port
}

/// A TLS server (certificate and key in PEM files) that answers `GET /v2/`
/// with 200 and every other request with a 307 to `location`; for `seconds`.
pub fn tls_redirector(cert: &std::path::Path, key: &std::path::Path, location: String, seconds: u64) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert).unwrap().collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let started = Instant::now();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if started.elapsed() > Duration::from_secs(seconds) {
                break;
            }
            let Ok(tcp) = stream else { continue };
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else { continue };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
                match tls.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let answer = if head.starts_with(b"GET /v2/ ") {
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_string()
            } else {
                format!("HTTP/1.1 307 X\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            };
            let _ = tls.write_all(answer.as_bytes());
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    port
}
