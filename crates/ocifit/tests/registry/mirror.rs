//! `ocifit mirror` against real registries (distribution 2.8 on loopback)
//! and hand-made hostile upstreams (docs/semantics.md §9, docs/mirror.md):
//! rewrites with exact headers, pass-through byte for byte, stored
//! rewrites across restarts, `ns` routing, token auth, 502s, single-flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fixture::{self, INDEX, Registry, anonymous, bearer, sha256, temp_dir};
use crate::servers::{Action, Front};

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
        let mut all = vec!["mirror".to_string(), "--listen".into(), "127.0.0.1:0".into(), "--cache-dir".into()];
        all.push(cache.display().to_string());
        all.extend(args.iter().map(|a| a.to_string()));
        Mirror::spawn(&all)
    }

    /// Start `ocifit ARGS` (which must run a mirror); waits for "listening on".
    pub fn spawn(args: &[String]) -> Mirror {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ocifit"));
        command.args(args);
        Mirror::spawn_command(command)
    }

    /// Start `command` (which must run a mirror); waits for "listening on".
    pub fn spawn_command(mut command: Command) -> Mirror {
        let mut child = command
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

    /// The mirror's peak resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("mirror's /proc status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/PID/status");
        line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmHWM in KiB")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The log once it holds `needle` (stderr is read by another thread:
    /// a line written before an answer may arrive after it); at most 10 s.
    pub fn log_with(&self, needle: &str) -> String {
        let start = Instant::now();
        while !self.log().contains(needle) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.log()
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
    // HEAD passes through too: upstream's length, no body.
    let head_blob = request("HEAD", &m.url(&format!("/v2/mirror/rewrite/blobs/{layer}")), None);
    assert_eq!(
        (head_blob.status, head_blob.header("content-length")),
        (200, Some(blob.body.len().to_string().as_str()))
    );
    assert!(head_blob.body.is_empty());
    let head_pinned = request("HEAD", &m.url(&format!("/v2/mirror/rewrite/manifests/{index}")), None);
    assert_eq!(head_pinned.header("docker-content-digest"), Some(index.as_str()));
    // One log line for the one rewrite, naming all of it.
    let log = m.log_with("rewrote");
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("rewrote")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    for needle in [r.host().as_str(), "mirror/rewrite:v1", &index, &entries[1], &rewritten, "#1"] {
        assert!(lines[0].contains(needle), "{needle} not in {}", lines[0]);
    }
    let _ = std::fs::remove_dir_all(cache);
}

fn start_v3(r: &Registry, extra: &[&str], cache: &Path) -> Mirror {
    let up = upstream(r);
    let mut args = vec!["--upstream", up.as_str()];
    args.extend_from_slice(V3);
    args.extend_from_slice(extra);
    Mirror::start(&args, cache)
}

#[test]
fn s9_stored_rewrite_is_served_by_digest_after_a_restart() {
    let r = anonymous();
    let (index, _) = r.push_index("mirror/restart", "v1");
    let cache = temp_dir("mirror-restart");
    let mut m = start_v3(r, &[], &cache);
    let first = get(&m.url("/v2/mirror/restart/manifests/v1"));
    assert_exact(&first, "GET tag");
    let rewritten = first.header("docker-content-digest").unwrap().to_string();
    assert_ne!(rewritten, index);
    assert_eq!(m.stop(), Some(0), "SIGTERM is a clean stop: {}", m.log());
    let m = start_v3(r, &[], &cache);
    // First request after the restart: by digest, as a runtime resolving
    // the tag before the restart would send it.
    let again = get(&m.url(&format!("/v2/mirror/restart/manifests/{rewritten}")));
    assert_exact(&again, "GET rewritten digest after restart");
    assert_eq!(again.body, first.body);
    let head = request("HEAD", &m.url(&format!("/v2/mirror/restart/manifests/{rewritten}")), None);
    assert_eq!((head.status, head.header("content-length")), (200, first.header("content-length")));
    assert!(head.body.is_empty());
    // Another repository does not see it (keyed by upstream + repository).
    let other = get(&m.url(&format!("/v2/mirror/other/manifests/{rewritten}")));
    assert_eq!(other.status, 404, "{}", String::from_utf8_lossy(&other.body));
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_unreachable_upstream_is_502_and_healthz_still_answers() {
    let cache = temp_dir("mirror-down");
    let dead = format!("http://127.0.0.1:{}", fixture::free_port());
    let mut args = vec!["--upstream", dead.as_str()];
    args.extend_from_slice(V3);
    let m = Mirror::start(&args, &cache);
    for path in ["/v2/", "/v2/app/manifests/v1", "/v2/app/blobs/sha256:00", "/v2/app/tags/list"] {
        let answer = get(&m.url(path));
        assert_eq!(answer.status, 502, "{path}");
        assert_eq!(answer.json()["errors"][0]["code"], "UNAVAILABLE", "{path}");
    }
    assert_eq!(request("HEAD", &m.url("/v2/app/manifests/v1"), None).status, 502);
    assert_eq!(get(&m.url("/healthz")).status, 200);
    let metrics = String::from_utf8(get(&m.url("/metrics")).body).unwrap();
    let errors = metrics.lines().find_map(|l| l.strip_prefix("ocifit_mirror_upstream_errors_total ")).unwrap();
    assert_eq!(errors, "5", "{metrics}");
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_ns_routes_each_request_to_its_registry_and_is_not_forwarded() {
    let one = anonymous();
    let two = Registry::start("mirror-ns-two", None);
    let (index_one, entries_one) = one.push_index("mirror/ns", "v1");
    // A Docker list there: different bytes under the same name.
    let (index_two, entries_two) = two.push_index_with("mirror/ns", "v1", true, None);
    assert_ne!(index_one, index_two);
    let cache = temp_dir("mirror-ns");
    let m = Mirror::start(V3, &cache);
    for (r, index, entries) in [(one, &index_one, &entries_one), (&two, &index_two, &entries_two)] {
        let answer = get(&m.url(&format!("/v2/mirror/ns/manifests/v1?ns={}", r.host())));
        assert_exact(&answer, "GET tag by ns");
        let doc = answer.json();
        assert_eq!(doc["annotations"]["dev.ocifit.mirror.source-index"], index.as_str());
        assert_eq!(digests(&doc)[0], entries[1]);
        // ns is the mirror's: the registry never sees it.
        assert!(!r.log_text().contains("ns="), "{}", r.log_text());
    }
    // Percent-encoded, as containerd writes it.
    let encoded = one.host().replace(':', "%3A");
    assert_exact(&get(&m.url(&format!("/v2/mirror/ns/manifests/v1?ns={encoded}"))), "ns percent-encoded");
    // Neither --upstream nor ns: a registry-style 400.
    let answer = get(&m.url("/v2/mirror/ns/manifests/v1"));
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["errors"][0]["code"], "UNSUPPORTED");
    assert!(answer.json()["errors"][0]["message"].as_str().unwrap().contains("ns="));
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_token_auth_client_without_a_token_cannot_read_a_stored_rewrite() {
    let (r, tokens) = bearer();
    let (index, entries) = r.push_index("mirror/private", "v1");
    let cache = temp_dir("mirror-auth");
    let m = start_v3(r, &[], &cache);
    let tag = m.url("/v2/mirror/private/manifests/v1");
    // No token: upstream's 401 and its challenge reach the client.
    let denied = get(&tag);
    assert_eq!(denied.status, 401);
    assert!(denied.header("www-authenticate").is_some_and(|c| c.starts_with("Bearer ")), "{:?}", denied.headers);
    let token = format!("Bearer {}", tokens.signer().token("mirror/private", &["pull"]));
    let answer = request("GET", &tag, Some(&token));
    assert_exact(&answer, "GET tag with token");
    assert_eq!(digests(&answer.json())[0], entries[1]);
    let rewritten = answer.header("docker-content-digest").unwrap().to_string();
    let by_digest = m.url(&format!("/v2/mirror/private/manifests/{rewritten}"));
    // The rewrite is stored, but only a client upstream lets read the
    // source index gets it.
    for (method, auth) in [("GET", None), ("HEAD", None)] {
        let answer = request(method, &by_digest, auth);
        assert_eq!(answer.status, 401, "{method}");
        assert!(answer.header("www-authenticate").is_some(), "{method}");
        let text = String::from_utf8_lossy(&answer.body);
        assert!(!text.contains("dev.ocifit.mirror.source-index") && !text.contains(&entries[1]), "{method}: {text}");
    }
    let wrong_repo = format!("Bearer {}", tokens.signer().token("mirror/elsewhere", &["pull"]));
    assert_eq!(request("GET", &by_digest, Some(&wrong_repo)).status, 401);
    let allowed = request("GET", &by_digest, Some(&token));
    assert_exact(&allowed, "GET stored rewrite with token");
    assert_eq!(allowed.body, answer.body);
    // The pinned source passes through with the token.
    assert_exact(
        &request("GET", &m.url(&format!("/v2/mirror/private/manifests/{index}")), Some(&token)),
        "pinned with token",
    );
    let _ = std::fs::remove_dir_all(cache);
}

/// §9 "never stored or logged": after a tag, its stored rewrite and the
/// pinned source are read with a token through the mirror (text and JSON
/// logs), nothing of the token is in the log, the cache or `/metrics`.
#[test]
fn s9_credentials_tokens_and_authorization_are_never_stored_or_logged() {
    let (r, tokens) = bearer();
    let (index, _) = r.push_index("mirror/secret", "v1");
    let token = format!("Bearer {}", tokens.signer().token("mirror/secret", &["pull"]));
    let secret = token.trim_start_matches("Bearer ");
    for log_format in ["text", "json"] {
        let cache = temp_dir(&format!("mirror-secret-{log_format}"));
        let m = start_v3(r, &["--log-format", log_format], &cache);
        let answer = request("GET", &m.url("/v2/mirror/secret/manifests/v1"), Some(&token));
        assert_exact(&answer, "GET tag with token");
        let rewritten = answer.header("docker-content-digest").unwrap().to_string();
        for reference in [rewritten.as_str(), index.as_str()] {
            let path = format!("/v2/mirror/secret/manifests/{reference}");
            assert_exact(&request("GET", &m.url(&path), Some(&token)), reference);
        }
        // The rewrite's log line names the rewritten digest in either format.
        let log = m.log_with(&rewritten);
        assert!(log.contains(&rewritten), "{log}");
        assert!(!log.contains(secret), "{log_format} log");
        assert!(!String::from_utf8_lossy(&get(&m.url("/metrics")).body).contains(secret), "/metrics");
        let stored = walk(&cache);
        assert!(!stored.is_empty(), "the rewrite is stored");
        for entry in stored {
            assert!(!String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).contains(secret), "{}", entry.display());
        }
        let _ = std::fs::remove_dir_all(cache);
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn s9_pass_through_cases_are_byte_for_byte() {
    let r = anonymous();
    let (index, _) = r.push_index("mirror/pass", "v1");
    let (excluded_index, _) = r.push_index("signed/app", "v1");
    let image = r.push_image("mirror/single", "linux", "amd64", "solo", false);
    let image_digest = image["digest"].as_str().unwrap().to_string();
    let image_bytes = std::fs::read(r.blob_path(&image_digest)).unwrap();
    r.push_manifest("mirror/single", "v1", fixture::MANIFEST, &image_bytes);
    let cache = temp_dir("mirror-pass");
    let source = std::fs::read(r.blob_path(&index)).unwrap();
    let up = upstream(r);
    // (what, mirror flags, repository, the bytes expected, their digest)
    type Case<'a> = (&'a str, Vec<&'a str>, &'a str, &'a [u8], &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "arm64: the runtime already takes the arm64 entry",
            vec!["--platform", "linux/arm64"],
            "mirror/pass",
            &source,
            &index,
        ),
        (
            "amd64 v1: the runtime already takes the fallback",
            vec!["--platform", "linux/amd64"],
            "mirror/pass",
            &source,
            &index,
        ),
        ("mode off", vec!["--platform", "linux/amd64/v3", "--mode", "off"], "mirror/pass", &source, &index),
        ("an image manifest", vec!["--platform", "linux/amd64/v3"], "mirror/single", &image_bytes, &image_digest),
    ];
    for (name, mut args, repo, bytes, digest) in cases {
        args.extend(["--upstream", up.as_str()]);
        let m = Mirror::start(&args, &cache);
        let answer = get(&m.url(&format!("/v2/{repo}/manifests/v1")));
        assert_exact(&answer, name);
        assert_eq!((answer.body.as_slice(), answer.header("docker-content-digest")), (bytes, Some(digest)), "{name}");
        let head = request("HEAD", &m.url(&format!("/v2/{repo}/manifests/v1")), None);
        assert_eq!(head.header("docker-content-digest"), Some(digest), "{name}");
        assert!(!m.log().contains("rewrote"), "{name}: {}", m.log());
    }
    // --exclude: a signed repository keeps its index.
    let m = start_v3(r, &["--exclude", "signed/*", "--exclude", "other-*"], &cache);
    let answer = get(&m.url("/v2/signed/app/manifests/v1"));
    assert_exact(&answer, "excluded");
    assert_eq!(answer.header("docker-content-digest"), Some(excluded_index.as_str()));
    let rewritten = get(&m.url("/v2/mirror/pass/manifests/v1"));
    assert_ne!(rewritten.header("docker-content-digest"), Some(index.as_str()), "not excluded: rewritten");
    let metrics = String::from_utf8(get(&m.url("/metrics")).body).unwrap();
    assert!(metrics.contains("ocifit_mirror_passthrough_total{reason=\"excluded\"} 1"), "{metrics}");
    assert!(metrics.contains("ocifit_mirror_rewrites_total 1"), "{metrics}");
    assert!(metrics.contains("ocifit_mirror_requests_total{kind=\"manifest-tag\"} 2"), "{metrics}");
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_reorder_mode_keeps_every_entry() {
    let r = anonymous();
    let (_, entries) = r.push_index_with("mirror/reorder", "v1", true, None);
    let cache = temp_dir("mirror-reorder");
    let m = start_v3(r, &["--mode", "reorder", "--log-format", "json"], &cache);
    let answer = get(&m.url("/v2/mirror/reorder/manifests/v1"));
    assert_exact(&answer, "reorder");
    assert_eq!(answer.header("content-type"), Some(fixture::DOCKER_LIST));
    assert_eq!(digests(&answer.json()), [entries[1].clone(), entries[0].clone(), entries[2].clone()]);
    let log = m.log_with("\"rewrite\"");
    let line: Value = serde_json::from_str(log.lines().find(|l| l.contains("\"rewrite\"")).unwrap()).unwrap();
    assert_eq!(line["repository"], "mirror/reorder");
    assert_eq!(line["selected"]["digest"], entries[1].as_str());
    assert_eq!(line["rewritten"], answer.header("docker-content-digest").unwrap());
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_every_accept_value_reaches_upstream_as_its_own_header() {
    let r = anonymous();
    r.push_index("mirror/accept", "v1");
    let front = Front::start("127.0.0.1", r.port, Box::new(|_, _| Action::Forward));
    let cache = temp_dir("mirror-accept");
    let up = format!("http://127.0.0.1:{}", front.port);
    let mut args = vec!["--upstream", up.as_str()];
    args.extend_from_slice(V3);
    let m = Mirror::start(&args, &cache);
    assert_exact(&request("GET", &m.url("/v2/mirror/accept/manifests/v1"), Some("Basic Zm9vOmJhcg==")), "via front");
    let seen = front.requests();
    let manifest_requests: Vec<_> = seen.iter().filter(|(line, _)| line.contains("/manifests/v1")).collect();
    assert_eq!(manifest_requests.len(), 2, "a HEAD then one GET: {seen:?}");
    assert!(manifest_requests[0].0.starts_with("HEAD ") && manifest_requests[1].0.starts_with("GET "));
    for (line, headers) in manifest_requests {
        let accepts: Vec<&str> = headers.iter().filter(|(n, _)| n == "accept").map(|(_, v)| v.as_str()).collect();
        assert_eq!(accepts, ACCEPT, "{line}");
        assert!(headers.iter().any(|(n, v)| n == "authorization" && v == "Basic Zm9vOmJhcg=="), "{line}");
    }
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_two_hundred_concurrent_pulls_read_the_index_once() {
    let r = anonymous();
    r.push_index("mirror/flight", "v1");
    let cache = temp_dir("mirror-flight");
    let m = start_v3(r, &[], &cache);
    let url = m.url("/v2/mirror/flight/manifests/v1");
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..200)
            .map(|_| {
                s.spawn(|| {
                    let a = get(&url);
                    (a.status, sha256(&a.body))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(answers.iter().all(|a| *a == answers[0] && a.0 == 200), "{answers:?}");
    r.settled_manifest_requests("mirror/flight", 201);
    let gets = r.log_text().lines().filter(|l| l.contains("\"GET /v2/mirror/flight/manifests/v1 ")).count();
    assert_eq!(gets, 1, "one upstream index read");
    let _ = std::fs::remove_dir_all(cache);
}

// --- hostile upstreams -----------------------------------------------------------------

/// A server that answers every manifest request with `head` then `body`
/// in `chunks` pieces, `pause` apart; other requests get 404.
fn trickle(head: String, body: Vec<u8>, chunks: usize, pause: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let started = Instant::now();
        for stream in listener.incoming() {
            if started.elapsed() > Duration::from_secs(60) {
                break;
            }
            let Ok(mut client) = stream else { continue };
            let Some((line, _, _)) = fixture::read_head(&mut client) else { continue };
            let _ = client.write_all(head.as_bytes());
            if line.starts_with("GET ") {
                for piece in body.chunks(body.len().div_ceil(chunks).max(1)) {
                    std::thread::sleep(pause);
                    if client.write_all(piece).is_err() {
                        break;
                    }
                }
            }
        }
    });
    port
}

fn index_head(length: usize, digest: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {INDEX}\r\nDocker-Content-Digest: {digest}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

#[test]
fn s9_hostile_upstreams_never_get_bytes_served_under_a_wrong_digest() {
    let r = anonymous();
    let (index, entries) = r.push_index("mirror/hostile", "v1");
    let good = std::fs::read(r.blob_path(&index)).unwrap();
    let cache = temp_dir("mirror-hostile");
    let serve = |port: u16| {
        let up = format!("http://127.0.0.1:{port}");
        let mut args = vec!["--upstream", up.as_str()];
        args.extend_from_slice(V3);
        Mirror::start(&args, &cache)
    };
    // Wrong digest: bytes that are not what the header names.
    let tampered = String::from_utf8(good.clone()).unwrap().replacen("arm64", "arm65", 1).into_bytes();
    let port = trickle(index_head(tampered.len(), &index), tampered.clone(), 1, Duration::ZERO);
    let m = serve(port);
    for method in ["GET", "HEAD"] {
        let answer = request(method, &m.url("/v2/mirror/hostile/manifests/v1"), None);
        assert_eq!(answer.status, 502, "wrong digest, {method}");
        assert!(answer.body.windows(5).all(|w| w != b"arm65"));
    }
    let log = m.log_with("as upstream says");
    assert!(log.contains(&index), "{log}");
    // Truncated: the connection closes half-way through the promised length.
    let half = good[..good.len() / 2].to_vec();
    let port = trickle(index_head(good.len(), &index), half, 1, Duration::ZERO);
    let m = serve(port);
    assert_eq!(get(&m.url("/v2/mirror/hostile/manifests/v1")).status, 502, "truncated");
    // Slow but complete: rewritten as usual.
    let port = trickle(index_head(good.len(), &index), good.clone(), 8, Duration::from_millis(150));
    let m = serve(port);
    let answer = get(&m.url("/v2/mirror/hostile/manifests/v1"));
    assert_exact(&answer, "slow");
    assert_eq!(digests(&answer.json())[0], entries[1]);
    // Too slow for --read-timeout: 502, nothing half-read served.
    let port = trickle(index_head(good.len(), &index), good.clone(), 8, Duration::from_millis(300));
    let up = format!("http://127.0.0.1:{port}");
    let mut args = vec!["--upstream", up.as_str(), "--read-timeout", "1"];
    args.extend_from_slice(V3);
    let m = Mirror::start(&args, &cache);
    let answer = get(&m.url("/v2/mirror/hostile/manifests/v1"));
    assert_eq!(answer.status, 502, "too slow");
    let log = m.log_with("too slow");
    assert!(log.contains("too slow"), "{log}");
    // Not JSON, labelled an index, with its right digest: passed through as it is.
    let junk = b"{\"manifests\": [ not json".to_vec();
    let port = trickle(index_head(junk.len(), &sha256(&junk)), junk.clone(), 1, Duration::ZERO);
    let m = serve(port);
    let answer = get(&m.url("/v2/mirror/hostile/manifests/v1"));
    assert_exact(&answer, "junk");
    assert_eq!(answer.body, junk);
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_oversize_index_passes_through_streamed_and_unchanged() {
    let r = anonymous();
    let (index, _) = r.push_index("mirror/big", "v1");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(r.blob_path(&index)).unwrap()).unwrap();
    doc["annotations"] = serde_json::json!({"org.example.padding": "x".repeat(5 << 20)});
    let big = serde_json::to_vec(&doc).unwrap();
    let digest = sha256(&big);
    let cache = temp_dir("mirror-big");
    // With a Content-Length, and without one (read past the limit, then streamed).
    let with_length = trickle(index_head(big.len(), &digest), big.clone(), 4, Duration::ZERO);
    let without = trickle(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {INDEX}\r\nDocker-Content-Digest: {digest}\r\nConnection: close\r\n\r\n"
        ),
        big.clone(),
        64,
        Duration::ZERO,
    );
    for port in [with_length, without] {
        let up = format!("http://127.0.0.1:{port}");
        let mut args = vec!["--upstream", up.as_str()];
        args.extend_from_slice(V3);
        let m = Mirror::start(&args, &cache);
        let answer = get(&m.url("/v2/mirror/big/manifests/v1"));
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body.len(), big.len());
        assert!(answer.body == big, "unchanged");
        assert_eq!(answer.header("docker-content-digest"), Some(digest.as_str()));
        let metrics = String::from_utf8(get(&m.url("/metrics")).body).unwrap();
        assert!(metrics.contains("ocifit_mirror_passthrough_total{reason=\"too-large\"} 1"), "{metrics}");
    }
    let _ = std::fs::remove_dir_all(cache);
}

/// A GET of `path` on a raw connection, the answer's head read: the stream
/// (positioned at the body) and the Content-Length.
fn raw_get(m: &Mirror, path: &str) -> (std::net::TcpStream, usize) {
    let mut stream = std::net::TcpStream::connect(&m.addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", m.addr).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "the mirror closed before the answer's head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).expect("a Content-Length");
    (stream, length.trim().parse().unwrap())
}

/// Read the rest of a blob as fast as possible; it must be `want`.
fn read_blob(stream: &mut std::net::TcpStream, want: &[u8]) {
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < want.len() {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the blob ended after {at} of {} bytes", want.len());
        assert!(buf[..n] == want[at..at + n], "blob bytes differ at {at}");
        at += n;
    }
}

/// §9 "streamed in bounded memory": a blob the client does not read stays
/// upstream (backpressure, not buffering), and blobs read as fast as the
/// client can go leave the mirror's peak memory flat. Memory used to grow
/// with transfer speed (~110 MiB for 1 GiB at 1 GiB/s): the buffers were
/// allocated on one worker thread and freed on another.
#[test]
fn s9_pass_through_blob_is_streamed_in_bounded_memory() {
    const BLOB_MIB: usize = 256;
    const STALLED_GROWTH_MIB: u64 = 8;
    const READ_GROWTH_MIB: u64 = 16;
    let r = anonymous();
    let blob: Vec<u8> = (0..BLOB_MIB << 20).map(|i| (i ^ (i >> 11) ^ (i >> 19)) as u8).collect();
    let digest = r.push_blob("mirror/large", &blob);
    let cache = temp_dir("mirror-large");
    let up = upstream(r);
    let mut args = vec!["--upstream", up.as_str()];
    args.extend_from_slice(V3);
    let m = Mirror::start(&args, &cache);
    let path = format!("/v2/mirror/large/blobs/{digest}");
    let idle = m.peak_rss_kib();
    // A client that reads nothing after the head.
    let (mut stalled, length) = raw_get(&m, &path);
    assert_eq!(length, blob.len());
    std::thread::sleep(Duration::from_secs(3));
    let growth = (m.peak_rss_kib() - idle) / 1024;
    assert!(growth < STALLED_GROWTH_MIB, "a stalled client made the mirror grow by {growth} MiB: {}", m.log());
    // The same transfer, now read in full; then the blob twice more.
    read_blob(&mut stalled, &blob);
    drop(stalled);
    for _ in 0..2 {
        let (mut stream, _) = raw_get(&m, &path);
        read_blob(&mut stream, &blob);
    }
    let growth = (m.peak_rss_kib() - idle) / 1024;
    eprintln!("mirror peak RSS: {idle} KiB idle, +{growth} MiB after {} MiB relayed", 3 * BLOB_MIB);
    assert!(growth < READ_GROWTH_MIB, "relaying the blob made the mirror grow by {growth} MiB: {}", m.log());
    let _ = std::fs::remove_dir_all(cache);
}

/// The congestion control of the mirror's end of an answered keep-alive
/// connection, read back from the kernel with `ss`.
fn mirror_socket_congestion_control(m: &Mirror) -> String {
    let port = m.addr.rsplit(':').next().unwrap().to_string();
    let mut stream = std::net::TcpStream::connect(&m.addr).unwrap();
    write!(stream, "GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", m.addr).unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200", "/healthz");
    let ss = Command::new("ss")
        .args(["-tinH", "state", "established", &format!("( sport = :{port} )")])
        .output()
        .expect("running ss (iproute2)");
    assert!(ss.status.success(), "ss: {}", String::from_utf8_lossy(&ss.stderr));
    let info = String::from_utf8_lossy(&ss.stdout).into_owned();
    let names = ["bbr", "bbr2", "bbr3", "cubic", "reno", "dctcp", "htcp", "vegas", "westwood"];
    let used: Vec<&str> = info.split_whitespace().filter(|w| names.contains(w)).collect();
    assert_eq!(used.len(), 1, "one server-side socket on port {port}, its congestion control named once: {info}");
    drop(stream);
    used[0].to_string()
}

fn sysctl(name: &str) -> String {
    let path = format!("/proc/sys/net/ipv4/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}")).trim().to_string()
}

/// §9 "connections from this node are not paced": with BBR as the
/// system's congestion control (as here), the mirror's end of a loopback
/// connection runs cubic or reno, read back from the kernel with `ss`;
/// with any other default it is left as it is. Pacing on loopback cost
/// the relay about 40 % of its throughput (docs/performance-notes.md).
#[test]
fn s9_loopback_clients_are_not_paced_by_the_mirror() {
    let default = sysctl("tcp_congestion_control");
    let cache = temp_dir("mirror-pacing");
    let m = Mirror::start(&["--upstream", "http://127.0.0.1:9", "--platform", "linux/amd64"], &cache);
    let used = mirror_socket_congestion_control(&m);
    if default.starts_with("bbr") {
        assert!(matches!(used.as_str(), "cubic" | "reno"), "system default {default}, the mirror's socket: {used}");
    } else {
        assert_eq!(used, default, "system default {default} is not paced and stays");
    }
    let _ = std::fs::remove_dir_all(cache);
}

/// The same for a mirror without privileges (as the systemd unit runs it:
/// another user, no capabilities): it may only choose what
/// `net.ipv4.tcp_allowed_congestion_control` lists, so where cubic is not
/// there it falls back to reno, which every kernel allows.
#[test]
fn s9_an_unprivileged_mirror_falls_back_to_reno() {
    fixture::require("setpriv");
    let (default, allowed) = (sysctl("tcp_congestion_control"), sysctl("tcp_allowed_congestion_control"));
    let cache = temp_dir("mirror-pacing-nobody");
    // The cache directory belongs to the user the mirror runs as.
    let chown = Command::new("chown").args(["65534:65534", cache.to_str().unwrap()]).status().expect("chown");
    assert!(chown.success(), "chown of {} (the tests run as root)", cache.display());
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(env!("CARGO_BIN_EXE_ocifit"))
        .args(["mirror", "--listen", "127.0.0.1:0", "--cache-dir", cache.to_str().unwrap()])
        .args(["--upstream", "http://127.0.0.1:9", "--platform", "linux/amd64"]);
    let m = Mirror::spawn_command(command);
    let used = mirror_socket_congestion_control(&m);
    let expected = if !default.starts_with("bbr") {
        default.clone()
    } else if allowed.split_whitespace().any(|n| n == "cubic") {
        "cubic".to_string()
    } else {
        "reno".to_string()
    };
    assert_eq!(used, expected, "default {default}, allowed to unprivileged programs: {allowed}");
    drop(m);
    let _ = std::fs::remove_dir_all(cache);
}

// --- the command line --------------------------------------------------------------------

#[test]
fn s9_non_loopback_listen_is_refused_without_allow_remote() {
    let run = fixture::ocifit(&["mirror", "--listen", "0.0.0.0:0", "--platform", "linux/amd64"], &[], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("--allow-remote"), "{}", run.stderr);
    // `--plain-http=HOST` is the mirror's per-host option.
    let run = fixture::ocifit(
        &["mirror", "--plain-http=reg.lan:5000", "--listen", "0.0.0.0:0", "--platform", "linux/amd64"],
        &[],
        None,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--allow-remote"), "parsed, then refused for --listen: {}", run.stderr);
    let run = fixture::ocifit(&["mirror", "--upstream", "ftp://x", "--platform", "linux/amd64"], &[], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--upstream"), "{}", run.stderr);
}

#[test]
fn s9_mirror_config_writes_containerd_hosts_files() {
    let dir = temp_dir("mirror-config");
    let run = fixture::ocifit(
        &[
            "mirror",
            "config",
            "containerd",
            "--registry",
            "docker.io",
            "--registry",
            "ghcr.io",
            "--write",
            dir.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(dir.join("docker.io/hosts.toml")).unwrap();
    assert!(text.contains("server = \"https://registry-1.docker.io\""), "{text}");
    assert!(text.contains("[host.\"http://127.0.0.1:5050\"]"), "{text}");
    assert!(dir.join("ghcr.io/hosts.toml").is_file());
    let run = fixture::ocifit(
        &["mirror", "config", "containers", "--registry", "docker.io", "--registry", "ghcr.io"],
        &[],
        None,
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("one mirror address per registry"), "{}", run.stderr);
    let run = fixture::ocifit(
        &["mirror", "config", "containers", "--registry", "docker.io=http://127.0.0.1:5051"],
        &[],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("location = \"127.0.0.1:5051\""), "{}", run.stdout);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn s9_sigterm_finishes_requests_in_flight() {
    let r = anonymous();
    let (index, entries) = r.push_index("mirror/drain", "v1");
    let good = std::fs::read(r.blob_path(&index)).unwrap();
    // About 1.2 s to send the index.
    let port = trickle(index_head(good.len(), &index), good, 8, Duration::from_millis(150));
    let cache = temp_dir("mirror-drain");
    let up = format!("http://127.0.0.1:{port}");
    let mut args = vec!["--upstream", up.as_str()];
    args.extend_from_slice(V3);
    let mut m = Mirror::start(&args, &cache);
    let url = m.url("/v2/mirror/drain/manifests/v1");
    let (answer, code) = std::thread::scope(|s| {
        let pull = s.spawn(|| get(&url));
        std::thread::sleep(Duration::from_millis(400));
        let code = m.stop();
        (pull.join().unwrap(), code)
    });
    assert_eq!(code, Some(0), "{}", m.log());
    assert_exact(&answer, "in flight during SIGTERM");
    assert_eq!(digests(&answer.json())[0], entries[1]);
    assert!(m.log_with("stopping").contains("stopping"), "{}", m.log());
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_upstream_tls_is_verified_and_ca_cert_adds_a_root() {
    let (r, ca) = fixture::tls();
    let (_, entries) = anonymous().push_index("mirror/tls", "v1");
    let cache = temp_dir("mirror-tls");
    let up = format!("https://{}", r.host());
    let mut args = vec!["--upstream", up.as_str()];
    args.extend_from_slice(V3);
    // Unknown issuer: 502, never a fallback to plain HTTP.
    let m = Mirror::start(&args, &cache);
    let answer = get(&m.url("/v2/mirror/tls/manifests/v1"));
    assert_eq!(answer.status, 502);
    let log = m.log_with("certificate");
    assert!(log.contains("certificate"), "{log}");
    drop(m);
    let ca = ca.to_str().unwrap();
    args.extend(["--ca-cert", ca]);
    let m = Mirror::start(&args, &cache);
    let answer = get(&m.url("/v2/mirror/tls/manifests/v1"));
    assert_exact(&answer, "over TLS");
    assert_eq!(digests(&answer.json())[0], entries[1]);
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_cpuinfo_capture_is_the_target() {
    let r = anonymous();
    let (index, entries) = r.push_index("mirror/cpuinfo", "v1");
    let cache = temp_dir("mirror-cpuinfo");
    let base = "fpu cx8 cmov mmx fxsr sse sse2 syscall nx lm";
    let v3 = format!(
        "{base} pni ssse3 sse4_1 sse4_2 popcnt cx16 lahf_lm avx avx2 bmi1 bmi2 fma f16c movbe xsave osxsave abm"
    );
    let up = upstream(r);
    for (flags, want) in [(base.to_string(), index.clone()), (v3, String::new())] {
        let capture = cache.join("cpuinfo");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(&capture, format!("processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: {flags}\n\n")).unwrap();
        let m = Mirror::start(&["--upstream", &up, "--cpuinfo", capture.to_str().unwrap()], &cache);
        let answer = get(&m.url("/v2/mirror/cpuinfo/manifests/v1"));
        assert_exact(&answer, "cpuinfo");
        if want.is_empty() {
            // AVX2, BMI2 and FMA in the capture: the feature entry.
            assert_eq!(digests(&answer.json())[0], entries[1]);
        } else {
            // A baseline CPU: runtimes already take the fallback, unchanged.
            assert_eq!(answer.header("docker-content-digest"), Some(want.as_str()));
        }
    }
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_cache_bound_evicts_only_rewrites_no_tag_points_at() {
    let r = anonymous();
    for repo in ["mirror/evict-a", "mirror/evict-b", "mirror/evict-c"] {
        r.push_index(repo, "v1");
    }
    let cache = temp_dir("mirror-evict");
    // A bound smaller than any index: only what tags point at may stay.
    let tiny = ["--cache-max-bytes", "1"];
    let rewrite = |m: &Mirror, repo: &str| {
        let answer = get(&m.url(&format!("/v2/{repo}/manifests/v1")));
        assert_exact(&answer, repo);
        answer.header("docker-content-digest").unwrap().to_string()
    };
    let by_digest =
        |m: &Mirror, repo: &str, digest: &str| get(&m.url(&format!("/v2/{repo}/manifests/{digest}"))).status;
    let mut m = start_v3(r, &tiny, &cache);
    let a = rewrite(&m, "mirror/evict-a");
    assert_eq!(by_digest(&m, "mirror/evict-a", &a), 200, "the rewrite just served is kept");
    let b = rewrite(&m, "mirror/evict-b");
    assert_eq!(by_digest(&m, "mirror/evict-b", &b), 200);
    assert_eq!(by_digest(&m, "mirror/evict-a", &a), 200, "tag a still points at it");
    m.stop();
    // After a restart no tag points at a or b until read again.
    let m = start_v3(r, &tiny, &cache);
    let c = rewrite(&m, "mirror/evict-c");
    assert_eq!(by_digest(&m, "mirror/evict-c", &c), 200);
    let files: Vec<String> = walk(&cache)
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(files, [format!("{}.json", c.trim_start_matches("sha256:"))]);
    // Gone from the cache, so upstream answers: it never had that digest.
    assert_eq!(by_digest(&m, "mirror/evict-a", &a), 404);
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_sigterm_right_after_start_is_a_clean_stop() {
    let cache = temp_dir("mirror-early-term");
    for round in 0..20 {
        let mut m = Mirror::start(&["--platform", "linux/amd64", "--upstream", "http://127.0.0.1:9"], &cache);
        assert_eq!(m.stop(), Some(0), "round {round}: {}", m.log());
    }
    let _ = std::fs::remove_dir_all(cache);
}
