//! Long-running processes (containerd, the mirror) that never outlive the
//! test binary: each runs under `sh`, which waits on a pipe from this
//! process; dropping the guard — or the test binary exiting, even killed —
//! closes the pipe, and `sh` stops the process, unmounts anything left
//! under its directory and removes the directory.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Child,
    keepalive: Option<ChildStdin>,
    pub log: PathBuf,
}

const SUPERVISOR: &str = r#"log=$1; cleanup=$2; shift 2
"$@" >"$log" 2>&1 & pid=$!
read _unused
kill $pid 2>/dev/null; wait $pid
if [ -n "$cleanup" ]; then
  awk -v d="$cleanup/" 'index($2 "/", d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$cleanup"
fi"#;

impl Daemon {
    /// Start `program args…` with stdout and stderr to `log`; `cleanup`, if
    /// given, is removed once the process has stopped.
    pub fn start(program: &str, args: &[String], log: &Path, cleanup: Option<&Path>, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", SUPERVISOR, "sh"])
            .arg(log)
            .arg(cleanup.map(Path::as_os_str).unwrap_or_default())
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {program}: {e}"));
        let keepalive = child.stdin.take();
        Daemon { child, keepalive, log: log.to_path_buf() }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the log holds `needle`; returns the log, or, after
    /// `timeout` or when the process has exited, an error holding it.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<String, String> {
        let start = Instant::now();
        loop {
            let text = self.log_text();
            if text.contains(needle) {
                return Ok(text);
            }
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            if exited || start.elapsed() > timeout {
                return Err(format!("{needle:?} not in its output:\n{text}"));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Stop the process and wait until it (and the cleanup) is done.
    pub fn stop(&mut self) {
        drop(self.keepalive.take());
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A temporary directory removed when dropped (also when a test fails).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        Scratch(crate::fixture::temp_dir(name))
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
