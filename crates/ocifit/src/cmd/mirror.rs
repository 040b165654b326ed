//! `ocifit mirror`: run the node-local pull mirror (`ocifit-mirror`), and
//! `ocifit mirror config`: print or write the node files that use it.

use std::path::PathBuf;
use std::time::Duration;

use ocifit_core::FeatureTable;
use ocifit_mirror::node_config;

use crate::cli::{Format, MirrorArgs, MirrorCommand, MirrorConfigArgs, MirrorMode, MirrorServeArgs, NodeRuntime};
use crate::error::{Failure, Outcome};
use crate::output;
use crate::sources::seconds;

pub fn run(args: MirrorArgs) -> Outcome {
    match args.config {
        Some(MirrorCommand::Config(config)) => node(config),
        None => serve(args.serve),
    }
}

fn serve(args: MirrorServeArgs) -> Outcome {
    // The target exactly as `select` builds it, or from a capture.
    let target = match super::select::node_data_target(&args.target)? {
        Some((target, _)) => target,
        None => super::target::build(&args.target, FeatureTable::builtin())?,
    };
    let cache_dir = match args.cache_dir {
        Some(dir) => dir,
        None => default_cache_dir()?,
    };
    let defaults = ocifit_source::Options::default();
    let settings = ocifit_mirror::Settings {
        listen: args.listen,
        allow_remote: args.allow_remote,
        upstream: args.upstream,
        plain_http: args.transport.plain_http_hosts(),
        plain_http_all: args.transport.plain_http_everywhere(),
        ca_certs: args.transport.ca_cert,
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
        connect_timeout: seconds("--connect-timeout", args.connect_timeout, defaults.connect_timeout)?,
        read_timeout: seconds("--read-timeout", args.read_timeout, defaults.read_timeout)?,
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
    use clap::Parser;

    use crate::cli::{Cli, Command};

    /// `--plain-http=HOST` names ?ns= hosts reached over plain HTTP; bare
    /// `--plain-http` means every upstream, as on the commands that read sources.
    #[test]
    fn s9_plain_http_names_hosts_or_every_upstream() {
        let cases: [(&[&str], Option<&[&str]>); 4] = [
            (&["--plain-http=reg.lan:5000"], Some(&["reg.lan:5000"])),
            (&["--plain-http=a", "--plain-http=b"], Some(&["a", "b"])),
            (&["--plain-http"], Some(&[""])),
            // A separate word is not a value (it would be read as a subcommand or source).
            (&["--plain-http", "reg.lan"], None),
        ];
        for (flags, want) in cases {
            let argv = ["ocifit", "mirror"].iter().chain(flags);
            let parsed = Cli::try_parse_from(argv);
            match (parsed, want) {
                (Ok(Cli { command: Command::Mirror(m), .. }), Some(want)) => {
                    assert_eq!(m.serve.transport.plain_http, want, "{flags:?}")
                }
                (Err(_), None) => {}
                (other, want) => panic!("{flags:?}: {:?}, wanted {want:?}", other.map(|_| ())),
            }
        }
    }
}
