//! podman and skopeo (containers/image), each run in a temporary directory
//! of its own: a `registries.conf` naming the registry (plain HTTP) and,
//! when given, the mirror; a signature policy that accepts anything; for
//! podman a vfs store, `events_logger = "file"` and the cgroupfs manager
//! (there is no systemd here).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::fixture::{PASSWORD, USER, require, temp_dir};
use crate::image::{Image, marker_of_tar};

/// A scratch directory with the configuration for one pull.
pub struct Setup {
    pub dir: PathBuf,
    /// podman's runroot: under 50 characters, which podman requires.
    runroot: PathBuf,
}

impl Setup {
    /// `mirror`: `HOST:PORT` of the mirror for `registry`, if any.
    pub fn new(name: &str, registry: &str, mirror: Option<&str>) -> Setup {
        let mut conf = format!("[[registry]]\nlocation = \"{registry}\"\ninsecure = true\n");
        if let Some(m) = mirror {
            conf.push_str(&format!("\n[[registry.mirror]]\nlocation = \"{m}\"\ninsecure = true\n"));
        }
        Setup::with_registries_conf(name, &conf)
    }

    /// The same with this `registries.conf`.
    pub fn with_registries_conf(name: &str, registries_conf: &str) -> Setup {
        let dir = temp_dir(name);
        std::fs::write(dir.join("registries.conf"), registries_conf).unwrap();
        // No credentials (podman wants the file to exist).
        std::fs::write(dir.join("auth.json"), r#"{"auths":{}}"#).unwrap();
        std::fs::write(dir.join("policy.json"), r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
        std::fs::write(
            dir.join("containers.conf"),
            "[engine]\nevents_logger = \"file\"\ncgroup_manager = \"cgroupfs\"\n",
        )
        .unwrap();
        let runroot = short_dir();
        std::fs::write(
            dir.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}/root\"\nrunroot = \"{}\"\n",
                dir.display(),
                runroot.display()
            ),
        )
        .unwrap();
        Setup { dir, runroot }
    }

    /// Credentials (the fixture's user) for each of `hosts` in the auth file.
    pub fn log_in(&self, hosts: &[&str]) {
        let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{USER}:{PASSWORD}"));
        let auths: serde_json::Map<String, Value> =
            hosts.iter().map(|h| (h.to_string(), serde_json::json!({ "auth": auth }))).collect();
        std::fs::write(self.path("auth.json"), serde_json::json!({ "auths": auths }).to_string()).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn podman(&self, args: &[&str]) -> Result<String, String> {
        require("podman");
        let d = |n: &str| self.path(n).display().to_string();
        let out = Command::new("podman")
            .args(["--root", &d("root"), "--runroot", &self.runroot.display().to_string(), "--tmpdir", &d("tmp")])
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(args)
            .env("CONTAINERS_CONF", self.path("containers.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", self.path("registries.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.path("storage.conf"))
            .env("REGISTRY_AUTH_FILE", self.path("auth.json"))
            .output()
            .expect("run podman");
        output(&format!("podman {args:?}"), out)
    }

    /// `podman pull`; returns the build it got (from the image ID, which is
    /// the config digest, checked against the config's label).
    pub fn podman_pull(&self, image: &Image, reference: &str) -> Result<&'static str, String> {
        let policy = self.path("policy.json").display().to_string();
        self.podman(&["pull", "--quiet", "--platform", "linux/amd64", "--signature-policy", &policy, reference])?;
        let inspect = self.podman(&["image", "inspect", reference])?;
        let doc: Value = serde_json::from_str(&inspect).map_err(|e| format!("podman image inspect: {e}: {inspect}"))?;
        let id = doc[0]["Id"].as_str().unwrap_or_default();
        let build = image.build_of_config(&format!("sha256:{id}")).ok_or(format!("unknown image ID {id}"))?;
        let label = doc[0]["Labels"]["org.example.build"].as_str().unwrap_or_default();
        assert_eq!(label, build, "podman's label and image ID disagree: {inspect}");
        Ok(build)
    }

    fn skopeo(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        require("skopeo");
        let out = Command::new("skopeo")
            .arg("--registries-conf")
            .arg(self.path("registries.conf"))
            .arg("--policy")
            .arg(self.path("policy.json"))
            .args(["--override-os", "linux", "--override-arch", "amd64"])
            .args(args)
            .env("REGISTRY_AUTH_FILE", self.path("auth.json"))
            .output()
            .expect("run skopeo");
        let what = format!("skopeo {args:?}");
        if out.status.success() { Ok(out.stdout) } else { output(&what, out).map(String::into_bytes) }
    }

    /// `skopeo copy` to a directory (`dir:` keeps the layer as served);
    /// returns the build it got, from the copied config (label and env) and
    /// the marker file in the copied layer.
    pub fn skopeo_copy(&self, image: &Image, reference: &str) -> Result<&'static str, String> {
        let copy = self.path("copy");
        let _ = std::fs::remove_dir_all(&copy);
        self.skopeo(&["copy", "--quiet", &format!("docker://{reference}"), &format!("dir:{}", copy.display())])?;
        let blob = |digest: &str| std::fs::read(copy.join(digest.strip_prefix("sha256:").unwrap_or(digest))).unwrap();
        let manifest: Value = serde_json::from_slice(&std::fs::read(copy.join("manifest.json")).unwrap()).unwrap();
        let config_digest = manifest["config"]["digest"].as_str().unwrap();
        let config: Value = serde_json::from_slice(&blob(config_digest)).unwrap();
        let build = image.build_of_config_json(&config);
        assert_eq!(image.build_of_config(config_digest), Some(build));
        let marker = marker_of_tar(&blob(manifest["layers"][0]["digest"].as_str().unwrap())).unwrap();
        assert_eq!(image.build_of_marker(&marker), Some(build), "layer and config disagree");
        Ok(build)
    }

    /// `skopeo inspect --raw`: the manifest bytes as served.
    pub fn skopeo_raw(&self, reference: &str) -> Result<Vec<u8>, String> {
        self.skopeo(&["inspect", "--raw", &format!("docker://{reference}")])
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(&self.runroot);
    }
}

/// A fresh directory with a short path.
fn short_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = PathBuf::from(format!("/tmp/ofr-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn output(what: &str, out: std::process::Output) -> Result<String, String> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{what} failed: {}{stdout}", String::from_utf8_lossy(&out.stderr)))
    }
}
