//! `deploy/`: the systemd unit and the Kubernetes DaemonSet say what the
//! CLI understands — their arguments start a mirror whose /healthz answers
//! where the probes look, and the init container writes the hosts.toml files
//! for the address the mirror listens on (docs/mirror.md).

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use crate::fixture::{ocifit, temp_dir};
use crate::mirror::{Mirror, request};

fn repo_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path);
    std::fs::read_to_string(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()))
}

fn strings(yaml: &Yaml) -> Vec<String> {
    yaml.as_vec()
        .unwrap_or_else(|| panic!("not a list: {yaml:?}"))
        .iter()
        .map(|y| match y {
            Yaml::String(s) => s.clone(),
            Yaml::Integer(i) => i.to_string(),
            other => panic!("not a string: {other:?}"),
        })
        .collect()
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> &'a str {
    let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("{flag} not in {args:?}"));
    &args[at + 1]
}

/// `args` with the value after `name` replaced.
fn with_flag(args: &[String], name: &str, value: &str) -> Vec<String> {
    let mut out = args.to_vec();
    let at = out.iter().position(|a| a == name).unwrap_or_else(|| panic!("{name} not in {args:?}"));
    out[at + 1] = value.to_string();
    out
}

/// Start the mirror with `args` (on a free port, in a scratch cache) and
/// check that `/healthz` answers, then that SIGTERM stops it cleanly.
fn runs_and_answers_healthz(args: &[String], what: &str) {
    let cache = temp_dir("deploy-cache");
    let args = with_flag(&with_flag(args, "--listen", "127.0.0.1:0"), "--cache-dir", cache.to_str().unwrap());
    let mut args = args;
    // This machine as the target would do too; a fixed one keeps the test
    // independent of host detection.
    args.extend(["--platform".to_string(), "linux/amd64".to_string()]);
    let mut m = Mirror::spawn(&args);
    assert_eq!(request("GET", &m.url("/healthz"), None).status, 200, "{what}");
    assert_eq!(m.stop(), Some(0), "{what}: {}", m.log());
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn s9_daemonset_args_and_probes_agree_with_the_cli() {
    let docs = YamlLoader::load_from_str(&repo_file("deploy/kubernetes/ocifit-mirror.yaml")).unwrap();
    let ds = docs.iter().find(|d| d["kind"].as_str() == Some("DaemonSet")).expect("a DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"].as_bool(), Some(true));
    let mirror = &pod["containers"][0];
    let args = strings(&mirror["args"]);
    assert_eq!(args[0], "mirror");
    let listen = flag(&args, "--listen");
    let (host, port) = listen.rsplit_once(':').unwrap();
    assert_eq!(host, "127.0.0.1", "loopback only");
    for probe in ["readinessProbe", "livenessProbe"] {
        let get = &mirror[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some("/healthz"), "{probe}");
        assert_eq!(get["host"].as_str(), Some(host), "{probe}");
        assert_eq!(get["port"].as_i64().map(|p| p.to_string()).as_deref(), Some(port), "{probe}");
    }
    for limit in ["cpu", "memory"] {
        assert!(mirror["resources"]["limits"][limit].as_str().is_some(), "limits.{limit}");
    }
    // The cache is a hostPath mounted where --cache-dir says.
    let cache_dir = flag(&args, "--cache-dir");
    let mount = mirror["volumeMounts"].as_vec().unwrap().iter().find(|m| m["mountPath"].as_str() == Some(cache_dir));
    let volume_name = mount.expect("a mount at --cache-dir")["name"].as_str().unwrap();
    let volume = pod["volumes"].as_vec().unwrap().iter().find(|v| v["name"].as_str() == Some(volume_name)).unwrap();
    assert!(volume["hostPath"]["path"].as_str().is_some(), "hostPath cache");
    runs_and_answers_healthz(&args, "DaemonSet args");

    // The init container writes hosts.toml files for the mirror's address.
    let init = &pod["initContainers"][0];
    let init_args = strings(&init["args"]);
    assert_eq!(&init_args[..3], ["mirror", "config", "containerd"]);
    assert_eq!(flag(&init_args, "--mirror"), format!("http://{listen}"));
    let write = flag(&init_args, "--write");
    assert!(init["volumeMounts"].as_vec().unwrap().iter().any(|m| m["mountPath"].as_str() == Some(write)));
    let dir = temp_dir("deploy-hosts");
    let local = with_flag(&init_args, "--write", dir.to_str().unwrap());
    let local: Vec<&str> = local.iter().map(String::as_str).collect();
    let run = ocifit(&local, &[], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (i, a) in init_args.iter().enumerate() {
        if a == "--registry" {
            let text = std::fs::read_to_string(dir.join(&init_args[i + 1]).join("hosts.toml")).unwrap();
            assert!(text.contains(&format!("[host.\"http://{listen}\"]")), "{text}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn s9_systemd_unit_is_confined_and_its_command_runs() {
    let unit = repo_file("deploy/systemd/ocifit-mirror.service");
    let settings: Vec<(&str, &str)> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .collect();
    let value = |key: &str| settings.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    for (key, want) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("Restart", "on-failure"),
        ("CacheDirectory", "ocifit-mirror"),
        ("StateDirectory", "ocifit-mirror"),
        ("KillSignal", "SIGTERM"),
    ] {
        assert_eq!(value(key), Some(want), "{key}");
    }
    let command: Vec<String> = value("ExecStart").unwrap().split_whitespace().map(str::to_string).collect();
    assert_eq!(command[0], "/usr/local/bin/ocifit");
    // The cache directory is the one systemd creates for it.
    assert_eq!(flag(&command, "--cache-dir"), "/var/cache/ocifit-mirror");
    assert!(flag(&command, "--listen").starts_with("127.0.0.1:"));
    runs_and_answers_healthz(&command[1..], "systemd ExecStart");
}
