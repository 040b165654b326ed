//! A token server for the bearer-auth registry: checks `alice`'s password
//! (basic auth on the token request) and answers with an ES256 JWT that
//! grants the requested repository scopes, every `scope` parameter (but
//! never `push` on `readonly/…`, and for a first scope on `onescope/…`
//! nothing more than that one, as servers that read one scope do). The key and its self-signed
//! certificate (the registry's `rootcertbundle`) come from `openssl`; the
//! JWT names the key by its libtrust key ID (`kid`), which is how
//! distribution 2.8 finds a trusted key.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use sha2::Digest as _;

use crate::fixture::{PASSWORD, USER, basic_header, read_head};

pub const SERVICE: &str = "ocifit-test-registry";
pub const ISSUER: &str = "ocifit-test-issuer";

pub struct TokenServer {
    port: u16,
    dir: PathBuf,
    signer: Arc<Signer>,
    /// Token requests served (any outcome).
    pub requests: Arc<AtomicUsize>,
}

#[derive(Clone)]
pub struct Signer {
    key: PathBuf,
    kid: String,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl TokenServer {
    /// Keys and certificate go to `dir` (the bearer registry's directory,
    /// removed with it).
    pub fn start(dir: &std::path::Path) -> TokenServer {
        crate::fixture::require("openssl");
        let dir = dir.to_path_buf();
        let key = dir.join("key.pem");
        let cert = dir.join("cert.pem");
        let spki = dir.join("pub.der");
        let p = |x: &PathBuf| x.display().to_string();
        openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", &p(&key)]);
        openssl(&[
            "req",
            "-new",
            "-x509",
            "-key",
            &p(&key),
            "-out",
            &p(&cert),
            "-days",
            "2",
            "-subj",
            "/CN=ocifit-token",
        ]);
        openssl(&["pkey", "-in", &p(&key), "-pubout", "-outform", "DER", "-out", &p(&spki)]);
        let kid = libtrust_key_id(&std::fs::read(&spki).unwrap());
        let signer = Arc::new(Signer { key, kid });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let (s, n) = (signer.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let Some((line, headers, _)) = read_head(&mut stream) else { continue };
                n.fetch_add(1, Ordering::SeqCst);
                let auth = headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.as_str());
                let scopes = query_params(&line, "scope");
                let mut wanted: Vec<(&str, &str)> = scopes
                    .iter()
                    .filter_map(|scope| scope.strip_prefix("repository:").and_then(|s| s.rsplit_once(':')))
                    .collect();
                // Like token servers that read one scope only: for `onescope/…`
                // the first is granted and the others ignored.
                if wanted.first().is_some_and(|(repo, _)| repo.starts_with("onescope/")) {
                    wanted.truncate(1);
                }
                let (status, body) = match auth {
                    Some(a) if a == basic_header(USER, PASSWORD) && !wanted.is_empty() => {
                        // What was asked for, except that `readonly/…` is never pushable.
                        let access: Vec<(&str, Vec<&str>)> = wanted
                            .iter()
                            .map(|(repo, actions)| {
                                let granted = actions
                                    .split(',')
                                    .filter(|a| *a == "pull" || !repo.starts_with("readonly/"))
                                    .collect();
                                (*repo, granted)
                            })
                            .collect();
                        (200, format!(r#"{{"token":"{}","expires_in":300}}"#, s.token_for(&access)))
                    }
                    Some(_) => (401, r#"{"details":"wrong password, or no repository scope"}"#.to_string()),
                    None => (401, r#"{"details":"anonymous access is not allowed"}"#.to_string()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TokenServer { port, dir, signer, requests }
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    pub fn signer(&self) -> Signer {
        (*self.signer).clone()
    }
}

impl Signer {
    /// A JWT granting `actions` on repository `repo`.
    pub fn token(&self, repo: &str, actions: &[&str]) -> String {
        self.token_for(&[(repo, actions.to_vec())])
    }

    /// A JWT granting, for each repository, its actions.
    pub fn token_for(&self, access: &[(&str, Vec<&str>)]) -> String {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": self.kid});
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": USER, "aud": SERVICE,
            "exp": now + 600, "nbf": now - 60, "iat": now - 60,
            "jti": format!("{now}-{}", access.first().map_or("", |(repo, _)| *repo)),
            "access": access.iter().map(|(repo, actions)| serde_json::json!({"type": "repository", "name": repo, "actions": actions})).collect::<Vec<_>>()
        });
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let der = child.wait_with_output().unwrap().stdout;
        format!("{input}.{}", b64(&der_to_raw(&der)))
    }
}

/// Every value of query parameter `name`, in order.
fn query_params(request_line: &str, name: &str) -> Vec<String> {
    let Some(query) = request_line.split(' ').nth(1).and_then(|t| t.split_once('?')).map(|(_, q)| q) else {
        return Vec::new();
    };
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) to JWS's 64-byte r||s.
fn der_to_raw(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30, "DER signature");
    let mut i = if der[1] & 0x80 != 0 { 2 + (der[1] & 0x7f) as usize } else { 2 };
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[i], 0x02);
        let len = der[i + 1] as usize;
        let mut int = &der[i + 2..i + 2 + len];
        while int.len() > 32 && int[0] == 0 {
            int = &int[1..];
        }
        out.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        out.extend_from_slice(int);
        i += 2 + len;
    }
    out
}

/// libtrust's key ID: SHA-256 of the DER public key, first 240 bits,
/// base32 in groups of four joined by ':'.
fn libtrust_key_id(spki_der: &[u8]) -> String {
    let hash = sha2::Sha256::digest(spki_der);
    let b32 = base32(&hash[..30]);
    b32.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(":")
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}
