//! One containerd per test binary, started here with its own config: root,
//! state and sockets in a temporary directory, the `native` snapshotter (no
//! overlay mounts), no CNI (the CRI plugin still serves the image service),
//! and the CRI registry configuration read from `certs.d` in that directory
//! (`hosts.toml` files, as `ctr --hosts-dir` reads them).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::daemon::{Daemon, Scratch};
use crate::fixture::{require, temp_dir};

pub struct Containerd {
    pub dir: PathBuf,
    pub socket: PathBuf,
    _daemon: Mutex<Daemon>,
}

/// The containerd of this test binary.
pub fn containerd() -> &'static Containerd {
    static C: OnceLock<Containerd> = OnceLock::new();
    C.get_or_init(Containerd::start)
}

impl Containerd {
    fn start() -> Containerd {
        require("containerd");
        require("ctr");
        let dir = temp_dir("containerd");
        let d = dir.display();
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.overlayfs", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni/bin"
    conf_dir = "{d}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{d}/certs.d"
"#
        );
        std::fs::create_dir_all(dir.join("certs.d")).unwrap();
        let config_path = dir.join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let args = vec!["--config".to_string(), config_path.display().to_string()];
        let mut daemon = Daemon::start("containerd", &args, &dir.join("containerd.log"), Some(&dir), &[]);
        if let Err(e) = daemon.wait_for_log("containerd successfully booted", Duration::from_secs(30)) {
            panic!("containerd did not start: {e}");
        }
        Containerd { socket: dir.join("containerd.sock"), dir, _daemon: Mutex::new(daemon) }
    }

    /// The CRI plugin's registry configuration directory.
    pub fn certs_d(&self) -> PathBuf {
        self.dir.join("certs.d")
    }

    /// Run `ctr` against this containerd in namespace `ns`.
    pub fn ctr(&self, ns: &str, args: &[&str]) -> Result<String, String> {
        let out = Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .args(["--namespace", ns])
            .args(args)
            .output()
            .expect("run ctr");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!("ctr {args:?}: {}\n{stdout}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// `ctr images pull` for linux/amd64 with the registry configuration in
    /// `hosts_dir`.
    pub fn pull(&self, ns: &str, reference: &str, hosts_dir: &Path, extra: &[&str]) -> Result<String, String> {
        let hosts = hosts_dir.display().to_string();
        let mut args =
            vec!["images", "pull", "--hosts-dir", &hosts, "--snapshotter", "native", "--platform", "linux/amd64"];
        args.extend_from_slice(extra);
        args.push(reference);
        self.ctr(ns, &args)
    }

    /// The digests in namespace `ns`'s content store.
    pub fn content(&self, ns: &str) -> Vec<String> {
        let listing = self.ctr(ns, &["content", "ls", "--quiet"]).unwrap();
        listing.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
    }

    /// The keys of namespace `ns`'s native snapshots (for a one-layer
    /// image: its layer's diff ID).
    pub fn snapshots(&self, ns: &str) -> Vec<String> {
        let listing = self.ctr(ns, &["snapshots", "--snapshotter", "native", "ls"]).unwrap();
        listing.lines().skip(1).filter_map(|l| l.split_whitespace().next().map(str::to_string)).collect()
    }

    /// One blob of namespace `ns`'s content store.
    pub fn blob(&self, ns: &str, digest: &str) -> Vec<u8> {
        let out = Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .args(["--namespace", ns, "content", "get", digest])
            .output()
            .expect("run ctr");
        assert!(out.status.success(), "ctr content get {digest}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// The digest an image name points at in namespace `ns`.
    pub fn image_target(&self, ns: &str, name: &str) -> String {
        let listing = self.ctr(ns, &["images", "ls"]).unwrap();
        listing
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .and_then(|l| l.split_whitespace().find(|w| w.starts_with("sha256:")))
            .unwrap_or_else(|| panic!("no image {name} in:\n{listing}"))
            .to_string()
    }

    /// The marker files unpacked by the native snapshotter (every
    /// namespace): the content of each `ocifit-build` found.
    pub fn unpacked_markers(&self) -> Vec<String> {
        let snapshots = self.dir.join("root/io.containerd.snapshotter.v1.native/snapshots");
        let Ok(dirs) = std::fs::read_dir(snapshots) else { return Vec::new() };
        dirs.filter_map(|d| std::fs::read_to_string(d.ok()?.path().join("ocifit-build")).ok()).collect()
    }
}

/// A containerd registry configuration directory holding
/// `REGISTRY/hosts.toml`: plain HTTP to `registry`, and, when given, the
/// mirror first for pull and resolve.
pub fn hosts_dir(name: &str, registries: &[&str], mirror: Option<&str>) -> Scratch {
    let dir = Scratch::new(name);
    write_hosts(&dir, registries, mirror);
    dir
}

/// Write (or replace) `dir/REGISTRY/hosts.toml` for each registry.
pub fn write_hosts(dir: &Path, registries: &[&str], mirror: Option<&str>) {
    for registry in registries {
        let mut toml = format!("server = \"http://{registry}\"\n");
        if let Some(m) = mirror {
            toml.push_str(&format!("\n[host.\"{m}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"));
        }
        let sub = dir.join(registry);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("hosts.toml"), toml).unwrap();
    }
}
