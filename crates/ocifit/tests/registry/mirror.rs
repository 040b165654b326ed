//! `ocifit mirror` against real registries (distribution 2.8 on loopback)
//! and hand-made hostile upstreams (docs/semantics.md §9, docs/mirror.md):
//! rewrites with exact headers, pass-through byte for byte, stored
//! rewrites across restarts, `ns` routing, token auth, 502s, single-flight.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fixture::{self, INDEX, Registry, anonymous, sha256, temp_dir};

/// A running `ocifit mirror`, stopped with SIGTERM when dropped.
pub struct Mirror {
    child: Child,
    pub addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Mirror {
    /// Start with `args` (plus `--listen 127.0.0.1:0 --cache-dir CACHE`);
    /// waits for "listening on".
    pub fn start(args: &[&str], cache: &Path) -> Mirror {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ocifit"))
            .arg("mirror")
            .args(["--listen", "127.0.0.1:0", "--cache-dir"])
            .arg(cache)
            .args(args)
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ocifit mirror");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        let log = stderr.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                if let Some(addr) = line.trim().strip_prefix("listening on http://") {
                    let _ = tx.send(addr.to_string());
                }
                log.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("ocifit mirror did not start: {}", stderr.lock().unwrap());
            }
        };
        Mirror { child, addr, stderr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then wait (at most 15 s); the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// One HTTP answer: status, lowercased headers, body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

const ACCEPT: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// A request with every manifest media type as its own `Accept` header
/// (as podman sends them) and an optional `Authorization`.
pub fn request(method: &str, url: &str, auth: Option<&str>) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for a in ACCEPT {
        builder = builder.header("Accept", *a);
    }
    if let Some(a) = auth {
        builder = builder.header("Authorization", a);
    }
    let response = agent.run(builder.body(()).unwrap()).unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_ascii_lowercase(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut body = Vec::new();
    response.into_body().into_reader().read_to_end(&mut body).unwrap();
    Answer { status, headers, body }
}

fn get(url: &str) -> Answer {
    request("GET", url, None)
}

/// The headers a rewritten (or any) manifest answer must carry: the digest
/// and length of the bytes served.
fn assert_exact(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 200, "{what}: {}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.header("docker-content-digest"), Some(sha256(&answer.body).as_str()), "{what}");
    assert_eq!(answer.header("content-length"), Some(answer.body.len().to_string().as_str()), "{what}");
}

fn digests(doc: &Value) -> Vec<String> {
    doc["manifests"].as_array().unwrap().iter().map(|e| e["digest"].as_str().unwrap().to_string()).collect()
}

const V3: &[&str] = &["--platform", "linux/amd64/v3"];

fn upstream(r: &Registry) -> String {
    format!("http://{}", r.host())
}

#[test]
fn s9_tag_is_rewritten_for_the_target_with_exact_headers() {
    let r = anonymous();
    let (index, entries) = r.push_index("mirror/rewrite", "v1");
    let cache = temp_dir("mirror-cache");
    let up = upstream(r);
    let mut args = vec!["--upstream", up.as_str()];
    args.extend_from_slice(V3);
    let m = Mirror::start(&args, &cache);
    let tag = m.url("/v2/mirror/rewrite/manifests/v1");
    let answer = get(&tag);
    assert_exact(&answer, "GET tag");
    assert_eq!(answer.header("content-type"), Some(INDEX));
    let doc = answer.json();
    // filter: the amd64 fallback is gone, the selected entry and arm64 stay.
    assert_eq!(digests(&doc), [entries[1].clone(), entries[2].clone()]);
    assert_eq!(doc["annotations"]["dev.ocifit.mirror.source-index"], index.as_str());
    // A features-ignoring runtime now takes what ocifit selects on the source.
    let tmp = cache.join("rewritten.json");
    std::fs::write(&tmp, &answer.body).unwrap();
    let legacy = fixture::ocifit(
        &["select", tmp.to_str().unwrap(), "--platform", "linux/amd64/v3", "--legacy", "--format", "json"],
        &[],
        None,
    );
    let legacy: Value = serde_json::from_str(&legacy.stdout).unwrap();
    assert_eq!(legacy["selected"]["digest"], entries[1].as_str());
    // HEAD: the same headers, no body.
    let head = request("HEAD", &tag, None);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    for h in ["docker-content-digest", "content-length", "content-type"] {
        assert_eq!(head.header(h), answer.header(h), "{h}");
    }
    // The same bytes again (stored rewrite reused, upstream digest unchanged).
    assert_eq!(get(&tag).body, answer.body);
    // By its digest, the rewrite is served too.
    let rewritten = answer.header("docker-content-digest").unwrap().to_string();
    let by_digest = get(&m.url(&format!("/v2/mirror/rewrite/manifests/{rewritten}")));
    assert_exact(&by_digest, "GET rewritten digest");
    assert_eq!(by_digest.body, answer.body);
    // A pinned index digest is never rewritten: upstream's bytes, as they are.
    let pinned = get(&m.url(&format!("/v2/mirror/rewrite/manifests/{index}")));
    assert_exact(&pinned, "GET pinned index");
    assert_eq!(pinned.body, std::fs::read(r.blob_path(&index)).unwrap());
    // Entry manifests and blobs pass through.
    let entry = get(&m.url(&format!("/v2/mirror/rewrite/manifests/{}", entries[1])));
    assert_exact(&entry, "GET entry manifest");
    let manifest = entry.json();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let blob = get(&m.url(&format!("/v2/mirror/rewrite/blobs/{layer}")));
    assert_eq!(blob.status, 200);
    assert_eq!(sha256(&blob.body), layer);
    // One log line for the one rewrite, naming all of it.
    let log = m.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("rewrote")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    for needle in [r.host().as_str(), "mirror/rewrite:v1", &index, &entries[1], &rewritten, "#1"] {
        assert!(lines[0].contains(needle), "{needle} not in {}", lines[0]);
    }
    let _ = std::fs::remove_dir_all(cache);
}
