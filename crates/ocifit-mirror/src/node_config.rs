//! `ocifit mirror config`: the files that point a node's runtime at the
//! mirror (`docs/mirror.md`).
//!
//! - containerd: one `hosts.toml` per registry (`DIR/HOST/hosts.toml`, a
//!   port written `HOST_PORT_/`, as containerd looks for it; DIR
//!   being containerd's `config_path`, usually `/etc/containerd/certs.d`).
//!   containerd names the registry in `?ns=`, so one mirror serves them all.
//! - containers (podman, skopeo, CRI-O): one `registries.conf` drop-in.
//!   containers/image learns the auth challenge from the mirror's `/v2/`
//!   ping and sends no `ns`, so each upstream needs its own mirror address
//!   (a mirror started with `--upstream`): `--registry HOST=MIRROR_URL`.

use std::path::Path;

/// One file to install: its path under the target directory, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFile {
    pub path: String,
    pub text: String,
}

/// A `--registry` value: `HOST` or `HOST=MIRROR_URL`.
fn registry_and_mirror<'a>(value: &'a str, default_mirror: Option<&'a str>) -> Result<(&'a str, &'a str), String> {
    let (host, mirror) = match value.split_once('=') {
        Some((h, m)) => (h, m),
        None => (value, default_mirror.ok_or_else(|| containers_rule(value))?),
    };
    let host_ok = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
        && !host.starts_with('.');
    if !host_ok {
        return Err(format!("--registry {value:?}: {host:?} is not a registry host"));
    }
    Ok((host, mirror))
}

fn containers_rule(host: &str) -> String {
    format!(
        "--registry {host}: containers/image needs one mirror address per registry; give --registry {host}=http://127.0.0.1:PORT \
         (a mirror started with --upstream for it), or a single --registry with --mirror"
    )
}

/// `http://HOST:PORT` → (scheme, `HOST:PORT`).
fn split_mirror(mirror: &str) -> Result<(&str, &str), String> {
    let (scheme, rest) = mirror
        .split_once("://")
        .filter(|(s, _)| *s == "http" || *s == "https")
        .ok_or_else(|| format!("--mirror {mirror:?}: give http://HOST:PORT"))?;
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') || authority.contains('"') {
        return Err(format!("--mirror {mirror:?}: give http://HOST:PORT (no path)"));
    }
    Ok((scheme, authority))
}

/// The upstream URL containerd falls back to: docker.io is
/// registry-1.docker.io; loopback registries speak plain HTTP.
fn server_url(host: &str) -> String {
    if host == "docker.io" {
        return "https://registry-1.docker.io".into();
    }
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h).trim_matches(['[', ']']);
    let loopback = name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    format!("{}://{host}", if loopback { "http" } else { "https" })
}

/// containerd `hosts.toml` files, one per registry.
pub fn containerd(registries: &[String], mirror: &str) -> Result<Vec<NodeFile>, String> {
    if registries.is_empty() {
        return Err("--registry: name at least one registry (docker.io, ghcr.io, …)".into());
    }
    registries
        .iter()
        .map(|value| {
            let (host, mirror) = registry_and_mirror(value, Some(mirror))?;
            let (scheme, authority) = split_mirror(mirror)?;
            let text = format!(
                "# Installed by `ocifit mirror config containerd`: pull {host} through the node's\n\
                 # ocifit mirror; containerd falls back to the server below when the mirror is down.\n\
                 server = \"{}\"\n\n[host.\"{scheme}://{authority}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
                server_url(host)
            );
            // containerd looks for certs.d/HOST_PORT_ (and certs.d/HOST:PORT).
            let dir = match host.rsplit_once(':') {
                Some((name, port)) if !port.ends_with(']') => format!("{name}_{port}_"),
                _ => host.to_string(),
            };
            Ok(NodeFile { path: format!("{dir}/hosts.toml"), text })
        })
        .collect()
}

/// The containers `registries.conf` drop-in (`registries.conf.d/`).
pub fn containers(registries: &[String], mirror: Option<&str>) -> Result<Vec<NodeFile>, String> {
    if registries.is_empty() {
        return Err("--registry: name at least one registry (docker.io=http://127.0.0.1:5050, …)".into());
    }
    let default_mirror = if registries.len() == 1 { mirror } else { None };
    let mut text = String::from(
        "# Installed by `ocifit mirror config containers`: pull through the node's ocifit mirror.\n\
         # One mirror address per registry (each an `ocifit mirror --upstream` of its own).\n",
    );
    let mut seen = std::collections::HashSet::new();
    for value in registries {
        let (host, mirror) = registry_and_mirror(value, default_mirror)?;
        if !seen.insert(host) {
            return Err(format!("--registry {host}: named twice"));
        }
        let (scheme, authority) = split_mirror(mirror)?;
        text.push_str(&format!(
            "\n[[registry]]\nprefix = \"{host}\"\nlocation = \"{host}\"\n{}\n[[registry.mirror]]\nlocation = \"{authority}\"\n{}",
            // A loopback registry is plain HTTP (as for containerd's `server`): the fallback when the mirror is down.
            if server_url(host).starts_with("http://") { "insecure = true\n" } else { "" },
            if scheme == "http" { "insecure = true\n" } else { "" }
        ));
    }
    Ok(vec![NodeFile { path: "ocifit-mirror.conf".into(), text }])
}

/// Write each file under `dir` atomically (temporary file, then rename).
pub fn write(dir: &Path, files: &[NodeFile]) -> Result<(), String> {
    for file in files {
        let path = dir.join(&file.path);
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        let temp = parent.join(format!(".{}.ocifit-tmp", std::process::id()));
        std::fs::write(&temp, &file.text).and_then(|_| std::fs::rename(&temp, &path)).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            format!("{}: {e}", path.display())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn s9_containerd_hosts_toml_per_registry() {
        let files = containerd(&strings(&["docker.io", "ghcr.io", "127.0.0.1:5000"]), "http://127.0.0.1:5050").unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["docker.io/hosts.toml", "ghcr.io/hosts.toml", "127.0.0.1_5000_/hosts.toml"]);
        let parsed: Vec<toml::Value> = files.iter().map(|f| toml::from_str(&f.text).unwrap()).collect();
        let servers: Vec<&str> = parsed.iter().map(|p| p["server"].as_str().unwrap()).collect();
        assert_eq!(servers, ["https://registry-1.docker.io", "https://ghcr.io", "http://127.0.0.1:5000"]);
        for p in &parsed {
            let caps = &p["host"]["http://127.0.0.1:5050"]["capabilities"];
            assert_eq!(caps.as_array().unwrap().len(), 2);
            assert_eq!(caps[0].as_str(), Some("pull"));
            assert_eq!(caps[1].as_str(), Some("resolve"));
        }
    }

    #[test]
    fn s9_containers_one_mirror_per_registry() {
        let files =
            containers(&strings(&["docker.io=http://127.0.0.1:5050", "ghcr.io=http://127.0.0.1:5051"]), None).unwrap();
        let parsed: toml::Value = toml::from_str(&files[0].text).unwrap();
        let registries = parsed["registry"].as_array().unwrap();
        assert_eq!(registries.len(), 2);
        assert_eq!(registries[0]["prefix"].as_str(), Some("docker.io"));
        assert_eq!(registries[0]["location"].as_str(), Some("docker.io"));
        assert_eq!(registries[0]["mirror"][0]["location"].as_str(), Some("127.0.0.1:5050"));
        assert_eq!(registries[0]["mirror"][0]["insecure"].as_bool(), Some(true));
        assert_eq!(registries[1]["mirror"][0]["location"].as_str(), Some("127.0.0.1:5051"));
        // One registry may use --mirror; two may not share it.
        assert!(containers(&strings(&["docker.io"]), Some("http://127.0.0.1:5050")).is_ok());
        let e = containers(&strings(&["docker.io", "ghcr.io"]), Some("http://127.0.0.1:5050")).unwrap_err();
        assert!(e.contains("one mirror address per registry"), "{e}");
    }

    #[test]
    fn s9_config_refuses_bad_input() {
        assert!(containerd(&[], "http://127.0.0.1:5050").is_err());
        assert!(containerd(&strings(&["docker.io"]), "127.0.0.1:5050").is_err());
        assert!(containerd(&strings(&["../etc"]), "http://127.0.0.1:5050").is_err());
        assert!(containerd(&strings(&["a\"b"]), "http://127.0.0.1:5050").is_err());
        assert!(containers(&strings(&["x=http://a/b"]), None).is_err());
    }

    #[test]
    fn s9_write_is_atomic_and_lays_out_directories() {
        let dir = std::env::temp_dir().join(format!("ocifit-node-config-{}", std::process::id()));
        let files = containerd(&strings(&["docker.io", "ghcr.io"]), "http://127.0.0.1:5050").unwrap();
        write(&dir, &files).unwrap();
        write(&dir, &files).unwrap();
        for f in &files {
            assert_eq!(std::fs::read_to_string(dir.join(&f.path)).unwrap(), f.text);
        }
        let leftovers = std::fs::read_dir(dir.join("docker.io")).unwrap().count();
        assert_eq!(leftovers, 1);
        let _ = std::fs::remove_dir_all(dir);
    }
}
