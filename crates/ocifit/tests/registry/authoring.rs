//! Authoring against real registries (Debian's docker-registry on
//! loopback): docs/authoring.md run command by command — three builds (and
//! an arm64 one) made by the test as OCI layouts, pushed by skopeo as
//! separate tags (one in another repository, one on another registry),
//! assembled by `index create` and `index add --image`, selected per
//! target, copied by `skopeo copy --all` — with the access logs showing
//! the cross-repository mount and the cross-registry copy. Also the dry
//! run and a missing image: nothing is written.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::fixture::{self, Registry, anonymous, ocifit, temp_dir};
use crate::images::{build_image, marker_in_layer, sha256};

/// The commands of the `sh` blocks of docs/authoring.md, continuation
/// lines joined, comments dropped.
fn doc_commands() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/authoring.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = trimmed == "```sh";
            continue;
        }
        if !in_sh || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let code = trimmed.split(" #").next().unwrap_or_default().trim_end();
        match code.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(code);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// One doc command with the example hosts made real and relative layout
/// paths put under `root`.
fn localize(command: &str, main: &str, ci: &str, root: &Path) -> Vec<String> {
    command
        .replace("registry.example.com/", &format!("{main}/walkthrough/"))
        .replace("ci.example.com/", &format!("{ci}/walkthrough/"))
        .split_whitespace()
        .map(|word| match word.strip_prefix("oci:") {
            Some(rest) => format!("oci:{}/{rest}", root.display()),
            None if word == "index.json" => root.join(word).display().to_string(),
            None => word.to_string(),
        })
        .collect()
}

fn skopeo(args: &[&str]) {
    fixture::require("skopeo");
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .arg(args[0])
        .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
        .args(&args[1..])
        .output()
        .expect("skopeo");
    assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn selected(reference: &str, platform: &str) -> String {
    let run = ocifit(&["select", reference, "--platform", platform, "--format", "json"], &[], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    doc["selected"]["digest"].as_str().unwrap().to_string()
}

/// GET a blob's bytes.
fn blob(r: &Registry, repo: &str, digest: &str) -> Vec<u8> {
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let mut resp = agent.get(format!("http://{}/v2/{repo}/blobs/{digest}", r.host())).call().unwrap();
    resp.body_mut().with_config().limit(1 << 20).read_to_vec().unwrap()
}

fn marker(r: &Registry, repo: &str, manifest: &str) -> String {
    let m: Value = serde_json::from_slice(&blob_manifest(r, repo, manifest)).unwrap();
    marker_in_layer(&blob(r, repo, m["layers"][0]["digest"].as_str().unwrap()))
}

fn blob_manifest(r: &Registry, repo: &str, digest: &str) -> Vec<u8> {
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let mut resp = agent
        .get(format!("http://{}/v2/{repo}/manifests/{digest}", r.host()))
        .header("Accept", fixture::MANIFEST)
        .call()
        .unwrap();
    resp.body_mut().read_to_vec().unwrap()
}

/// Wait for the access log to show `needle` (lines are written after responses).
fn logged(r: &Registry, needle: &str) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(3) {
        if r.log_text().contains(needle) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// docs/authoring.md, every `sh` command, in order; then what it promises.
#[test]
fn doc_walkthrough_runs() {
    let main = anonymous();
    let ci = Registry::start("ci", None);
    let root = temp_dir("walkthrough");
    // What the doc's buildah commands make: the builds as OCI layouts.
    let builds = root.join("builds");
    build_image(&builds, "generic", "built with -march=x86-64", "linux", "amd64");
    build_image(&builds, "v3", "built with -march=x86-64-v3", "linux", "amd64");
    build_image(&builds, "v4", "built with -march=x86-64-v4", "linux", "amd64");
    build_image(&builds, "arm64", "built for arm64", "linux", "arm64");

    let commands = doc_commands();
    assert!(commands.len() >= 15, "docs/authoring.md lost its commands: {commands:?}");
    for command in &commands {
        let args = localize(command, &main.host(), &ci.host(), &root);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match args[0] {
            "skopeo" => skopeo(&args[1..]),
            "ocifit" => {
                let run = ocifit(&args[1..], &[], None);
                assert_eq!(run.code, 0, "{command}\nstdout: {}\nstderr: {}", run.stdout, run.stderr);
                if args.contains(&"--dry-run") {
                    assert!(run.stderr.contains("would "), "{command}: {}", run.stderr);
                }
            }
            other => panic!("docs/authoring.md runs {other}, which this test does not know"),
        }
    }

    // The promises of step 5: each target gets its build, and the build's
    // layers are in walkthrough/app itself.
    let index = format!("docker://{}/walkthrough/app:1.0", main.host());
    for (platform, want) in [
        ("linux/amd64", "built with -march=x86-64"),
        ("linux/amd64/v3", "built with -march=x86-64-v3"),
        ("linux/amd64/v4", "built with -march=x86-64-v4"),
        ("linux/arm64", "built for arm64"),
    ] {
        let digest = selected(&index, platform);
        assert_eq!(marker(main, "walkthrough/app", &digest), want, "{platform}");
    }
    let v4 = selected(&format!("docker://{}/walkthrough/app-builds:v4", main.host()), "linux/amd64");
    assert_eq!(selected(&index, "linux/amd64/v4"), v4);
    // The v4 build's blobs were mounted from app-builds; the arm64 build's
    // copied from the other registry (read there, uploaded here).
    let mount = "\"POST /v2/walkthrough/app/blobs/uploads/?mount=sha256%3A";
    assert!(logged(main, mount), "no mount in the access log:\n{}", main.log_text());
    let mounted = main.log_text().lines().filter(|l| l.contains(mount)).map(str::to_string).collect::<Vec<_>>();
    assert!(
        !mounted.is_empty() && mounted.iter().all(|l| l.contains("&from=walkthrough%2Fapp-builds HTTP/1.1\" 201 ")),
        "mounts not from app-builds, or not 201 Created: {mounted:#?}"
    );
    let arm = selected(&index, "linux/arm64");
    let arm_manifest: Value = serde_json::from_slice(&blob_manifest(main, "walkthrough/app", &arm)).unwrap();
    let arm_layer = arm_manifest["layers"][0]["digest"].as_str().unwrap();
    assert!(logged(&ci, &format!("\"GET /v2/walkthrough/app/blobs/{arm_layer} HTTP/1.1\" 200")), "{}", ci.log_text());
    assert!(logged(main, "\"PUT /v2/walkthrough/app/blobs/uploads/"), "{}", main.log_text());
    // The index file pushed as 1.0-rc: the generic build first, v3 for v3.
    let rc = format!("docker://{}/walkthrough/app:1.0-rc", main.host());
    assert_eq!(selected(&rc, "linux/amd64"), selected(&index, "linux/amd64"));
    assert_eq!(selected(&rc, "linux/amd64/v4"), selected(&index, "linux/amd64/v3"));
    // The mirror serves the authored index to a runtime that ignores
    // features: on an x86-64-v3 node it is rewritten so that the first
    // linux/amd64 entry, what such a runtime takes, is the v3 build.
    let mirror = crate::mirror::Mirror::start(
        &["--upstream", &format!("http://{}", main.host()), "--platform", "linux/amd64/v3"],
        &root.join("mirror-cache"),
    );
    let served = crate::mirror::request("GET", &mirror.url("/v2/walkthrough/app/manifests/1.0"), None);
    assert_eq!(served.status, 200, "{}", String::from_utf8_lossy(&served.body));
    assert_eq!(served.header("docker-content-digest"), Some(sha256(&served.body).as_str()));
    let first_amd64 = served.json()["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "amd64")
        .map(|m| m["digest"].as_str().unwrap().to_string());
    assert_eq!(first_amd64, Some(selected(&index, "linux/amd64/v3")));
    drop(mirror);
    // skopeo takes the whole index along.
    let copy = root.join("copy");
    skopeo(&["copy", "--all", &index, &format!("oci:{}:1.0", copy.display())]);
    let _ = std::fs::remove_dir_all(&root);
}

/// Build an amd64 image marked `tag` in the layout `root/builds` and push
/// it with skopeo as `repo:tag` to `r`; returns its `docker://` reference.
fn pushed_build(r: &Registry, root: &Path, repo: &str, tag: &str) -> String {
    let builds = root.join("builds");
    build_image(&builds, tag, tag, "linux", "amd64");
    let reference = format!("docker://{}/{repo}:{tag}", r.host());
    skopeo(&["copy", &format!("oci:{}:{tag}", builds.display()), &reference]);
    reference
}

#[test]
fn dry_run_pushes_nothing_and_says_would() {
    let r = anonymous();
    let root = temp_dir("author-dry");
    let host = r.host();
    let generic = pushed_build(r, &root, "dry/app", "generic");
    let v3 = pushed_build(r, &root, "dry/builds", "v3");
    // Writes to dry/… (other tests share the registry); the log settles first.
    let writes = || {
        let log = r.log_text();
        log.lines().filter(|l| l.contains("\"PUT /v2/dry/") || l.contains("\"POST /v2/dry/")).count()
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let before = writes();
    let run = ocifit(
        &["index", "create", &generic, &v3, "--dry-run", "--push", &format!("docker://{host}/dry/app:1.0")],
        &[],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["manifests"].as_array().unwrap().len(), 2);
    for needle in [
        "would mount blob sha256:",
        &format!("from {host}/dry/builds"),
        &format!("would push manifest {}", doc["manifests"][1]["digest"].as_str().unwrap()),
        &format!("would push index {} as {host}/dry/app:1.0", sha256(run.stdout.as_bytes())),
    ] {
        assert!(run.stderr.contains(needle), "{needle:?} not in {}", run.stderr);
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(writes(), before, "a dry run wrote to the registry");
    let _ = std::fs::remove_dir_all(&root);
}

/// Issue 14 item 10: `index create --push docker://… --format json`: the
/// dry run lists exactly the uploads then made (blobs mounted from the
/// other repository of the registry, the manifest pushed), and the output's
/// digest and size are those of the index the registry stores.
#[test]
fn s14_10_push_to_a_registry_reports_in_json() {
    let r = anonymous();
    let root = temp_dir("author-json");
    let host = r.host();
    let generic = pushed_build(r, &root, "json/app", "generic");
    let v3 = pushed_build(r, &root, "json/builds", "v3");
    let target = format!("docker://{host}/json/app:1.0");
    let create = |dry_run: bool| {
        let mut args = vec!["index", "create", &generic, &v3, "--push", &target, "--format", "json"];
        if dry_run {
            args.push("--dry-run");
        }
        let run = ocifit(&args, &[], None);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stderr, "");
        serde_json::from_str::<Value>(&run.stdout).unwrap()
    };
    let planned = create(true);
    let done = create(false);
    assert_eq!(planned["uploads"], done["uploads"]);
    let uploads = done["uploads"].as_array().unwrap();
    let v3_manifest = &done["changes"][1]["digest"];
    assert!(uploads.iter().any(|u| u["kind"] == "blob"), "{uploads:?}");
    for u in uploads {
        let action = if u["kind"] == "blob" { "mount" } else { "push" };
        assert_eq!(
            (&u["action"], &u["from"], &u["to"]),
            (&action.into(), &format!("{host}/json/builds").into(), &format!("{host}/json/app").into()),
            "{u}"
        );
        if u["kind"] == "manifest" {
            assert_eq!(&u["digest"], v3_manifest);
        }
    }
    let digest = done["outputs"][0]["digest"].as_str().unwrap();
    let stored = std::fs::read(r.blob_path(digest)).unwrap();
    assert_eq!(sha256(&stored), digest);
    let want = serde_json::json!({"kind": "registry", "reference": format!("{host}/json/app:1.0"), "digest": digest,
                                  "size": stored.len(), "written": true});
    assert_eq!(done["outputs"], serde_json::json!([want]));
    assert_eq!((&planned["outputs"][0]["digest"], &planned["outputs"][0]["written"]), (&want["digest"], &false.into()));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_missing_image_is_named_and_nothing_is_pushed() {
    let r = anonymous();
    let root = temp_dir("author-missing");
    let host = r.host();
    let generic = pushed_build(r, &root, "missing/app", "generic");
    let target = format!("docker://{host}/missing/app:1.0");
    let missing = format!("docker://{host}/missing/app:v5");
    for args in [
        vec!["index", "create", &generic, &missing, "--push", &target],
        vec!["index", "add", &generic, "--image", &missing, "--features", "avx2", "--push", &target],
    ] {
        let run = ocifit(&args, &[], None);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        let named = format!("image {missing}: unknown tag or digest v5 in {host}/missing/app");
        assert!(run.stderr.contains(&named), "{}", run.stderr);
        assert_eq!(ocifit(&["select", &target], &[], None).code, 2, "1.0 was pushed");
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// A cross-repository mount on a bearer registry: the token for the mount
/// grants `pull,push` on the target and `pull` on the source (two `scope`
/// parameters), so distribution links the blobs (201) and nothing is
/// copied.
#[test]
fn a_bearer_mount_gets_a_token_for_both_repositories() {
    let (r, _server) = fixture::bearer();
    let dir = temp_dir("author-bearer-mount");
    let auth = fixture::auth_file(&dir, "auth.json", &r.host(), fixture::USER, fixture::PASSWORD);
    let env = [("REGISTRY_AUTH_FILE", auth.as_path())];
    let image = r.push_image("bearer-mount/src", "linux", "amd64", "bearer-mount", false);
    let source = format!("docker://{}/bearer-mount/src@{}", r.host(), image["digest"].as_str().unwrap());
    let target = format!("docker://{}/bearer-mount/app:1.0", r.host());
    let run = ocifit(&["index", "create", &source, "--push", &target], &env, None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr.matches("ocifit: mounted blob sha256:").count(), 2, "{}", run.stderr);
    assert!(!run.stderr.contains("copied"), "{}", run.stderr);
    let mounts: Vec<String> = r
        .log_text()
        .lines()
        .filter(|l| l.contains("\"POST /v2/bearer-mount/app/blobs/uploads/?mount=sha256%3A"))
        .map(str::to_string)
        .collect();
    assert!(
        mounts.len() == 2 && mounts.iter().all(|l| l.contains("&from=bearer-mount%2Fsrc HTTP/1.1\" 201 ")),
        "not two mounts answered 201 Created: {mounts:#?}"
    );
    assert_eq!(selected_with(&target, &env), image["digest"].as_str().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Mount first, then copy: where the token server grants only the first
/// scope it is asked for (`onescope/…` here, as such servers do), the token
/// for the mount covers the target only, so the registry refuses to mount
/// from a repository the token does not cover (distribution: 401
/// insufficient_scope) and the blob is copied through a plain upload.
#[test]
fn a_declined_mount_falls_back_to_a_copy() {
    let (r, _server) = fixture::bearer();
    let dir = temp_dir("author-declined");
    let auth = fixture::auth_file(&dir, "auth.json", &r.host(), fixture::USER, fixture::PASSWORD);
    let env = [("REGISTRY_AUTH_FILE", auth.as_path())];
    let image = r.push_image("declined/src", "linux", "amd64", "declined", false);
    let source = format!("docker://{}/declined/src@{}", r.host(), image["digest"].as_str().unwrap());
    let target = format!("docker://{}/onescope/app:1.0", r.host());
    let run = ocifit(&["index", "create", &source, "--push", &target], &env, None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr.matches("ocifit: copied blob sha256:").count(), 2, "{}", run.stderr);
    assert!(!run.stderr.contains("mounted"), "{}", run.stderr);
    assert!(
        logged(r, "\"POST /v2/onescope/app/blobs/uploads/?mount=sha256%3A")
            && r.log_text()
                .lines()
                .any(|l| l.contains("/v2/onescope/app/blobs/uploads/?mount=") && l.contains("\" 401 ")),
        "no declined mount in the access log:\n{}",
        r.log_text()
    );
    assert_eq!(selected_with(&target, &env), image["digest"].as_str().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

fn selected_with(reference: &str, env: &[(&str, &Path)]) -> String {
    let run = ocifit(&["select", reference, "--platform", "linux/amd64", "--format", "json"], env, None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    doc["selected"]["digest"].as_str().unwrap().to_string()
}

/// Peak resident memory (KiB) of one ocifit run, from GNU time.
fn peak_rss_kib(args: &[&str]) -> u64 {
    fixture::require("time");
    let out = Command::new("/usr/bin/time")
        .args(["-f", "peak-rss-kib=%M"])
        .arg(env!("CARGO_BIN_EXE_ocifit"))
        .args(args)
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ocifit {args:?}: {stderr}");
    stderr.lines().find_map(|l| l.strip_prefix("peak-rss-kib=")).unwrap().trim().parse().unwrap()
}

/// Blobs are streamed, never held whole in memory: a 96 MiB layer goes
/// from a layout into a registry, then from that registry to another,
/// with ocifit's peak memory well under the layer's size.
#[test]
fn blobs_are_streamed_not_held_in_memory() {
    use sha2::Digest as _;
    use std::io::Write;
    const LAYER: usize = 96 << 20;
    let main = anonymous();
    let ci = Registry::start("ci-big", None);
    let root = temp_dir("author-big");
    // A layout with one image whose layer is 96 MiB of pseudo-random bytes.
    let layout = root.join("big");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let temp = blobs.join("layer.tmp");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&temp).unwrap());
    let mut hasher = sha2::Sha256::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..LAYER / chunk.len() {
        for word in chunk.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        hasher.update(&chunk);
        file.write_all(&chunk).unwrap();
    }
    drop(file);
    let layer = format!("sha256:{:x}", hasher.finalize());
    std::fs::rename(&temp, blobs.join(&layer[7..])).unwrap();
    let put = |bytes: &[u8]| {
        let d = sha256(bytes);
        std::fs::write(blobs.join(&d[7..]), bytes).unwrap();
        d
    };
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": fixture::MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": LAYER}]});
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": fixture::MANIFEST,
        "digest": put(&manifest), "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();

    let on_main = format!("docker://{}/big/app:1.0", main.host());
    let from_layout = peak_rss_kib(&["index", "create", &format!("oci:{}:v1", layout.display()), "--push", &on_main]);
    let on_ci = format!("docker://{}/big/app:1.0", ci.host());
    let between_registries = peak_rss_kib(&["index", "create", &on_main, "--push", &on_ci]);
    // Both registries hold the whole layer, byte for byte.
    for r in [main, &ci] {
        let stored = std::fs::metadata(r.blob_path(&layer)).unwrap().len();
        assert_eq!(stored, LAYER as u64);
    }
    let limit = (LAYER as u64 / 1024) / 3;
    assert!(
        from_layout < limit && between_registries < limit,
        "peak memory {from_layout} KiB (layout to registry), {between_registries} KiB (registry to registry) \
         for a {} KiB layer",
        LAYER / 1024
    );
    eprintln!(
        "peak RSS copying a 96 MiB layer: layout→registry {from_layout} KiB, registry→registry {between_registries} KiB"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// Registries often answer a blob GET with a redirect to storage on
/// another host: the streamed copy follows it (to another origin here).
#[test]
fn a_redirected_blob_is_copied() {
    let main = anonymous();
    let ci = Registry::start("ci-redirect", None);
    let root = temp_dir("author-redirect");
    let generic = pushed_build(main, &root, "redirect/app", "generic");
    let real = main.port;
    let front = crate::servers::Front::start(
        "127.0.0.1",
        real,
        Box::new(move |line, _| match line.split(' ').nth(1) {
            Some(path) if line.starts_with("GET ") && path.contains("/blobs/sha256:") => {
                crate::servers::Action::Respond {
                    status: 307,
                    headers: vec![("Location".into(), format!("http://127.0.0.1:{real}{path}"))],
                    body: Vec::new(),
                }
            }
            _ => crate::servers::Action::Forward,
        }),
    );
    let through_front = generic.replace(&main.host(), &format!("127.0.0.1:{}", front.port));
    let target = format!("docker://{}/redirect/app:1.0", ci.host());
    let run = ocifit(&["index", "create", &through_front, "--push", &target], &[], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let digest = selected(&target, "linux/amd64");
    assert_eq!(marker(&ci, "redirect/app", &digest), "generic");
    let redirected =
        front.requests().iter().filter(|(l, _)| l.starts_with("GET ") && l.contains("/blobs/sha256:")).count();
    // The config read for the entry's platform, then config and layer copied.
    assert_eq!(redirected, 3, "blob GETs through the redirect: {:?}", front.requests());
    let _ = std::fs::remove_dir_all(&root);
}
