//! Real registries for the tests: Debian's `docker-registry` (distribution
//! 2.8) started with a config file written here — listening on 127.0.0.1
//! only, storage in a temporary directory, access log to a file — once per
//! test binary for each kind (anonymous, basic auth, bearer tokens).
//!
//! Each registry runs under `sh`, which waits on a pipe from this process:
//! when the test binary exits, the pipe closes and `sh` stops the registry.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest as _;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "s3cret-Pa55";

pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

pub fn sha256(bytes: &[u8]) -> String {
    let d = sha2::Sha256::digest(bytes);
    format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A fresh directory, unique in this test run.
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("ocifit-reg-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn require(tool: &str) {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    assert!(found, "{tool} is not installed: scripts/test.sh installs it (apt)");
}

pub struct Registry {
    pub port: u16,
    pub dir: PathBuf,
    log: PathBuf,
    /// Closing this (at exit) stops the registry.
    _keepalive: Mutex<ChildStdin>,
    _child: Mutex<Child>,
    /// `Authorization` for pushes.
    push_auth: Mutex<Option<PushAuth>>,
}

type PushAuth = Box<dyn Fn(&str) -> String + Send + Sync>;

/// Lowercased header names and their values.
pub type Headers = Vec<(String, String)>;

impl Registry {
    /// Start a registry; `auth` is the YAML of its `auth:` section (indented by 2), if any.
    pub fn start(name: &str, auth: Option<&str>) -> Registry {
        Registry::start_with(name, None, "", auth)
    }

    /// `storage`: another registry's data directory to serve (read-only
    /// use); `http_extra`: more of the `http:` section (indented by 2).
    pub fn start_with(name: &str, storage: Option<&Path>, http_extra: &str, auth: Option<&str>) -> Registry {
        Registry::start_in(temp_dir(name), storage, http_extra, auth)
    }

    /// Start in `dir`, which may already hold files the config refers to
    /// (htpasswd, keys, certificates): all of it is removed at exit.
    pub fn start_in(dir: PathBuf, storage: Option<&Path>, http_extra: &str, auth: Option<&str>) -> Registry {
        require("docker-registry");
        let port = free_port();
        let data = storage.map_or_else(|| dir.join("data"), Path::to_path_buf);
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\n  formatter: text\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: ocifit-test-secret\n{http_extra}",
            data.display()
        );
        if let Some(a) = auth {
            config.push_str("auth:\n");
            config.push_str(a);
        }
        let config_path = dir.join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.join("registry.log");
        let mut child = Command::new("sh")
            .args([
                "-c",
                "docker-registry serve \"$1\" >\"$2\" 2>&1 & pid=$!; read _unused; kill $pid; wait $pid; rm -rf \"$3\"",
                "sh",
            ])
            .arg(&config_path)
            .arg(&log)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let stdin = child.stdin.take().unwrap();
        let registry = Registry {
            port,
            dir,
            log,
            _keepalive: Mutex::new(stdin),
            _child: Mutex::new(child),
            push_auth: Mutex::new(None),
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let mut first = String::new();
                if BufReader::new(s).read_line(&mut first).is_ok() && first.starts_with("HTTP/") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not start: {}", std::fs::read_to_string(&self.log).unwrap_or_default());
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn set_push_auth(&self, f: impl Fn(&str) -> String + Send + Sync + 'static) {
        *self.push_auth.lock().unwrap() = Some(Box::new(f));
    }

    fn auth_for(&self, repo: &str) -> Option<String> {
        self.push_auth.lock().unwrap().as_ref().map(|f| f(repo))
    }

    /// Access-log lines for manifest reads (GET or HEAD) of `repo`.
    pub fn manifest_requests(&self, repo: &str) -> usize {
        let get = format!("\"GET /v2/{repo}/manifests/");
        let head = format!("\"HEAD /v2/{repo}/manifests/");
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&get) || l.contains(&head))
            .count()
    }

    /// Wait until the log has settled (lines are written after responses).
    pub fn settled_manifest_requests(&self, repo: &str, at_least: usize) -> usize {
        let start = Instant::now();
        while self.manifest_requests(repo) < at_least && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(150));
        self.manifest_requests(repo)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().into()
    }

    /// Upload a blob (monolithic POST + PUT); returns its digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let agent = Self::agent();
        let url = format!("http://{}/v2/{repo}/blobs/uploads/", self.host());
        let mut req = agent.post(&url);
        if let Some(a) = self.auth_for(repo) {
            req = req.header("Authorization", &a);
        }
        let resp = req.send_empty().unwrap();
        assert_eq!(resp.status().as_u16(), 202, "start upload to {repo}");
        let location = resp.headers().get("location").unwrap().to_str().unwrap().to_string();
        let location = if location.starts_with('/') { format!("http://{}{location}", self.host()) } else { location };
        let sep = if location.contains('?') { '&' } else { '?' };
        let mut req =
            agent.put(format!("{location}{sep}digest={digest}")).header("Content-Type", "application/octet-stream");
        if let Some(a) = self.auth_for(repo) {
            req = req.header("Authorization", &a);
        }
        let resp = req.send(bytes).unwrap();
        assert_eq!(resp.status().as_u16(), 201, "finish upload to {repo}");
        digest
    }

    pub fn push_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) -> String {
        let agent = Self::agent();
        let mut req = agent
            .put(format!("http://{}/v2/{repo}/manifests/{reference}", self.host()))
            .header("Content-Type", media_type);
        if let Some(a) = self.auth_for(repo) {
            req = req.header("Authorization", &a);
        }
        let mut resp = req.send(bytes).unwrap();
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 201, "push manifest {repo}:{reference}: {body}");
        sha256(bytes)
    }

    /// An image (config, one layer, manifest) for a platform; returns its descriptor.
    pub fn push_image(&self, repo: &str, os: &str, arch: &str, label: &str, docker: bool) -> Value {
        let config = serde_json::to_vec(&json!({
            "os": os, "architecture": arch,
            "rootfs": {"type": "layers", "diff_ids": [sha256(b"layer")]},
            // The repository in the content: no two tests share a blob
            // (one of them tampers with its stored index).
            "config": {"Labels": {"build": label, "repository": repo}}
        }))
        .unwrap();
        let config_digest = self.push_blob(repo, &config);
        let layer_digest = self.push_blob(repo, format!("layer {os}/{arch}").as_bytes());
        let (mt, config_mt, layer_mt) = if docker {
            (
                DOCKER_MANIFEST,
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        } else {
            (MANIFEST, "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar")
        };
        let layer_len = format!("layer {os}/{arch}").len();
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": mt,
            "config": {"mediaType": config_mt, "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": layer_mt, "digest": layer_digest, "size": layer_len}]
        }))
        .unwrap();
        let digest = self.push_manifest(repo, &sha256(&manifest), mt, &manifest);
        json!({"mediaType": mt, "digest": digest, "size": manifest.len()})
    }

    /// A three-entry index (amd64, amd64+avx2/bmi2/fma, arm64) tagged `tag`;
    /// returns (index digest, entry digests).
    pub fn push_index(&self, repo: &str, tag: &str) -> (String, Vec<String>) {
        self.push_index_with(repo, tag, false, None)
    }

    pub fn push_index_with(
        &self,
        repo: &str,
        tag: &str,
        docker: bool,
        padding: Option<usize>,
    ) -> (String, Vec<String>) {
        let mut amd = self.push_image(repo, "linux", "amd64", "baseline", docker);
        amd["platform"] = json!({"os": "linux", "architecture": "amd64"});
        let mut v3 = self.push_image(repo, "linux", "amd64", "avx2", docker);
        v3["platform"] = json!({"os": "linux", "architecture": "amd64", "features": ["avx2", "bmi2", "fma"]});
        let mut arm = self.push_image(repo, "linux", "arm64", "arm", docker);
        arm["platform"] = json!({"os": "linux", "architecture": "arm64", "variant": "v8"});
        let mt = if docker { DOCKER_LIST } else { INDEX };
        let mut doc = json!({"schemaVersion": 2, "mediaType": mt, "manifests": [amd, v3, arm]});
        if let Some(n) = padding {
            doc["annotations"] = json!({"org.example.padding": "x".repeat(n)});
        }
        let bytes = serde_json::to_vec_pretty(&doc).unwrap();
        let digest = self.push_manifest(repo, tag, mt, &bytes);
        let entries =
            doc["manifests"].as_array().unwrap().iter().map(|e| e["digest"].as_str().unwrap().into()).collect();
        (digest, entries)
    }

    /// The file the registry stores a blob (or manifest) in.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir.join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }
}

/// A TLS registry serving the anonymous registry's storage, with a
/// certificate for IP 127.0.0.1 from a test CA; returns it and the CA's PEM.
pub fn tls() -> &'static (Registry, PathBuf) {
    static R: OnceLock<(Registry, PathBuf)> = OnceLock::new();
    R.get_or_init(|| {
        require("openssl");
        let plain = anonymous();
        let dir = temp_dir("tls");
        let p = |name: &str| dir.join(name).display().to_string();
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).output().expect("openssl");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        let (ca_key, ca_pem) = (p("ca.key"), p("ca.pem"));
        ca.extend(["-keyout", &ca_key, "-out", &ca_pem, "-days", "2", "-subj", "/CN=ocifit test CA"]);
        run(&ca);
        let (key, csr, pem, ext) = (p("leaf.key"), p("leaf.csr"), p("leaf.pem"), p("leaf.ext"));
        let mut leaf = vec!["req"];
        leaf.extend(ec);
        leaf.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=127.0.0.1"]);
        run(&leaf);
        std::fs::write(&ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
            .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
        let http_tls = format!("  tls:\n    certificate: {pem}\n    key: {key}\n");
        let ca = dir.join("ca.pem");
        let r = Registry::start_in(dir, Some(&plain.dir.join("data")), &http_tls, None);
        (r, ca)
    })
}

/// A TLS registry serving the anonymous registry's storage with a
/// self-signed certificate made as the distribution and Docker docs show
/// (`openssl req -newkey rsa -nodes -x509 -addext subjectAltName=…`, which
/// marks it CA:TRUE); returns it and the certificate's PEM file.
pub fn self_signed_tls() -> &'static (Registry, PathBuf) {
    static R: OnceLock<(Registry, PathBuf)> = OnceLock::new();
    R.get_or_init(|| {
        require("openssl");
        let plain = anonymous();
        let dir = temp_dir("self-signed");
        let (key, cert) = (dir.join("domain.key"), dir.join("domain.crt"));
        let out = Command::new("openssl")
            .args(["req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout"])
            .arg(&key)
            .args(["-addext", "subjectAltName = IP:127.0.0.1", "-x509", "-days", "2", "-subj", "/CN=127.0.0.1"])
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl");
        assert!(out.status.success(), "openssl req -x509: {}", String::from_utf8_lossy(&out.stderr));
        let text = Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(&cert).output().unwrap();
        assert!(String::from_utf8_lossy(&text.stdout).contains("CA:TRUE"), "the docs' certificate is CA:TRUE");
        let http_tls = format!("  tls:\n    certificate: {}\n    key: {}\n", cert.display(), key.display());
        let r = Registry::start_in(dir, Some(&plain.dir.join("data")), &http_tls, None);
        let cert = r.dir.join("domain.crt");
        (r, cert)
    })
}

/// The anonymous registry.
pub fn anonymous() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::start("anon", None))
}

pub fn basic_header(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// A registry behind htpasswd (bcrypt) basic auth.
pub fn basic() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        require("htpasswd");
        let dir = temp_dir("basic");
        let out = Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]).output().expect("htpasswd");
        assert!(out.status.success());
        let htpasswd = dir.join("htpasswd");
        std::fs::write(&htpasswd, &out.stdout).unwrap();
        let auth = format!("  htpasswd:\n    realm: ocifit-basic\n    path: {}\n", htpasswd.display());
        let r = Registry::start_in(dir, None, "", Some(&auth));
        r.set_push_auth(|_| basic_header(USER, PASSWORD));
        r
    })
}

/// A registry that wants bearer tokens from [`crate::token::TokenServer`].
pub fn bearer() -> &'static (Registry, crate::token::TokenServer) {
    static R: OnceLock<(Registry, crate::token::TokenServer)> = OnceLock::new();
    R.get_or_init(|| {
        let dir = temp_dir("bearer");
        let server = crate::token::TokenServer::start(&dir);
        let auth = format!(
            "  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
            server.realm(),
            crate::token::SERVICE,
            crate::token::ISSUER,
            server.cert_path().display()
        );
        let r = Registry::start_in(dir, None, "", Some(&auth));
        let signer = server.signer();
        r.set_push_auth(move |repo| format!("Bearer {}", signer.token(repo, &["pull", "push"])));
        (r, server)
    })
}

/// Run the ocifit binary with a clean credential environment.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn ocifit(args: &[&str], env: &[(&str, &Path)], stdin: Option<&str>) -> Run {
    let home = temp_dir("home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocifit"));
    cmd.args(args)
        .env("HOME", &home)
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        // ocifit may exit (a usage error) before reading it all: a broken
        // pipe here is its answer, not a failure of the harness.
        let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&home);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Read one HTTP request head from a stream: (request line, lowercased headers).
pub fn read_head(stream: &mut TcpStream) -> Option<(String, Headers, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if stream.read(&mut buf).ok()? == 0 {
            return None;
        }
        raw.push(buf[0]);
        if raw.len() > 64 * 1024 {
            return None;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = text.split("\r\n");
    let first = lines.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((first, headers, raw))
}

/// A containers-auth.json in `dir` holding `user:password` for `registry`.
pub fn auth_file(dir: &Path, name: &str, registry: &str, user: &str, password: &str) -> PathBuf {
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{user}:{password}"));
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::json!({"auths": {registry: {"auth": auth}}}).to_string()).unwrap();
    path
}

/// A program `docker-credential-NAME` in `dir/bin` running the shell
/// `script`; returns a PATH with `dir/bin` first.
pub fn credential_helper(dir: &Path, name: &str, script: &str) -> std::ffi::OsString {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join(format!("docker-credential-{name}"));
    std::fs::write(&helper, format!("#!/bin/sh\n{script}\n")).unwrap();
    Command::new("chmod").arg("+x").arg(&helper).status().unwrap();
    std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap()
}
