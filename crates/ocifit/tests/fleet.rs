//! `ocifit fleet` and `ocifit k8s affinity` on real-shaped inputs:
//! `kubectl get nodes -o json` (amd64 with and without NFD's level labels,
//! arm64, and an s390x node no image has an entry for), `kubectl get
//! nodefeatures -A -o json`, host profiles and /proc/cpuinfo captures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fleet");
const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/conformance/cpuinfo");

const SPR: &str = "ip-10-0-1-17.eu-west-1.compute.internal";
const SKYLAKE: &str = "ip-10-0-2-40.eu-west-1.compute.internal";
const OLD_NFD: &str = "legacy-haswell-1";
const GRAVITON: &str = "ip-10-0-3-7.eu-west-1.compute.internal";
const S390X: &str = "mainframe-lpar-2";

/// A file of `tests/data/fleet`, or an absolute path as it is.
fn data(name: &str) -> String {
    if name.starts_with('/') { name.to_string() } else { format!("{DATA}/{name}") }
}

fn ocifit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ocifit")).args(args).output().expect("ocifit runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

/// (image, node) → (verdict, selected index).
fn verdicts(doc: &Value) -> BTreeMap<(String, String), (String, Option<u64>)> {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let image = Path::new(r["image"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
            (
                (image, r["node"].as_str().unwrap().to_string()),
                (r["verdict"].as_str().unwrap().to_string(), r["selected"]["index"].as_u64()),
            )
        })
        .collect()
}

fn fleet_json(nodes: &[&str], images: &[&str], extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["fleet", "--format", "json", "--nodes"];
    let nodes: Vec<String> = nodes.iter().map(|n| data(n)).collect();
    args.extend(nodes.iter().map(String::as_str));
    args.push("--image");
    let images: Vec<String> = images.iter().map(|i| data(i)).collect();
    args.extend(images.iter().map(String::as_str));
    args.extend(extra);
    let out = ocifit(&args);
    let doc = json(&out);
    (out, doc)
}

#[test]
fn kubectl_node_list_amd64_arm64_and_a_missing_architecture() {
    let (out, doc) = fleet_json(&["nodes.json"], &["app.json", "needs-bmi2.json", "avx512-only.json"], &[]);
    assert_eq!(out.status.code(), Some(1), "some pair cannot run");
    let v = verdicts(&doc);
    let get = |image: &str, node: &str| v[&(image.to_string(), node.to_string())].clone();
    let ok = |i| ("compatible".to_string(), Some(i));
    // app.json: 0 amd64, 1 amd64+avx2/bmi2/fma, 2 amd64/v4+avx512_vnni, 3 arm64, 4 arm64+sve.
    assert_eq!(get("app.json", SPR), ok(2));
    assert_eq!(get("app.json", SKYLAKE), ok(1), "X86_64_V3 proves the hidden BMI2");
    assert_eq!(get("app.json", OLD_NFD), ok(0), "without level labels BMI2 is not proven; the fallback runs");
    assert_eq!(get("app.json", GRAVITON), ok(4));
    assert_eq!(get("app.json", S390X), ("incompatible".into(), None));
    // needs-bmi2.json has no amd64 fallback: the old-NFD node is unknown, not incompatible.
    assert_eq!(get("needs-bmi2.json", OLD_NFD), ("unknown".into(), None));
    assert_eq!(get("needs-bmi2.json", SKYLAKE), ok(0));
    assert_eq!(get("avx512-only.json", SKYLAKE), ("incompatible".into(), None), "AVX512F is labelled when present");
    assert_eq!(get("avx512-only.json", SPR), ok(0));
    let unknown = doc["results"].as_array().unwrap().iter().find(|r| r["verdict"] == "unknown").unwrap();
    // avx2 implies the SSE chain (§4.6), which NFD's labels hide like bmi2:
    // the visible AVX2 proves the chain, nothing visible proves bmi2.
    assert_eq!(unknown["dependsOn"], serde_json::json!(["bmi2"]));
    let better = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["image"].as_str().unwrap().ends_with("/app.json") && r["node"] == OLD_NFD)
        .unwrap();
    assert_eq!(better["better"]["index"], 1);
    assert_eq!(better["dependsOn"], serde_json::json!(["bmi2"]));
    assert_eq!(doc["summary"]["nodes"], 6);
    assert_eq!(doc["summary"]["groups"].as_array().unwrap().len(), 5, "the two Sapphire Rapids nodes share a group");
    assert_eq!(doc["summary"]["pairs"], serde_json::json!({"compatible": 11, "incompatible": 6, "unknown": 1}));
}

/// docs/fleet.md, "Implied features": an avx2 image on NFD-labelled nodes
/// whose labels hide the SSE chain avx2 implies. Every amd64 node with a
/// visible `AVX2` runs it — including the one without level labels, which
/// was `unknown` when hidden features were never implied — and `k8s
/// affinity` admits exactly those nodes.
#[test]
fn s4_6_nfd_nodes_with_a_visible_avx2_run_an_avx2_image() {
    let (out, doc) = fleet_json(&["nodes.json"], &["needs-avx2.json"], &[]);
    assert_eq!(out.status.code(), Some(1), "the s390x node cannot run it");
    let v = verdicts(&doc);
    for node in [SPR, SKYLAKE, OLD_NFD] {
        assert_eq!(v[&("needs-avx2.json".into(), node.into())], ("compatible".into(), Some(0)), "{node}");
    }
    assert_eq!(v[&("needs-avx2.json".into(), GRAVITON.into())], ("compatible".into(), Some(1)));
    assert_eq!(v[&("needs-avx2.json".into(), S390X.into())], ("incompatible".into(), None));
    assert_eq!(doc["summary"]["pairs"], serde_json::json!({"compatible": 5, "incompatible": 1, "unknown": 0}));
    let affinity = affinity_agrees_with_fleet("nodes.json", "needs-avx2.json", &[]);
    let text = affinity.to_string();
    assert!(!text.contains("cpu-cpuid.SSE"), "no term names a hidden SSE label: {text}");
}

#[test]
fn only_incompatible_is_the_migration_report() {
    let (out, doc) = fleet_json(&["nodes.json"], &["needs-bmi2.json"], &["--only-incompatible"]);
    assert_eq!(out.status.code(), Some(1));
    let v = verdicts(&doc);
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(v[&("needs-bmi2.json".into(), OLD_NFD.into())].0, "unknown");
    assert_eq!(v[&("needs-bmi2.json".into(), S390X.into())].0, "incompatible");
    let s390x = doc["results"].as_array().unwrap().iter().find(|r| r["node"] == S390X).unwrap();
    assert_eq!(s390x["rejected"][0]["reasons"][0]["code"], "arch-mismatch");

    let text =
        ocifit(&["fleet", "--nodes", &data("nodes.json"), "--image", &data("needs-bmi2.json"), "--only-incompatible"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("unknown: runs only if the nodes have bmi2"), "{text}");
    assert!(text.contains("no entry for this platform (the image has linux/amd64, linux/arm64)"), "{text}");
    assert!(!text.contains(SKYLAKE), "compatible pairs are left out: {text}");
}

#[test]
fn node_features_complete_the_labels() {
    let (_, doc) = fleet_json(&["nodes.json", "nodefeatures.json"], &["needs-bmi2.json", "app.json"], &[]);
    let v = verdicts(&doc);
    assert_eq!(
        v[&("needs-bmi2.json".into(), OLD_NFD.into())],
        ("compatible".into(), Some(0)),
        "the NodeFeature lists BMI2, which the labels hide"
    );
    // A NodeFeature without a Node: the architecture comes from its flags (arm64).
    assert_eq!(v[&("app.json".into(), "graviton2-spot-9".into())], ("compatible".into(), Some(3)));
    assert_eq!(doc["summary"]["nodes"], 7);
}

#[test]
fn host_profiles_and_cpuinfo_captures() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fleet-cpuinfo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(format!("{CAPTURES}/linux-rhel7-haswell"), dir.join("hpc-haswell-01.cpuinfo")).unwrap();
    std::fs::copy(format!("{CAPTURES}/linux-amazon-neoverse_n1"), dir.join("arm-n1-07.txt")).unwrap();
    let dir_arg = dir.to_string_lossy().into_owned();
    let (out, doc) = fleet_json(&["profiles.json", &dir_arg], &["app.json", "needs-bmi2.json"], &[]);
    assert_eq!(out.status.code(), Some(1), "build-1 is x86-64-v2: needs-bmi2.json cannot run there");
    let v = verdicts(&doc);
    assert_eq!(v[&("app.json".into(), "build-1".into())], ("compatible".into(), Some(0)));
    assert_eq!(v[&("needs-bmi2.json".into(), "build-1".into())], ("incompatible".into(), None));
    assert_eq!(v[&("app.json".into(), "build-2".into())], ("compatible".into(), Some(4)), "sve");
    assert_eq!(v[&("app.json".into(), "hpc-haswell-01".into())], ("compatible".into(), Some(1)));
    assert_eq!(v[&("app.json".into(), "arm-n1-07".into())], ("compatible".into(), Some(3)), "Neoverse N1 has no SVE");
}

#[test]
fn every_pair_compatible_exits_0() {
    let out = ocifit(&["fleet", "--nodes", &data("profiles.json"), "--image", &data("app.json")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("fleet: 2 nodes in 2 groups of identical profiles, 1 image: 2 pairs compatible"),
        "{text}"
    );
    assert!(!text.contains("not known to run"), "{text}");
}

#[test]
fn csv_has_one_row_per_pair() {
    let out = ocifit(&[
        "fleet",
        "--nodes",
        &data("nodes.json"),
        "--image",
        &data("app.json"),
        &data("needs-bmi2.json"),
        "--format",
        "csv",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "image,node,group,verdict,selected_index,selected_digest,better_index,depends_on,error");
    assert_eq!(lines.len(), 1 + 2 * 6);
    // The SSE chain avx2 implies is proven by the visible AVX2 label (§4.6).
    assert!(lines.iter().any(|l| l.contains(",legacy-haswell-1,3,unknown,,,,bmi2,")), "{text}");
}

#[test]
fn text_matrix_shows_what_each_group_selects() {
    let out = ocifit(&["fleet", "--nodes", &data("nodes.json"), "--image", &data("app.json")]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("G1    linux/amd64/v4  2 nodes"), "{text}");
    assert!(text.contains("linux/amd64 (v1..v3)  1 node: legacy-haswell-1"), "{text}");
    let row = text.lines().find(|l| l.contains("app.json") && l.contains("#2")).unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("#0/#1?") && row.contains(" no "), "{row}");
}

#[test]
fn bad_node_inputs_exit_2_naming_the_input() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fleet-bad");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body, says) in [
        ("broken.json", "{\"kind\": \"List\", \"items\": [", "invalid JSON"),
        ("pods.json", r#"{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"p"}}]}"#, "kind \"Pod\""),
        (
            "nolabel.json",
            r#"{"kind":"NodeList","items":[{"metadata":{"name":"n1","labels":{}}}]}"#,
            "no kubernetes.io/os label",
        ),
        ("profiles.json", r#"[{"name":"a","os":"linux","architecture":"amd64","features":["avx9000"]}]"#, "avx9000"),
        ("garbage.txt", "hello\n", "not a /proc/cpuinfo capture"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        let out = ocifit(&["fleet", "--nodes", path.to_str().unwrap(), "--image", &data("app.json")]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(name) && err.contains(says), "{name}: {err}");
    }
    let out = ocifit(&["fleet", "--nodes", &data("nodes.json"), "--image", &data("missing.json")]);
    assert_eq!(out.status.code(), Some(2));
    let out = ocifit(&["fleet", "--nodes", &data("nodes.json"), &data("nodes.json"), "--image", &data("app.json")]);
    assert_eq!(out.status.code(), Some(2), "the same node twice");
}

/// An index whose one entry needs `rdpid`, which NFD has no label for.
fn rdpid_index(dir: &Path) -> PathBuf {
    let path = dir.join("rdpid.json");
    std::fs::write(
        &path,
        r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
           "digest":"sha256:aaaa","platform":{"os":"linux","architecture":"amd64","features":["rdpid"]}}]}"#,
    )
    .unwrap();
    path
}

/// `matchExpressions` (only `In` is written) against a node's labels.
fn admits(affinity: &Value, labels: &serde_json::Map<String, Value>) -> bool {
    let terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        .as_array()
        .unwrap();
    terms.iter().any(|t| {
        t["matchExpressions"].as_array().unwrap().iter().all(|e| {
            assert_eq!(e["operator"], "In");
            labels.get(e["key"].as_str().unwrap()).is_some_and(|v| e["values"].as_array().unwrap().contains(v))
        })
    })
}

/// `k8s affinity IMAGE` (with `flags`) admits exactly the nodes of the node
/// list `nodes` that `fleet` finds compatible; returns the affinity.
fn affinity_agrees_with_fleet(nodes: &str, image: &str, flags: &[&str]) -> Value {
    let list: Value = serde_json::from_str(&std::fs::read_to_string(data(nodes)).unwrap()).unwrap();
    let image_path = data(image);
    let mut args = vec!["k8s", "affinity", image_path.as_str(), "--format", "json"];
    args.extend(flags);
    let out = ocifit(&args);
    assert_eq!(out.status.code(), Some(0), "{image}: {}", String::from_utf8_lossy(&out.stderr));
    let affinity = json(&out);
    let (_, doc) = fleet_json(&[nodes], &[image], &[]);
    let v = verdicts(&doc);
    for node in list["items"].as_array().unwrap() {
        let name = node["metadata"]["name"].as_str().unwrap();
        let labels = node["metadata"]["labels"].as_object().unwrap();
        let compatible = v[&(image.to_string(), name.to_string())].0 == "compatible";
        assert_eq!(admits(&affinity, labels), compatible, "{image} on {name}");
    }
    affinity
}

#[test]
fn affinity_admits_the_nodes_fleet_finds_compatible() {
    for image in ["app.json", "needs-bmi2.json", "avx512-only.json"] {
        affinity_agrees_with_fleet("nodes.json", image, &[]);
    }
}

#[test]
fn affinity_yaml_and_notes() {
    let out = ocifit(&["k8s", "affinity", &data("needs-bmi2.json")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# spec.affinity for "), "{text}");
    assert!(text.contains("nodeAffinity:\n  preferredDuringSchedulingIgnoredDuringExecution:\n"), "{text}");
    assert!(text.contains("          - key: feature.node.kubernetes.io/cpu-cpuid.X86_64_V3\n            operator: In\n            values:\n              - \"true\"\n"), "{text}");
    assert!(text.contains("    nodeSelectorTerms:\n      - matchExpressions:\n"), "{text}");

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fleet-affinity");
    std::fs::create_dir_all(&dir).unwrap();
    let unnamed = rdpid_index(&dir);
    let out = ocifit(&["k8s", "affinity", unnamed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "nothing expressible");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no label for rdpid"), "{err}");

    let unsafe_order = dir.join("unsafe.json");
    std::fs::write(
        &unsafe_order,
        r#"{"schemaVersion":2,"manifests":[
           {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:aaaa","platform":{"os":"linux","architecture":"amd64","features":["avx512f"]}},
           {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:bbbb","platform":{"os":"linux","architecture":"amd64"}}]}"#,
    )
    .unwrap();
    let out = ocifit(&["k8s", "affinity", unsafe_order.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("entry 1: nodes admitted for it on amd64 are given entry 0 (needs avx512f)"), "{err}");
}

const CPUID_DUMPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ocifit-host/tests/data/cpuid");

#[test]
fn an_unreadable_image_is_an_error_row_and_the_others_are_checked() {
    // A deleted file and a registry that is down (nothing listens on port 1).
    let missing = data("deleted.json");
    let down = "docker://127.0.0.1:1/app:v1";
    let base = ["fleet", "--nodes", &data("profiles.json"), "--image"];
    let images = [data("app.json"), missing.clone(), down.to_string()];
    let run = |format: &str| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(images.iter().map(String::as_str));
        args.extend(["--format", format]);
        ocifit(&args)
    };

    let out = run("json");
    assert_eq!(out.status.code(), Some(1), "some images are not checked: {}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&out);
    let results = doc["results"].as_array().unwrap();
    let errors: Vec<&Value> = results.iter().filter(|r| r["verdict"] == "error").collect();
    assert_eq!(errors.len(), 2, "one row per unreadable image: {results:?}");
    assert_eq!(errors[0]["image"], missing.as_str());
    assert!(errors[0]["error"].as_str().unwrap().contains("no such file"), "{:?}", errors[0]);
    assert_eq!(errors[1]["image"], down);
    assert!(errors[1]["error"].as_str().unwrap().contains("127.0.0.1:1"), "{:?}", errors[1]);
    assert_eq!(results.iter().filter(|r| r["verdict"] == "compatible").count(), 2, "app.json on both nodes");
    assert_eq!(doc["summary"]["errors"], 2);
    assert_eq!(doc["summary"]["pairs"], serde_json::json!({"compatible": 2, "incompatible": 0, "unknown": 0}));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().filter(|l| l.starts_with("ocifit: not checked: ")).count(), 2, "{stderr}");

    let out = run("csv");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text.lines().find(|l| l.starts_with(&format!("{missing},"))).unwrap_or_else(|| panic!("{text}"));
    assert!(row.starts_with(&format!("{missing},,,error,,,,,")) && row.contains("no such file"), "{row}");
    assert_eq!(text.lines().count(), 1 + 2 + 2, "header, app.json on 2 nodes, 2 error rows: {text}");

    let out = run("text");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().next().unwrap().ends_with("; 2 images not checked"), "{text}");
    assert!(text.contains("not checked (the image could not be read):\n"), "{text}");
    assert!(text.contains(&format!("  {missing}: error: ")), "{text}");
    let row = text.lines().find(|l| l.starts_with(down)).unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("error  error"), "a matrix row of errors: {row}");

    // Nothing could be checked: exit 2, one line naming the input.
    let out = ocifit(&["fleet", "--nodes", &data("profiles.json"), "--image", &missing, down]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&missing) && err.contains("no such file") && err.contains("1 more"), "{err}");
}

/// A Kubernetes node list whose nodes carry the labels `ocifit host
/// --format nfd` writes (run on a CPUID dump), besides the kubelet's.
fn ocifit_labelled_nodes(dir: &Path, dumps: &[(&str, &str)]) -> PathBuf {
    let mut items = Vec::new();
    for (node, dump) in dumps {
        let out = ocifit(&["host", "--cpuid", &format!("{CPUID_DUMPS}/{dump}"), "--format", "nfd"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let mut labels = serde_json::Map::new();
        labels.insert("kubernetes.io/os".into(), "linux".into());
        labels.insert("kubernetes.io/arch".into(), "amd64".into());
        for line in String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.starts_with('#')) {
            let (key, value) = line.split_once('=').unwrap();
            labels.insert(key.into(), value.into());
        }
        items.push(serde_json::json!({"kind": "Node", "metadata": {"name": node, "labels": labels}}));
    }
    let path = dir.join("nodes.json");
    std::fs::write(&path, serde_json::json!({"kind": "List", "items": items}).to_string()).unwrap();
    path
}

#[test]
fn ocifit_labels_are_complete_no_unknown_verdicts() {
    let dir = common::scratch_dir("fleet-ocifit-labels");
    let nodes = ocifit_labelled_nodes(&dir, &[("spr-1", "sapphire-rapids.txt"), ("zen4-1", "zen4.txt")]);
    let nodes = nodes.to_str().unwrap();
    let (out, doc) = fleet_json(&[nodes], &["app.json", "needs-bmi2.json", "avx512-only.json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{doc}");
    let v = verdicts(&doc);
    assert_eq!(v[&("app.json".into(), "spr-1".into())], ("compatible".into(), Some(2)), "avx512_vnni, v4");
    assert_eq!(v[&("needs-bmi2.json".into(), "zen4-1".into())], ("compatible".into(), Some(0)), "bmi2 is labelled");
    assert!(v.values().all(|(verdict, _)| verdict == "compatible"), "{v:?}");
    for group in doc["summary"]["groups"].as_array().unwrap() {
        assert!(group.get("inputCannotTell").is_none(), "ocifit's labels tell every feature: {group}");
    }
    let text = ocifit(&["fleet", "--nodes", nodes, "--image", &data("app.json")]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(!text.contains("(input cannot tell"), "{text}");

    // ocifit's labels beat NFD's CPUID labels and a NodeFeature of the same node.
    let nfd_only = dir.join("nfd-only.json");
    std::fs::write(
        &nfd_only,
        r#"{"kind":"NodeFeatureList","items":[{"kind":"NodeFeature","metadata":{"name":"spr-1"},
            "spec":{"features":{"flags":{"cpu.cpuid":{"elements":{"SSE2":{},"AVX":{}}}}}}}]}"#,
    )
    .unwrap();
    let (_, doc) = fleet_json(&[nodes, nfd_only.to_str().unwrap()], &["app.json"], &[]);
    assert_eq!(verdicts(&doc)[&("app.json".into(), "spr-1".into())], ("compatible".into(), Some(2)));
}

#[test]
fn ocifit_labels_that_contradict_the_kubelet_exit_2() {
    let dir = common::scratch_dir("fleet-ocifit-labels-bad");
    let path = dir.join("nodes.json");
    std::fs::write(
        &path,
        r#"{"kind":"NodeList","items":[{"metadata":{"name":"n1","labels":{"kubernetes.io/os":"linux",
            "kubernetes.io/arch":"arm64","feature.node.kubernetes.io/ocifit-architecture":"amd64"}}}]}"#,
    )
    .unwrap();
    let out = ocifit(&["fleet", "--nodes", path.to_str().unwrap(), "--image", &data("app.json")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("\"n1\"") && err.contains("ocifit labels say amd64"), "{err}");
}

#[test]
fn cpuid_dumps_are_node_inputs() {
    let dir = common::scratch_dir("fleet-cpuid");
    std::fs::copy(format!("{CPUID_DUMPS}/sapphire-rapids.txt"), dir.join("spr-7.txt")).unwrap();
    std::fs::copy(format!("{CPUID_DUMPS}/zen4-no-zmm.txt"), dir.join("zen4-8.txt")).unwrap();
    let dir_arg = dir.to_string_lossy().into_owned();
    let lone = format!("{CPUID_DUMPS}/zen4.txt");
    let (out, doc) = fleet_json(&[&dir_arg, &lone], &["app.json", "avx512-only.json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let v = verdicts(&doc);
    assert_eq!(v[&("app.json".into(), "spr-7".into())], ("compatible".into(), Some(2)));
    assert_eq!(v[&("avx512-only.json".into(), "zen4".into())], ("compatible".into(), Some(0)));
    assert_eq!(
        v[&("avx512-only.json".into(), "zen4-8".into())],
        ("incompatible".into(), None),
        "the OS did not enable ZMM state: no AVX-512"
    );
    assert!(v.values().all(|(verdict, _)| verdict != "unknown"), "CPUID tells every feature: {v:?}");
}

#[test]
fn affinity_for_one_entry_as_a_workload_patch() {
    let app = data("app.json");
    let affinity = json(&ocifit(&["k8s", "affinity", &app, "--entry", "2", "--format", "json"]));
    let out = ocifit(&["k8s", "affinity", &app, "--entry", "2", "--output", "patch", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let patch = json(&out);
    assert_eq!(patch["spec"]["template"]["spec"]["affinity"], affinity, "the patch carries the same affinity");
    assert_eq!(patch.as_object().unwrap().len(), 1, "nothing but spec.template.spec.affinity: {patch}");
    assert!(affinity["nodeAffinity"].get("preferredDuringSchedulingIgnoredDuringExecution").is_none());
    // Entry 2 (amd64/v4 + avx512_vnni) admits exactly the nodes that can run it: not the fallback's.
    let nodes: Value = serde_json::from_str(&std::fs::read_to_string(data("nodes.json")).unwrap()).unwrap();
    for node in nodes["items"].as_array().unwrap() {
        let name = node["metadata"]["name"].as_str().unwrap();
        let labels = node["metadata"]["labels"].as_object().unwrap();
        assert_eq!(admits(&affinity, labels), name == SPR || name.starts_with("ip-10-0-1-"), "{name}");
    }
    let yaml =
        String::from_utf8(ocifit(&["k8s", "affinity", &app, "--entry", "2", "--output", "patch"]).stdout).unwrap();
    assert!(yaml.contains("# deploy the entry by digest: image: sha256:"), "{yaml}");
    assert!(yaml.contains("\nspec:\n  template:\n    spec:\n      affinity:\n        nodeAffinity:\n"), "{yaml}");

    let out = ocifit(&["k8s", "affinity", &app, "--entry", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--entry 5"), "out of range");
}

#[test]
fn affinity_with_ocifit_labels_admits_what_fleet_finds_compatible() {
    let dir = common::scratch_dir("affinity-ocifit-labels");
    let nodes_path = ocifit_labelled_nodes(
        &dir,
        &[
            ("spr-1", "sapphire-rapids.txt"),
            ("zen4-nozmm", "zen4-no-zmm.txt"),
            ("spr-noamx", "sapphire-rapids-no-zmm.txt"),
        ],
    );
    for image in ["app.json", "needs-bmi2.json", "avx512-only.json"] {
        let affinity = affinity_agrees_with_fleet(nodes_path.to_str().unwrap(), image, &["--labels", "ocifit"]);
        let text = affinity.to_string();
        assert!(text.contains("ocifit-feature.") && !text.contains("cpu-cpuid."), "{image}: {text}");
    }
    // rdpid has no NFD label but has an ocifit one.
    let rdpid = rdpid_index(&dir);
    let out = ocifit(&["k8s", "affinity", rdpid.to_str().unwrap(), "--labels", "ocifit"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout).unwrap().contains("feature.node.kubernetes.io/ocifit-feature.rdpid"));
}

/// The patch, applied by the real `kubectl patch --local` to a Deployment:
/// the Pod template gets exactly ocifit's affinity (the old terms replaced,
/// not merged), and nothing else changes.
#[test]
fn kubectl_applies_the_affinity_patch() {
    let found =
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("kubectl").is_file()));
    assert!(found, "kubectl is not installed: scripts/test.sh installs it (apt kubernetes-client)");
    let dir = common::scratch_dir("kubectl-patch");
    let deployment = dir.join("deployment.json");
    let original = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
        "spec": {"selector": {"matchLabels": {"app": "app"}}, "template": {
            "metadata": {"labels": {"app": "app"}},
            "spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [{"key": "old", "operator": "In", "values": ["x"]}]}]}}},
                     "containers": [{"name": "app", "image": "registry.example.com/app:1"}]}}}});
    std::fs::write(&deployment, original.to_string()).unwrap();
    let patch = dir.join("patch.yaml");
    let out = ocifit(&["k8s", "affinity", &data("needs-bmi2.json"), "--output", "patch"]);
    assert_eq!(out.status.code(), Some(0));
    std::fs::write(&patch, &out.stdout).unwrap();
    let applied = Command::new("kubectl")
        .args(["patch", "--local", "-o", "json", "-f"])
        .arg(&deployment)
        .arg("--patch-file")
        .arg(&patch)
        .output()
        .expect("kubectl runs");
    assert!(applied.status.success(), "kubectl: {}", String::from_utf8_lossy(&applied.stderr));
    let patched: Value = serde_json::from_slice(&applied.stdout).unwrap();
    let affinity = json(&ocifit(&["k8s", "affinity", &data("needs-bmi2.json"), "--format", "json"]));
    assert_eq!(patched["spec"]["template"]["spec"]["affinity"], affinity);
    let mut rest = patched.clone();
    rest["spec"]["template"]["spec"]["affinity"] = original["spec"]["template"]["spec"]["affinity"].clone();
    assert_eq!(rest, original, "only the affinity changed");
}
