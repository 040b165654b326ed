//! ocifit against real registries (Debian's docker-registry, distribution
//! 2.8), no mocks: select by tag and digest with exactly one manifest
//! request, basic and bearer auth, skopeo interoperability, and every
//! failure mode of the issue — each exits 2 with a clear message or
//! succeeds as it should. `mirror` and `deploy`: `ocifit mirror` in front
//! of these registries and of hostile hand-made upstreams.

mod deploy;
mod fixture;
mod hardening;
mod index_edit;
mod lint_hint;
mod mirror;
mod servers;
mod tls_trust;
mod token;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fixture::{PASSWORD, USER, anonymous, auth_file, basic, bearer, ocifit, temp_dir};
use serde_json::Value;
use servers::{Action, Front};

fn json(run: &fixture::Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

fn ok(run: &fixture::Run) {
    assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
}

fn fails(run: &fixture::Run, needles: &[&str]) {
    assert_eq!(run.code, 2, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    for n in needles {
        assert!(run.stderr.contains(n), "{n:?} not in: {}", run.stderr);
    }
}

const V3: &[&str] = &["--platform", "linux/amd64/v3", "--format", "json"];

fn select(reference: &str, extra: &[&str]) -> fixture::Run {
    let mut args = vec!["select", reference];
    args.extend_from_slice(V3);
    args.extend_from_slice(extra);
    ocifit(&args, &[], None)
}

// --- anonymous registry -------------------------------------------------------------

#[test]
fn select_by_tag_is_one_manifest_request() {
    let r = anonymous();
    let (index, entries) = r.push_index("app/by-tag", "v1");
    let run = select(&format!("docker://{}/app/by-tag:v1", r.host()), &[]);
    ok(&run);
    let doc = json(&run);
    assert_eq!(doc["selected"]["digest"], entries[1].as_str());
    assert_eq!(doc["source"]["digest"], index.as_str());
    assert_eq!(doc["source"]["reference"], format!("{}/app/by-tag@{index}", r.host()));
    assert_eq!(doc["source"]["registry"], r.host());
    assert_eq!(doc["source"]["repository"], "app/by-tag");
    assert_eq!(doc["source"]["tag"], "v1");
    assert_eq!(r.settled_manifest_requests("app/by-tag", 1), 1, "{}", r.log_text());
}

#[test]
fn select_by_digest_is_one_manifest_request() {
    let r = anonymous();
    let (index, entries) = r.push_index("by-digest", "v1");
    // A bare reference (no docker://) works when no such file exists.
    let run = select(&format!("{}/by-digest@{index}", r.host()), &[]);
    ok(&run);
    assert_eq!(json(&run)["selected"]["digest"], entries[1].as_str());
    assert_eq!(json(&run)["source"]["digest"], index.as_str());
    assert_eq!(r.settled_manifest_requests("by-digest", 1), 1);
    // Tag and digest: the digest is what is fetched and verified.
    ok(&select(&format!("{}/by-digest:v1@{index}", r.host()), &[]));
    assert_eq!(r.settled_manifest_requests("by-digest", 2), 2);
}

#[test]
fn resolve_prints_the_pinned_reference() {
    let r = anonymous();
    let (_, entries) = r.push_index("resolve-me", "v1");
    let reference = format!("{}/resolve-me:v1", r.host());
    let run = ocifit(&["resolve", &reference, "--platform", "linux/amd64/v3"], &[], None);
    ok(&run);
    assert_eq!(run.stdout, format!("{}/resolve-me@{}\n", r.host(), entries[1]));
    let run = ocifit(&["resolve", &reference, "--platform", "linux/arm64"], &[], None);
    assert_eq!(run.stdout, format!("{}/resolve-me@{}\n", r.host(), entries[2]));
    let run = ocifit(&["resolve", &reference, "--platform", "linux/s390x"], &[], None);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert_eq!(r.settled_manifest_requests("resolve-me", 3), 3);
}

#[test]
fn docker_manifest_list_is_accepted() {
    let r = anonymous();
    let (index, entries) = r.push_index_with("docker-list", "v1", true, None);
    let run = select(&format!("{}/docker-list:v1", r.host()), &[]);
    ok(&run);
    let doc = json(&run);
    assert_eq!(doc["selected"]["digest"], entries[1].as_str());
    assert_eq!(doc["source"]["mediaType"], fixture::DOCKER_LIST);
    assert_eq!(doc["source"]["digest"], index.as_str());
}

#[test]
fn single_image_manifest_is_the_only_candidate() {
    let r = anonymous();
    for (repo, docker) in [("single-oci", false), ("single-docker", true)] {
        let image = r.push_image(repo, "linux", "arm64", "solo", docker);
        let digest = image["digest"].as_str().unwrap();
        let bytes = std::fs::read(r.blob_path(digest)).unwrap();
        r.push_manifest(repo, "solo", image["mediaType"].as_str().unwrap(), &bytes);
        let run = ocifit(
            &["select", &format!("{}/{repo}:solo", r.host()), "--platform", "linux/arm64", "--format", "json"],
            &[],
            None,
        );
        ok(&run);
        let doc = json(&run);
        assert_eq!(doc["selected"]["digest"], digest);
        assert_eq!(doc["selected"]["platform"]["architecture"], "arm64");
        assert_eq!(doc["source"]["singleManifest"], true);
        assert_eq!(doc["candidates"].as_array().unwrap().len(), 1);
        assert_eq!(r.settled_manifest_requests(repo, 1), 1, "{repo}");
        let run = ocifit(&["select", &format!("{}/{repo}:solo", r.host()), "--platform", "linux/amd64"], &[], None);
        assert_eq!(run.code, 1, "{}", run.stderr);
    }
}

#[test]
fn skopeo_layouts_and_pushes_interoperate() {
    fixture::require("skopeo");
    let r = anonymous();
    let (index, entries) = r.push_index("skopeo/source", "v1");
    let dir = temp_dir("skopeo-layout");
    let layout = dir.join("layout");
    let skopeo = |args: &[&str]| {
        let out = Command::new("skopeo").arg("--insecure-policy").args(args).output().expect("skopeo");
        assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    // registry -> layout, read with oci:DIR:TAG
    skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{}/skopeo/source:v1", r.host()),
        &format!("oci:{}:v1", layout.display()),
    ]);
    let run = ocifit(&["select", &format!("oci:{}:v1", layout.display()), V3[0], V3[1], V3[2], V3[3]], &[], None);
    ok(&run);
    let doc = json(&run);
    // skopeo 1.9 compresses the layers it writes to a layout (new
    // manifests) and re-serializes the index without `platform.features`
    // (image-spec 1.1 dropped the field from its Go types): both amd64
    // entries remain, indistinguishable, and the first one wins.
    assert_eq!(doc["candidates"].as_array().unwrap().len(), 2, "{}", run.stdout);
    assert_eq!(doc["selected"]["platform"]["architecture"], "amd64");
    let layout_index = doc["source"]["digest"].as_str().unwrap().to_string();
    let layout_selected = doc["selected"]["digest"].as_str().unwrap().to_string();
    assert!(layout_index != index && !entries.contains(&layout_selected));
    // layout -> registry with skopeo, read back with one request
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{}/skopeo/pushed:v2", r.host()),
    ]);
    let before = r.settled_manifest_requests("skopeo/pushed", 0);
    let run = select(&format!("docker://{}/skopeo/pushed:v2", r.host()), &[]);
    ok(&run);
    assert_eq!(json(&run)["candidates"].as_array().unwrap().len(), 2);
    assert_eq!(r.settled_manifest_requests("skopeo/pushed", before + 1), before + 1);
    let _ = std::fs::remove_dir_all(dir);
}

/// A layout written here (gzip layer media types, so skopeo need not
/// convert anything), pushed with `skopeo copy --all oci:… docker://…`.
#[test]
fn skopeo_pushes_a_layout_written_by_hand() {
    fixture::require("skopeo");
    let r = anonymous();
    let dir = temp_dir("hand-layout");
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |bytes: &[u8]| {
        let d = fixture::sha256(bytes);
        std::fs::write(blobs.join(d.strip_prefix("sha256:").unwrap()), bytes).unwrap();
        serde_json::json!({"digest": d, "size": bytes.len()})
    };
    let mut entries = Vec::new();
    for (arch, features) in [("amd64", None), ("amd64", Some(["avx2", "bmi2", "fma"])), ("arm64", None)] {
        let layer = put(format!("{arch} {features:?}").as_bytes());
        let config =
            put(serde_json::json!({"os": "linux", "architecture": arch, "rootfs": {"type": "layers", "diff_ids": []}})
                .to_string()
                .as_bytes());
        let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": fixture::MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config["digest"], "size": config["size"]},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer["digest"], "size": layer["size"]}]});
        let m = put(manifest.to_string().as_bytes());
        let mut platform = serde_json::json!({"os": "linux", "architecture": arch});
        if let Some(f) = features {
            platform["features"] = serde_json::json!(f);
        }
        entries.push(serde_json::json!({"mediaType": fixture::MANIFEST, "digest": m["digest"], "size": m["size"], "platform": platform}));
    }
    let index = put(serde_json::json!({"schemaVersion": 2, "mediaType": fixture::INDEX, "manifests": entries})
        .to_string()
        .as_bytes());
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": fixture::INDEX, "digest": index["digest"],
        "size": index["size"], "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(dir.join("index.json"), top.to_string()).unwrap();

    let local = ocifit(&["select", &format!("oci:{}:v1", dir.display()), V3[0], V3[1], V3[2], V3[3]], &[], None);
    ok(&local);
    assert_eq!(json(&local)["selected"]["digest"], entries[1]["digest"]);
    let out = Command::new("skopeo")
        .args(["--insecure-policy", "copy", "--all", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v1", dir.display()))
        .arg(format!("docker://{}/hand/layout:v1", r.host()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = select(&format!("{}/hand/layout:v1", r.host()), &[]);
    ok(&run);
    let doc = json(&run);
    assert_eq!(r.settled_manifest_requests("hand/layout", 1), 1);
    // skopeo 1.9 re-serializes the index even here, and `features` is lost
    // on the way (see docs/sources.md): both amd64 entries remain.
    assert_eq!(doc["candidates"].as_array().unwrap().len(), 2, "{}", run.stdout);
    assert_eq!(doc["selected"]["platform"]["architecture"], "amd64");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn creds_stdin_cannot_share_stdin_with_the_source() {
    let run = ocifit(&["select", "-", "--creds-stdin", "--platform", "linux/amd64"], &[], Some("{}"));
    fails(&run, &["--creds-stdin", "standard input"]);
}

#[test]
fn text_output_names_the_pinned_index() {
    let r = anonymous();
    let (index, _) = r.push_index("text-out", "v1");
    let run = ocifit(&["select", &format!("{}/text-out:v1", r.host()), "--platform", "linux/arm64"], &[], None);
    ok(&run);
    assert!(run.stdout.contains(&format!("pinned:   {}/text-out@{index}\n", r.host())), "{}", run.stdout);
}

// --- TLS ---------------------------------------------------------------------------

#[test]
fn tls_is_verified_and_ca_cert_adds_a_root() {
    let (r, ca) = fixture::tls();
    let (_, entries) = anonymous().push_index("over-tls", "v1");
    let reference = format!("{}/over-tls:v1", r.host());
    // Unknown issuer: an error, never a fallback to plain HTTP.
    fails(&select(&reference, &[]), &["TLS", "certificate"]);
    assert_eq!(r.settled_manifest_requests("over-tls", 0), 0);
    let run = select(&reference, &["--ca-cert", ca.to_str().unwrap()]);
    ok(&run);
    assert_eq!(json(&run)["selected"]["digest"], entries[1].as_str());
    assert_eq!(r.settled_manifest_requests("over-tls", 1), 1);
    fails(&select(&reference, &["--ca-cert", "/nonexistent/ca.pem"]), &["--ca-cert", "/nonexistent/ca.pem"]);
}

// --- verification and failures --------------------------------------------------

#[test]
fn tampered_index_blob_is_refused() {
    let r = anonymous();
    let (index, _) = r.push_index("tampered", "v1");
    let path = r.blob_path(&index);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("arm64"));
    std::fs::write(&path, text.replacen("arm64", "arm65", 1)).unwrap();
    let tampered = fixture::sha256(text.replacen("arm64", "arm65", 1).as_bytes());
    let run = select(&format!("{}/tampered:v1", r.host()), &[]);
    fails(&run, &["digest mismatch", &index, &tampered]);
    let run = select(&format!("{}/tampered@{index}", r.host()), &[]);
    fails(&run, &["digest mismatch", &index, &tampered]);
}

#[test]
fn unknown_tag_repository_and_digest() {
    let r = anonymous();
    r.push_index("known", "v1");
    fails(&select(&format!("{}/known:nope", r.host()), &[]), &["unknown tag or digest nope", "known"]);
    fails(&select(&format!("{}/never/pushed:v1", r.host()), &[]), &["never/pushed"]);
    let absent = fixture::sha256(b"not in the registry");
    fails(&select(&format!("{}/known@{absent}", r.host()), &[]), &["unknown tag or digest", &absent]);
    fails(&select(&format!("docker://{}/known@sha256:1234", r.host()), &[]), &["invalid reference", "sha256"]);
    fails(&select("docker://Bad/UPPER:v1", &[]), &["must be lowercase"]);
}

#[test]
fn oversize_manifest_is_refused() {
    // distribution 2.8 itself refuses to store manifests over 4 MiB, so a
    // front serves the big ones; the real registry serves the small one.
    let r = anonymous();
    let (index, _) = r.push_index("big", "v1");
    fails(&select(&format!("{}/big:v1", r.host()), &["--max-manifest-size", "1000"]), &["1000 bytes"]);
    let run = select(&format!("{}/big:v1", r.host()), &["--max-manifest-size", "100000"]);
    ok(&run);
    assert_eq!(json(&run)["source"]["digest"], index.as_str());

    let big = vec![b' '; 5 * 1024 * 1024];
    let declared = big.clone();
    let with_length = Front::start(
        "127.0.0.1",
        r.port,
        Box::new(move |line, _| {
            if is_manifest(line) {
                Action::Respond {
                    status: 200,
                    headers: vec![("Content-Type".into(), fixture::INDEX.into())],
                    body: declared.clone(),
                }
            } else {
                Action::Forward
            }
        }),
    );
    fails(&select(&format!("127.0.0.1:{}/big:v1", with_length.port), &[]), &["4194304 bytes", "before reading"]);
    let streamed = Front::start(
        "127.0.0.1",
        r.port,
        Box::new(move |line, _| {
            if is_manifest(line) {
                let mut raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\nConnection: close\r\n\r\n".to_vec();
                raw.extend_from_slice(&big);
                Action::Raw(raw)
            } else {
                Action::Forward
            }
        }),
    );
    fails(&select(&format!("127.0.0.1:{}/big:v1", streamed.port), &[]), &["4194304 bytes", "while reading"]);
}

#[test]
fn registry_down_fails_after_bounded_retries() {
    let port = fixture::free_port();
    let start = Instant::now();
    let run = select(&format!("127.0.0.1:{port}/app:v1"), &["--retries", "2"]);
    fails(&run, &["connection refused", "3 attempts"]);
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
}

#[test]
fn slow_registry_times_out() {
    let port = servers::silent_listener(30);
    let start = Instant::now();
    let run = select(&format!("127.0.0.1:{port}/app:v1"), &["--read-timeout", "1", "--retries", "0"]);
    fails(&run, &["timed out"]);
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
}

fn is_manifest(line: &str) -> bool {
    line.contains("/manifests/")
}

#[test]
fn service_unavailable_then_success_is_retried() {
    let r = anonymous();
    let (_, entries) = r.push_index("flaky", "v1");
    let failed = std::sync::atomic::AtomicBool::new(false);
    let front = Front::start(
        "127.0.0.1",
        r.port,
        Box::new(move |line, _| {
            if is_manifest(line) && !failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
                Action::Respond { status: 503, headers: vec![("Retry-After".into(), "0".into())], body: vec![] }
            } else {
                Action::Forward
            }
        }),
    );
    let run = select(&format!("127.0.0.1:{}/flaky:v1", front.port), &[]);
    ok(&run);
    assert_eq!(json(&run)["selected"]["digest"], entries[1].as_str());
    assert_eq!(front.requests().iter().filter(|(l, _)| is_manifest(l)).count(), 2);
    assert_eq!(r.settled_manifest_requests("flaky", 1), 1);

    let always = Front::start(
        "127.0.0.1",
        r.port,
        Box::new(|line, _| {
            if is_manifest(line) {
                Action::Respond { status: 503, headers: vec![], body: vec![] }
            } else {
                Action::Forward
            }
        }),
    );
    let run = select(&format!("127.0.0.1:{}/flaky:v1", always.port), &["--retries", "2"]);
    fails(&run, &["HTTP 503"]);
    assert_eq!(always.requests().iter().filter(|(l, _)| is_manifest(l)).count(), 3, "1 try + 2 retries");
}

#[test]
fn redirect_to_another_host_carries_no_credentials() {
    let r = anonymous();
    let (_, entries) = r.push_index("redirected", "v1");
    // B: another host (127.0.0.2), in front of the registry, recording heads.
    let b = Front::start("127.0.0.2", r.port, Box::new(|_, _| Action::Forward));
    let b_port = b.port;
    // A: wants basic auth, and sends manifest requests on to B.
    let a = Front::start(
        "127.0.0.1",
        r.port,
        Box::new(move |line, headers| {
            let authed = headers.iter().any(|(n, _)| n == "authorization");
            let path = line.split(' ').nth(1).unwrap_or_default().to_string();
            if !authed {
                Action::Respond {
                    status: 401,
                    headers: vec![("WWW-Authenticate".into(), "Basic realm=\"a\"".into())],
                    body: vec![],
                }
            } else if is_manifest(line) {
                Action::Respond {
                    status: 307,
                    headers: vec![("Location".into(), format!("http://127.0.0.2:{b_port}{path}"))],
                    body: vec![],
                }
            } else {
                Action::Forward
            }
        }),
    );
    let run = ocifit(
        &["select", &format!("127.0.0.1:{}/redirected:v1", a.port), "--creds-stdin", V3[0], V3[1], V3[2], V3[3]],
        &[],
        Some(&format!("{USER}:{PASSWORD}\n")),
    );
    ok(&run);
    assert_eq!(json(&run)["selected"]["digest"], entries[1].as_str());
    let a_manifest: Vec<_> = a.requests().into_iter().filter(|(l, _)| is_manifest(l)).collect();
    assert_eq!(a_manifest.len(), 1);
    assert!(a_manifest[0].1.iter().any(|(n, _)| n == "authorization"), "A got the credentials");
    let b_requests = b.requests();
    assert_eq!(b_requests.len(), 1, "{b_requests:?}");
    assert!(!b_requests[0].1.iter().any(|(n, _)| n == "authorization"), "B must not: {:?}", b_requests[0]);
    assert!(!run.stderr.contains(PASSWORD));
}

// --- basic auth ------------------------------------------------------------------

#[test]
fn basic_auth_from_every_credential_source() {
    let r = basic();
    let (_, entries) = r.push_index("private/app", "v1");
    let reference = format!("{}/private/app:v1", r.host());
    let args = ["select", &reference, V3[0], V3[1], V3[2], V3[3]];
    let dir = temp_dir("basic-creds");
    let check = |run: fixture::Run| {
        ok(&run);
        assert_eq!(json(&run)["selected"]["digest"], entries[1].as_str());
    };

    // docker config.json ($DOCKER_CONFIG, auths)
    auth_file(&dir, "docker/config.json", &r.host(), USER, PASSWORD);
    let docker = dir.join("docker");
    check(ocifit(&args, &[("DOCKER_CONFIG", &docker)], None));
    // containers auth.json ($REGISTRY_AUTH_FILE), keyed by repository
    let file = auth_file(&dir, "auth.json", &format!("{}/private", r.host()), USER, PASSWORD);
    check(ocifit(&args, &[("REGISTRY_AUTH_FILE", &file)], None));
    // $XDG_RUNTIME_DIR/containers/auth.json
    auth_file(&dir, "run/containers/auth.json", &r.host(), USER, PASSWORD);
    check(ocifit(&args, &[("XDG_RUNTIME_DIR", &dir.join("run"))], None));
    // --creds-stdin
    let mut with_stdin = args.to_vec();
    with_stdin.push("--creds-stdin");
    check(ocifit(&with_stdin, &[], Some(&format!("{USER}:{PASSWORD}\n"))));
    // docker credHelpers: a helper program on PATH
    let path = fixture::credential_helper(
        &dir,
        "ocifit-test",
        &format!(
            "read server\necho '{{\"ServerURL\":\"'$server'\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'"
        ),
    );
    let helpers = dir.join("helpers");
    std::fs::create_dir_all(&helpers).unwrap();
    std::fs::write(
        helpers.join("config.json"),
        serde_json::json!({"credHelpers": {r.host(): "ocifit-test"}}).to_string(),
    )
    .unwrap();
    check(ocifit(&args, &[("DOCKER_CONFIG", &helpers), ("PATH", Path::new(&path))], None));

    assert_eq!(r.settled_manifest_requests("private/app", 5), 5, "one manifest request per run");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn basic_auth_failures_never_print_the_secret() {
    let r = basic();
    r.push_index("private/denied", "v1");
    let reference = format!("{}/private/denied:v1", r.host());
    let run = select(&reference, &[]);
    fails(&run, &["requires a user name and password", "--creds-stdin"]);
    let dir = temp_dir("basic-wrong");
    let file = auth_file(&dir, "auth.json", &r.host(), USER, "wrong-Secret-123");
    let run = ocifit(&["select", &reference, V3[0], V3[1]], &[("REGISTRY_AUTH_FILE", &file)], None);
    fails(&run, &["refused the credentials", "auth.json"]);
    assert!(!run.stderr.contains("wrong-Secret-123") && !run.stdout.contains("wrong-Secret-123"));
    let _ = std::fs::remove_dir_all(dir);
}

// --- bearer tokens ---------------------------------------------------------------

#[test]
fn bearer_token_auth() {
    let (r, server) = bearer();
    let (index, entries) = r.push_index("tokens/app", "v1");
    let reference = format!("docker://{}/tokens/app:v1", r.host());
    let dir = temp_dir("bearer-creds");
    let file = auth_file(&dir, "auth.json", &r.host(), USER, PASSWORD);
    let before = server.requests.load(std::sync::atomic::Ordering::SeqCst);
    let run = ocifit(&["select", &reference, V3[0], V3[1], V3[2], V3[3]], &[("REGISTRY_AUTH_FILE", &file)], None);
    ok(&run);
    let doc = json(&run);
    assert_eq!(doc["selected"]["digest"], entries[1].as_str());
    assert_eq!(doc["source"]["digest"], index.as_str());
    assert_eq!(server.requests.load(std::sync::atomic::Ordering::SeqCst) - before, 1, "one token request");
    assert_eq!(r.settled_manifest_requests("tokens/app", 1), 1, "{}", r.log_text());

    // Anonymous: the token server refuses, ocifit says so.
    fails(&select(&reference, &[]), &["refused anonymous access"]);
    // Wrong password.
    let bad = auth_file(&dir, "bad.json", &r.host(), USER, "nope-Nope-9");
    let run = ocifit(&["select", &reference, V3[0], V3[1]], &[("REGISTRY_AUTH_FILE", &bad)], None);
    fails(&run, &["refused the credentials from", "bad.json"]);
    assert!(!run.stderr.contains("nope-Nope-9"));
    assert_eq!(r.manifest_requests("tokens/app"), 1, "no manifest request without a token");
    let _ = std::fs::remove_dir_all(dir);
}
