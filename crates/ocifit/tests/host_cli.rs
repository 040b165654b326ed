//! `ocifit host` as a user runs it (§8): the JSON platform object, the
//! offline inputs, exit codes, and `select` targeting this host.

use std::process::{Command, Output, Stdio};

use serde_json::Value;

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/conformance/cpuinfo");
const DUMPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ocifit-host/tests/data/cpuid");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/index.json");

fn ocifit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ocifit"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

#[cfg(any(target_arch = "x86_64", all(target_os = "linux", target_arch = "aarch64")))]
#[test]
fn s8_host_json_is_a_platform_object() {
    let out = ocifit(&["host", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["os"], std::env::consts::OS);
    assert!(doc["architecture"] == "amd64" || doc["architecture"] == "arm64");
    let features = strings(&doc["features"]);
    let mut sorted = features.clone();
    sorted.sort_unstable();
    assert_eq!(features, sorted, "sorted canonical names");
    assert!(features.contains(&if doc["architecture"] == "amd64" { "sse2" } else { "asimd" }));
    assert!(doc["disabledByOs"].is_array() && doc["unknownFlags"].is_array());
    assert_eq!(doc["source"], "live");
}

#[cfg(target_arch = "x86_64")]
#[test]
fn dump_cpuid_then_replay_gives_the_live_answer() {
    let dump = ocifit(&["host", "--dump-cpuid"]);
    assert_eq!(dump.status.code(), Some(0), "{}", stderr(&dump));
    let path = std::env::temp_dir().join(format!("ocifit-host-cli-{}.cpuid", std::process::id()));
    std::fs::write(&path, &dump.stdout).unwrap();
    let mut live = json(&ocifit(&["host", "--format", "json"]));
    let mut replay = json(&ocifit(&["host", "--cpuid", path.to_str().unwrap(), "--format", "json"]));
    std::fs::remove_file(&path).unwrap();
    live.as_object_mut().unwrap().remove("source");
    replay.as_object_mut().unwrap().remove("source");
    assert_eq!(live, replay);
}

#[test]
fn cpuinfo_capture_to_json_text_and_nfd() {
    let file = format!("{CAPTURES}/linux-rhel7-haswell");
    let doc = json(&ocifit(&["host", "--cpuinfo", &file, "--format", "json"]));
    assert_eq!(
        (doc["os"].as_str(), doc["architecture"].as_str(), doc["variant"].as_str()),
        (Some("linux"), Some("amd64"), Some("v3"))
    );
    let features = strings(&doc["features"]);
    assert!(features.contains(&"sse3") && features.contains(&"lzcnt"), "pni -> sse3, abm -> lzcnt");
    assert!(!features.contains(&"pni") && !features.contains(&"constant_tsc"));
    assert_eq!(doc["source"], "cpuinfo");

    let text = ocifit(&["host", "--cpuinfo", &file]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with("platform:  linux/amd64/v3\n"), "{text}");
    assert!(text.contains("amd64/v3:"), "{text}");

    let nfd = String::from_utf8(ocifit(&["host", "--cpuinfo", &file, "--format", "nfd"]).stdout).unwrap();
    assert!(nfd.contains("feature.node.kubernetes.io/ocifit-variant=v3\n"), "{nfd}");
    assert!(nfd.contains("feature.node.kubernetes.io/ocifit-feature.avx2=true\n"), "{nfd}");
}

#[test]
fn cpuid_dump_with_avx512_state_disabled() {
    let file = format!("{DUMPS}/sapphire-rapids-no-zmm.txt");
    let doc = json(&ocifit(&["host", "--cpuid", &file, "--format", "json"]));
    assert_eq!(doc["variant"], "v3");
    assert!(!strings(&doc["features"]).contains(&"avx512f"));
    assert!(strings(&doc["disabledByOs"]).contains(&"avx512f"));
    let text = String::from_utf8(ocifit(&["host", "--cpuid", &file]).stdout).unwrap();
    assert!(text.contains("not enabled by the OS (the CPU has them):\n"), "{text}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    for args in [
        &["host", "--cpuinfo", "/nonexistent/cpuinfo"][..],
        &["host", "--cpuid", "/nonexistent/dump"],
        &["host", "--cpuinfo", EXAMPLE],
        &["host", "--cpuid", EXAMPLE],
        &["host", "--cpuinfo", EXAMPLE, "--cpuid", EXAMPLE],
        &["host", "--arch", "ppc64"],
        &["host", "--format", "yaml"],
    ] {
        let out = ocifit(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = ocifit(&["host", "--cpuid", EXAMPLE]);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("index.json") && err.contains("line"), "{err}");
}

/// §8: with neither --platform nor --features, `select` targets this host.
#[cfg(target_arch = "x86_64")]
#[test]
fn select_without_target_flags_uses_the_host() {
    let out = ocifit(&["select", EXAMPLE, "--format", "json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let doc = json(&out);
    let host = json(&ocifit(&["host", "--format", "json"]));
    assert_eq!(doc["target"]["architecture"], host["architecture"]);
    assert_eq!(doc["target"]["variant"], host["variant"]);
    assert_eq!(doc["target"]["features"], host["features"]);
}
