//! `ocifit mirror`: run the node-local pull mirror (`ocifit-mirror`), and
//! `ocifit mirror config`: print or write the node files that use it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use ocifit_core::FeatureTable;
use ocifit_mirror::node_config;

use crate::cli::{Format, MirrorArgs, MirrorCommand, MirrorConfigArgs, MirrorMode, MirrorServeArgs, NodeRuntime};
use crate::error::{Failure, Outcome};
use crate::output;

/// `ocifit mirror --plain-http HOST` (docs/semantics.md §9): `--plain-http`
/// is also the global flag (plain HTTP for every registry) and takes no
/// value, so after `mirror` a `--plain-http` followed by a value is read as
/// `--plain-http-host VALUE`. Every other argument is left as it is.
pub fn argv(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let args: Vec<OsString> = args.into_iter().collect();
    let text = |i: usize| args.get(i).and_then(|a| a.to_str()).unwrap_or("");
    // The subcommand: the first word that is neither a flag nor the value
    // of a global flag.
    const GLOBAL_VALUES: [&str; 5] =
        ["--ca-cert", "--connect-timeout", "--read-timeout", "--retries", "--max-manifest-size"];
    let mut i = 1;
    while i < args.len() && text(i).starts_with('-') {
        i += if GLOBAL_VALUES.contains(&text(i)) { 2 } else { 1 };
    }
    if text(i) != "mirror" {
        return args;
    }
    let mut out: Vec<OsString> = args[..=i].to_vec();
    let mut rest = args[i + 1..].iter().cloned().peekable();
    while let Some(arg) = rest.next() {
        let word = arg.to_str().unwrap_or("");
        if word == "--plain-http" {
            if let Some(value) = rest.next_if(|v| !v.to_str().unwrap_or("-").starts_with('-')) {
                out.push("--plain-http-host".into());
                out.push(value);
                continue;
            }
        } else if let Some(value) = word.strip_prefix("--plain-http=") {
            out.push(format!("--plain-http-host={value}").into());
            continue;
        }
        out.push(arg);
    }
    out
}

pub fn run(args: MirrorArgs) -> Outcome {
    match args.config {
        Some(MirrorCommand::Config(config)) => node(config),
        None => serve(args.serve),
    }
}

fn serve(args: MirrorServeArgs) -> Outcome {
    // The target exactly as `select` builds it, or from a capture.
    let target = match &args.cpuinfo {
        Some(path) => {
            let text = super::host::read_input(path)?;
            ocifit_host::from_cpuinfo(&text, None).map_err(|e| Failure::bad(format!("{path}: {e}")))?.target
        }
        None => super::target::build(&args.target, FeatureTable::builtin())?,
    };
    let cache_dir = match args.cache_dir {
        Some(dir) => dir,
        None => default_cache_dir()?,
    };
    let options = ocifit_source::Options::current();
    let settings = ocifit_mirror::Settings {
        listen: args.listen,
        allow_remote: args.allow_remote,
        upstream: args.upstream,
        plain_http: args.plain_http_host,
        plain_http_all: options.plain_http,
        ca_certs: options.ca_certs.clone(),
        target,
        mode: match args.mode {
            MirrorMode::Filter => ocifit_mirror::Mode::Filter,
            MirrorMode::Reorder => ocifit_mirror::Mode::Reorder,
            MirrorMode::Off => ocifit_mirror::Mode::Off,
        },
        excludes: args.exclude,
        cache_dir,
        cache_max_bytes: args.cache_max_bytes,
        log_format: match args.log_format {
            Format::Text => ocifit_mirror::LogFormat::Text,
            Format::Json => ocifit_mirror::LogFormat::Json,
        },
        connect_timeout: options.connect_timeout,
        read_timeout: options.read_timeout,
        shutdown_grace: Duration::from_secs(10),
    };
    ocifit_mirror::run(settings).map_err(Failure::bad)?;
    Ok(0)
}

/// `/var/lib/ocifit/mirror` for root, else the user's cache directory.
fn default_cache_dir() -> Result<PathBuf, Failure> {
    #[cfg(unix)]
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    #[cfg(not(unix))]
    let root = false;
    if root {
        return Ok(PathBuf::from("/var/lib/ocifit/mirror"));
    }
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("XDG_CACHE_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("ocifit/mirror"))
        .ok_or_else(|| Failure::bad("--cache-dir: neither XDG_CACHE_HOME nor HOME is set; give --cache-dir"))
}

fn node(args: MirrorConfigArgs) -> Outcome {
    let files = match args.runtime {
        NodeRuntime::Containerd => node_config::containerd(&args.registry, &args.mirror),
        NodeRuntime::Containers => node_config::containers(&args.registry, Some(&args.mirror)),
    }
    .map_err(Failure::bad)?;
    match &args.write {
        Some(dir) => {
            node_config::write(dir, &files).map_err(Failure::bad)?;
            for f in &files {
                eprintln!("wrote {}", dir.join(&f.path).display());
            }
        }
        None => {
            let mut out = String::new();
            for (n, f) in files.iter().enumerate() {
                if n > 0 {
                    out.push('\n');
                }
                out.push_str(&format!("# --- {} ---\n{}", f.path, f.text));
            }
            output::print(&out);
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::argv;

    #[test]
    fn s9_plain_http_with_a_value_names_a_host_for_the_mirror_only() {
        let cases: [(&[&str], &[&str]); 9] = [
            (
                &["ocifit", "mirror", "--plain-http", "reg.lan:5000"],
                &["ocifit", "mirror", "--plain-http-host", "reg.lan:5000"],
            ),
            (&["ocifit", "mirror", "--plain-http=reg.lan"], &["ocifit", "mirror", "--plain-http-host=reg.lan"]),
            // Alone (or before another flag) it is the global flag.
            (
                &["ocifit", "mirror", "--plain-http", "--mode", "off"],
                &["ocifit", "mirror", "--plain-http", "--mode", "off"],
            ),
            (&["ocifit", "mirror", "--plain-http"], &["ocifit", "mirror", "--plain-http"]),
            // Other commands: untouched (the value is their SOURCE).
            (&["ocifit", "select", "--plain-http", "mirror"], &["ocifit", "select", "--plain-http", "mirror"]),
            (&["ocifit", "--plain-http", "select", "x"], &["ocifit", "--plain-http", "select", "x"]),
            (
                &["ocifit", "select", "mirror", "--plain-http", "x"],
                &["ocifit", "select", "mirror", "--plain-http", "x"],
            ),
            (
                &["ocifit", "--ca-cert", "mirror", "select", "--plain-http", "x"],
                &["ocifit", "--ca-cert", "mirror", "select", "--plain-http", "x"],
            ),
            (
                &["ocifit", "--ca-cert", "ca.pem", "mirror", "--plain-http", "h"],
                &["ocifit", "--ca-cert", "ca.pem", "mirror", "--plain-http-host", "h"],
            ),
        ];
        for (input, want) in cases {
            let got = argv(input.iter().map(Into::into));
            assert_eq!(got, want.iter().map(Into::into).collect::<Vec<std::ffi::OsString>>(), "{input:?}");
        }
    }
}
