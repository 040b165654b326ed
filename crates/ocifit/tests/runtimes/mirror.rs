//! `ocifit mirror` started by a test: on 127.0.0.1, a fresh port (kept
//! across a restart), a cache directory of its own, and the fixed target
//! `--platform linux/amd64 --features avx2,bmi2`, so what it selects does
//! not depend on the machine running the tests.

use std::path::PathBuf;
use std::time::Duration;

use crate::daemon::Daemon;
use crate::fixture::temp_dir;

pub const TARGET: [&str; 4] = ["--platform", "linux/amd64", "--features", "avx2,bmi2"];

pub struct Mirror {
    daemon: Daemon,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub cache: PathBuf,
    dir: PathBuf,
    args: Vec<String>,
}

impl Mirror {
    /// A mirror with these extra arguments (`--upstream URL`, …).
    pub fn start(name: &str, extra: &[&str]) -> Mirror {
        let dir = temp_dir(&format!("mirror-{name}"));
        let cache = dir.join("cache");
        let args = extra.iter().map(|s| s.to_string()).collect();
        Mirror::launch(dir, cache, "127.0.0.1:0", args)
    }

    fn launch(dir: PathBuf, cache: PathBuf, listen: &str, args: Vec<String>) -> Mirror {
        let mut all: Vec<String> = vec!["mirror".into(), "--listen".into(), listen.into(), "--cache-dir".into()];
        all.push(cache.display().to_string());
        all.extend(TARGET.iter().map(|s| s.to_string()));
        all.extend(args.iter().cloned());
        let log = dir.join(format!("mirror-{}.log", std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0)));
        let mut daemon = Daemon::start(env!("CARGO_BIN_EXE_ocifit"), &all, &log, None, &[]);
        let text = match daemon.wait_for_log("listening on http://", Duration::from_secs(20)) {
            Ok(text) => text,
            Err(e) => {
                daemon.stop();
                let _ = std::fs::remove_dir_all(&dir);
                panic!("ocifit mirror did not start: {e}");
            }
        };
        let addr = text
            .split("listening on http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in: {text}"))
            .to_string();
        Mirror { daemon, addr, cache, dir, args }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop and start again on the same port with the same cache.
    pub fn restart(mut self) -> Mirror {
        self.daemon.stop();
        let dir = std::mem::take(&mut self.dir);
        let (cache, args, addr) = (std::mem::take(&mut self.cache), std::mem::take(&mut self.args), self.addr.clone());
        drop(self);
        Mirror::launch(dir, cache, &addr, args)
    }

    /// A counter or gauge of `/metrics` (0 when absent).
    pub fn metric(&self, name: &str) -> f64 {
        let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
        let text = agent.get(format!("{}/metrics", self.url())).call().unwrap().body_mut().read_to_string().unwrap();
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
    }

    pub fn log_text(&self) -> String {
        self.daemon.log_text()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.daemon.stop();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
