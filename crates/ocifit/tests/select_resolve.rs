//! `select` and `resolve` as a new user meets them: selecting for another
//! node from its data (`--cpuinfo`, `--cpuid`, `--profile`), the text
//! table's one-phrase rejections, pinned layout references that ocifit
//! reads back, `resolve --format json`, and transports ocifit does not read.

mod common;

use std::path::Path;

use common::ocifit;
use serde_json::{Value, json};

const APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fleet/app.json");
const CPUID_DUMPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ocifit-host/tests/data/cpuid");

fn selected(args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["select", APP, "--format", "json"];
    all.extend(args);
    let run = ocifit(&all, None);
    (run.code, if run.code == Some(2) { json!(run.stderr) } else { run.json() })
}

#[test]
fn select_for_a_node_from_its_cpuinfo_cpuid_dump_or_profile() {
    let dir = common::scratch_dir("select-node-data");
    // A Zen 4 whose OS did not enable AVX-512 state: x86-64-v3, so entry 1 (avx2 bmi2 fma).
    let dump = format!("{CPUID_DUMPS}/zen4-no-zmm.txt");
    let (code, doc) = selected(&["--cpuid", &dump]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!((doc["selected"]["index"].clone(), doc["target"]["variant"].clone()), (json!(1), json!("v3")));

    // The same node as `ocifit host --format json` wrote it: the same choice.
    let profile = ocifit(&["host", "--cpuid", &dump, "--format", "json"], None);
    let path = dir.join("zen4.json");
    std::fs::write(&path, &profile.stdout).unwrap();
    let (_, from_profile) = selected(&["--profile", path.to_str().unwrap()]);
    assert_eq!(from_profile["target"], doc["target"]);
    assert_eq!(from_profile["selected"]["index"], 1);

    // A /proc/cpuinfo captured on an x86-64-v2 machine: only the fallback runs.
    let cpuinfo = dir.join("node7-cpuinfo.txt");
    std::fs::write(
        &cpuinfo,
        "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu cmov cx8 fxsr mmx sse sse2 lm pni ssse3 cx16 \
         sse4_1 sse4_2 popcnt lahf_lm avx\n\n",
    )
    .unwrap();
    let (code, doc) = selected(&["--cpuinfo", cpuinfo.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["selected"]["index"], 0);
    let text = ocifit(&["select", APP, "--cpuinfo", cpuinfo.to_str().unwrap()], None).stdout;
    assert!(text.contains(&format!("target:   linux/amd64/v2 (16 features) (from {})", cpuinfo.display())), "{text}");

    // Bad node data: exit 2 naming the flag and the file; node data and --platform exclude each other.
    let (code, err) = selected(&["--profile", cpuinfo.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        err.as_str().unwrap().contains("--profile") && err.as_str().unwrap().contains("node7-cpuinfo.txt"),
        "{err}"
    );
    let run = ocifit(&["select", APP, "--cpuid", &dump, "--platform", "linux/amd64"], None);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

#[test]
fn select_rejections_are_one_short_phrase_and_this_host_is_named() {
    let dir = common::scratch_dir("select-phrase");
    let many: Vec<String> = ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx512_vnni", "avx512_bf16"]
        .iter()
        .map(|f| f.to_string())
        .collect();
    let index = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": format!("sha256:{}", "a".repeat(64)),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": format!("sha256:{}", "b".repeat(64)),
         "platform": {"os": "linux", "architecture": "amd64", "features": many}}]});
    let path = dir.join("index.json");
    std::fs::write(&path, index.to_string()).unwrap();
    let run = ocifit(&["select", path.to_str().unwrap(), "--platform", "linux/amd64/v2"], None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let row = run.stdout.lines().find(|l| l.starts_with("1 ")).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        row.ends_with("rejected: lacks avx512f avx512bw avx512cd avx512dq avx512vl avx512_vnni avx512_bf16"),
        "{row}"
    );
    let longest = run.stdout.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(longest < 200, "a line of {longest} characters:\n{}", run.stdout);
    assert!(!run.stdout.contains("this host"), "--platform is not this host: {}", run.stdout);

    let run = ocifit(&["select", path.to_str().unwrap()], None);
    let target = run.stdout.lines().find(|l| l.starts_with("target:")).unwrap();
    assert!(target.ends_with(" (this host)"), "{target}");
}

/// A tagged OCI layout of `app.json`'s first two entries, as real images
/// (configs and manifests in `blobs/`).
fn layout(dir: &Path) {
    use sha2::{Digest as _, Sha256};
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let blob = |media_type: &str, doc: Value| {
        let bytes = serde_json::to_vec(&doc).unwrap();
        let hex = format!("{:x}", Sha256::digest(&bytes));
        std::fs::write(blobs.join(&hex), &bytes).unwrap();
        json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
    };
    let manifest = "application/vnd.oci.image.manifest.v1+json";
    let mut entries = Vec::new();
    for features in [json!(null), json!(["avx2", "bmi2", "fma"])] {
        let config = blob(
            "application/vnd.oci.image.config.v1+json",
            json!({"os": "linux", "architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": []},
                   "config": {"Labels": {"build": features.to_string()}}}),
        );
        let mut desc =
            blob(manifest, json!({"schemaVersion": 2, "mediaType": manifest, "config": config, "layers": []}));
        desc["platform"] = json!({"os": "linux", "architecture": "amd64"});
        if !features.is_null() {
            desc["platform"]["features"] = features;
        }
        entries.push(desc);
    }
    let index_type = "application/vnd.oci.image.index.v1+json";
    let mut index = blob(index_type, json!({"schemaVersion": 2, "mediaType": index_type, "manifests": entries}));
    index["annotations"] = json!({"org.opencontainers.image.ref.name": "v1"});
    let top = json!({"schemaVersion": 2, "mediaType": index_type, "manifests": [index]});
    std::fs::write(dir.join("index.json"), top.to_string()).unwrap();
}

#[test]
fn resolve_prints_a_pinned_layout_reference_that_ocifit_reads_back() {
    let dir = common::scratch_dir("resolve-pinned").join("my:layout");
    layout(&dir);
    let source = format!("oci:{}:v1", dir.display());
    let run = ocifit(&["resolve", &source, "--platform", "linux/amd64/v3"], None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let pinned = run.stdout.trim_end().to_string();
    assert!(pinned.starts_with(&format!("oci:{}@sha256:", dir.display())), "{pinned}");

    // The pinned entry, read back: one entry, with the platform its index gave it.
    let run = ocifit(&["select", &pinned, "--platform", "linux/amd64/v3", "--format", "json"], None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["selected"]["digest"].as_str(), pinned.rsplit_once('@').map(|(_, d)| d));
    assert_eq!(doc["selected"]["platform"]["features"], json!(["avx2", "bmi2", "fma"]));
    assert_eq!(doc["source"]["input"], pinned.as_str());
    // ...and resolved again, it pins to itself.
    let again = ocifit(&["resolve", &pinned, "--platform", "linux/amd64/v3"], None);
    assert_eq!(again.stdout.trim_end(), pinned);

    // The `pinned:` line of select (the platform index) reads back too.
    let text = ocifit(&["select", &source, "--platform", "linux/amd64/v3"], None).stdout;
    let index_pin = text.lines().find_map(|l| l.strip_prefix("pinned:   ")).unwrap_or_else(|| panic!("{text}"));
    let run = ocifit(&["select", index_pin, "--platform", "linux/amd64/v3", "--format", "json"], None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.json()["candidates"].as_array().unwrap().len(), 2);

    // resolve --format json: the reference, the entry, the source.
    let run = ocifit(&["resolve", &source, "--platform", "linux/amd64/v3", "--format", "json"], None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["reference"], pinned.as_str());
    assert_eq!(doc["index"], 1);
    assert_eq!(doc["platform"]["features"], json!(["avx2", "bmi2", "fma"]));
    assert_eq!(doc["source"]["tag"], "v1");
    let file = ocifit(&["resolve", APP, "--platform", "linux/amd64/v3", "--format", "json"], None).json();
    assert_eq!(file["reference"], Value::Null, "a file has nothing to pin to");
    assert_eq!(file["digest"], "sha256:0000000000000000000000000000000000000000000000000000000000000a11");
}

#[test]
fn other_transports_exit_2_naming_the_ones_ocifit_reads() {
    for arg in ["dir:/tmp/ocifit-no-such", "docker-archive:/tmp/app.tar", "containers-storage:app:v1"] {
        let run = ocifit(&["select", arg, "--platform", "linux/amd64"], None);
        assert_eq!(run.code, Some(2), "{arg}");
        let transport = &arg[..=arg.find(':').unwrap()];
        assert_eq!(
            run.stderr,
            format!(
                "ocifit: {arg}: unsupported transport {transport}; supported: FILE, -, oci:, oci-archive:, docker://\n"
            )
        );
    }
}
