//! `ocifit index … --push` against the real registry: the edited index is
//! pushed under a new tag, reads back byte for byte as ocifit wrote it,
//! the images are untouched, `skopeo copy --all` takes the new tag, and a
//! target repository without the images is refused before anything is
//! pushed.

use std::process::Command;

use serde_json::Value;

use crate::fixture::{self, INDEX, Registry, anonymous, basic, ocifit, sha256, temp_dir};

/// GET a manifest's exact bytes (any of the four media types).
fn get_manifest(r: &Registry, repo: &str, reference: &str) -> Option<Vec<u8>> {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().into();
    let mut resp = agent
        .get(format!("http://{}/v2/{repo}/manifests/{reference}", r.host()))
        .header(
            "Accept",
            format!("{INDEX}, {}, {}, {}", fixture::DOCKER_LIST, fixture::MANIFEST, fixture::DOCKER_MANIFEST),
        )
        .call()
        .unwrap();
    (resp.status().as_u16() == 200).then(|| resp.body_mut().read_to_vec().unwrap())
}

#[test]
fn edit_and_push_under_a_new_tag() {
    let r = anonymous();
    let repo = "edit/app";
    let (index, entries) = r.push_index(repo, "v1");
    let images_before: Vec<Vec<u8>> = entries.iter().map(|d| get_manifest(r, repo, d).unwrap()).collect();
    let dir = temp_dir("index-edit");
    let out = dir.join("pushed.json");
    let source = format!("docker://{}/{repo}:v1", r.host());
    let target = format!("docker://{}/{repo}:v1-avx512", r.host());
    let run = ocifit(
        &[
            "index",
            "add",
            &source,
            "--digest",
            &entries[1],
            "--features",
            "avx2,bmi2,fma,avx512f",
            "--push",
            &target,
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written = std::fs::read(&out).unwrap();
    let digest = sha256(&written);
    assert_eq!(run.stdout, format!("{}/{repo}@{digest}\n", r.host()));
    // Read back: the same bytes, by tag and by digest.
    assert_eq!(get_manifest(r, repo, "v1-avx512").unwrap(), written);
    assert_eq!(get_manifest(r, repo, &digest).unwrap(), written);
    let doc: Value = serde_json::from_slice(&written).unwrap();
    assert_eq!(doc["manifests"].as_array().unwrap().len(), 4);
    assert_eq!(doc["manifests"][2]["digest"], entries[1].as_str());
    assert_eq!(doc["manifests"][2]["platform"]["features"], serde_json::json!(["avx2", "bmi2", "fma", "avx512f"]));
    // The images and the old tag are untouched.
    let images_after: Vec<Vec<u8>> = entries.iter().map(|d| get_manifest(r, repo, d).unwrap()).collect();
    assert_eq!(images_after, images_before);
    assert_eq!(sha256(&get_manifest(r, repo, "v1").unwrap()), index);
    // ocifit selects from the new tag like from any other.
    let run = ocifit(
        &["select", &target, "--platform", "linux/amd64", "--features", "avx512f,avx2,bmi2,fma", "--format", "json"],
        &[],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sel: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(sel["selected"]["index"], 2);

    // skopeo copies every platform of the edited tag: to another
    // repository (with --preserve-digests the index arrives byte for byte,
    // features included; without, skopeo 1.9 compresses the test images'
    // plain-tar layers and re-serializes the index without
    // `platform.features`), and to an OCI layout.
    fixture::require("skopeo");
    let skopeo = |args: &[&str]| {
        let out = Command::new("skopeo").arg("--insecure-policy").args(args).output().expect("skopeo");
        assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let copied = format!("docker://{}/edit/copied:v1", r.host());
    skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &target,
        &copied,
    ]);
    assert_eq!(get_manifest(r, "edit/copied", "v1").unwrap(), written);
    let layout = dir.join("layout");
    skopeo(&["copy", "--all", "--src-tls-verify=false", &target, &format!("oci:{}:edited", layout.display())]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn push_checks_the_target_has_every_manifest() {
    let r = anonymous();
    let (_, entries) = r.push_index("edit/source", "v1");
    let target = format!("docker://{}/edit/elsewhere:v1", r.host());
    let run = ocifit(&["index", "fix-order", &format!("{}/edit/source:v1", r.host()), "--push", &target], &[], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    for d in &entries {
        assert!(run.stderr.contains(d.as_str()), "{d} not in {}", run.stderr);
    }
    assert!(run.stderr.contains("lacks 3 manifests") && run.stderr.contains("nothing was pushed"), "{}", run.stderr);
    assert!(get_manifest(r, "edit/elsewhere", "v1").is_none());

    // Only the one that is missing is listed.
    let (_, others) = r.push_index("edit/partial", "v1");
    let doc = serde_json::json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [
        {"mediaType": fixture::MANIFEST, "digest": others[0], "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": fixture::MANIFEST, "digest": entries[2], "size": 1, "platform": {"os": "linux", "architecture": "arm64"}},
    ]});
    let run = ocifit(
        &["index", "fix-order", "-", "--push", &format!("{}/edit/partial:v2", r.host())],
        &[],
        Some(&doc.to_string()),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("lacks 1 manifest the index lists: {}", entries[2])), "{}", run.stderr);
}

#[test]
fn push_by_digest_and_with_basic_auth() {
    let r = basic();
    let repo = "edit/private";
    let (_, entries) = r.push_index(repo, "v1");
    let dir = temp_dir("index-edit-auth");
    let auth = fixture::auth_file(&dir, "auth.json", &r.host(), fixture::USER, fixture::PASSWORD);
    let env = [("REGISTRY_AUTH_FILE", auth.as_path())];
    let source = format!("{}/{repo}:v1", r.host());
    // What the edit gives, to know its digest.
    let dry =
        ocifit(&["index", "remove", &source, "--entry", "2", "-o", dir.join("out.json").to_str().unwrap()], &env, None);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let bytes = std::fs::read(dir.join("out.json")).unwrap();
    let digest = sha256(&bytes);
    // A digest that is not the result's is refused; the right one is pushed (untagged).
    let wrong = format!("{}/{repo}@{}", r.host(), entries[0]);
    let run = ocifit(&["index", "remove", &source, "--entry", "2", "--push", &wrong], &env, None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("the index to push is {digest}")), "{}", run.stderr);
    let run = ocifit(
        &["index", "remove", &source, "--entry", "2", "--push", &format!("docker://{}/{repo}@{digest}", r.host())],
        &env,
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, format!("{}/{repo}@{digest}\n", r.host()));
    // Without credentials: a clear 401 message, exit 2.
    let run = ocifit(&["index", "remove", &source, "--entry", "2", "--push", &format!("{source}-x")], &[], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("requires a user name and password"), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn push_with_bearer_tokens() {
    let (r, server) = fixture::bearer();
    let dir = temp_dir("index-edit-bearer");
    let auth = fixture::auth_file(&dir, "auth.json", &r.host(), fixture::USER, fixture::PASSWORD);
    let env = [("REGISTRY_AUTH_FILE", auth.as_path())];

    let repo = "tokens/edit";
    r.push_index(repo, "v1");
    let source = format!("docker://{}/{repo}:v1", r.host());
    let target = format!("docker://{}/{repo}:v2", r.host());
    let before = server.requests.load(std::sync::atomic::Ordering::SeqCst);
    let out = dir.join("pushed.json");
    let run = ocifit(
        &["index", "remove", &source, "--entry", "2", "--push", &target, "-o", out.to_str().unwrap()],
        &env,
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let digest = sha256(&std::fs::read(&out).unwrap());
    assert_eq!(run.stdout, format!("{}/{repo}@{digest}\n", r.host()));
    // One token for reading the source, one with `pull,push` for the target.
    assert_eq!(server.requests.load(std::sync::atomic::Ordering::SeqCst) - before, 2);
    // The new tag reads back (with a pull token) as what was written.
    let run = ocifit(&["select", &target, "--platform", "linux/amd64", "--format", "json"], &env, None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sel: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(sel["source"]["digest"], digest.as_str());

    // A token without `push`: the registry refuses, nothing is tagged.
    let repo = "readonly/app";
    r.push_index(repo, "v1");
    let source = format!("docker://{}/{repo}:v1", r.host());
    let run = ocifit(&["index", "remove", &source, "--entry", "2", "--push", &format!("{source}-edited")], &env, None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("did not grant pull,push on readonly/app for the credentials from"), "{}", run.stderr);
    assert!(run.stderr.contains("insufficient_scope"), "{}", run.stderr);
    let run = ocifit(&["select", &format!("{source}-edited"), "--platform", "linux/amd64"], &env, None);
    assert_eq!(run.code, 2, "the tag must not exist: {}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}
