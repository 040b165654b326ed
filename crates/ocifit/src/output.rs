//! Writing to stdout: JSON pretty-printed, and a closed pipe (`| head`) is
//! not an error.

use std::io::Write;

pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).and_then(|_| out.flush()).is_err() {
        // The reader went away; nothing useful is left to do.
    }
}

pub fn print_json(value: &serde_json::Value) {
    let mut text = serde_json::to_string_pretty(value).expect("a Value always serializes");
    text.push('\n');
    print(&text);
}

/// Pretty JSON written as it is produced: a 20,000-entry report is
/// never held in memory as text or as a `Value`.
pub fn write_json(value: &impl serde::Serialize) {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush());
    if written.is_err() {
        // As in `print`: the reader went away.
    }
}

/// Aligned columns (the fleet report uses the same).
pub use ocifit_fleet::report::table;

/// Whether `path` is the file this process's stdout writes to (`/dev/stdout`,
/// `/proc/self/fd/1`, or the file stdout is redirected to): a report on
/// stdout and an index written there would be mixed into one stream.
/// `/dev/null` mixes nothing.
pub fn is_stdout(path: &std::path::Path) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Ok(target) = std::fs::metadata(path) else { return false };
    let Ok(stdout) = std::io::stdout().as_fd().try_clone_to_owned() else { return false };
    let Ok(stdout) = std::fs::File::from(stdout).metadata() else { return false };
    let null = std::fs::metadata("/dev/null").ok();
    let same = |a: &std::fs::Metadata, b: &std::fs::Metadata| a.dev() == b.dev() && a.ino() == b.ino();
    same(&target, &stdout) && !null.is_some_and(|n| same(&n, &target))
}
