//! The registry options, turned into the `ocifit-source` options every
//! command's `Source::load` uses: defaults, ranges, and which registry the
//! command-line credentials are meant for.

use std::io::Read;
use std::time::Duration;

use ocifit_source::options::DEFAULT_TOTAL_TIMEOUT;
use ocifit_source::reference::redact;
use ocifit_source::{Credentials, Options, Reference, Source};

use crate::cli::{Command, K8sCommand, RegistryArgs};
use crate::error::Failure;

/// Install the options for this process. `--creds-stdin` reads standard
/// input here, once, so it cannot also be a SOURCE (`-`).
pub fn install(args: &RegistryArgs, command: &Command, stdin_is_source: bool) -> Result<(), Failure> {
    let defaults = Options::default();
    let credentials = if args.creds_stdin {
        if stdin_is_source {
            return Err(Failure::bad("--creds-stdin: standard input is already the SOURCE (-)"));
        }
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .take(64 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| Failure::bad(format!("--creds-stdin: cannot read standard input: {e}")))?;
        Some(Credentials::from_stdin_text(&text).map_err(Failure::bad)?)
    } else {
        args.creds.as_deref().map(Credentials::from_user_colon_password).transpose().map_err(Failure::bad)?
    };
    let credentials_registry = match &credentials {
        Some(_) => Some(credentials_registry(command, if args.creds_stdin { "--creds-stdin" } else { "--creds" })?),
        None => None,
    };
    if let Some(file) = &args.authfile {
        std::fs::File::open(file)
            .map_err(|e| Failure::bad(format!("--authfile {}: {}", file.display(), io_words(&e))))?;
    }
    let max_manifest_bytes = match args.max_manifest_size {
        // Bounded by clap to 1 GiB: fits any usize ocifit builds for.
        Some(n) => usize::try_from(n).map_err(|_| Failure::bad(format!("--max-manifest-size: {n} is too large")))?,
        None => defaults.max_manifest_bytes,
    };
    let tls_verify = args.tls_verify.unwrap_or(true);
    if !tls_verify {
        eprintln!(
            "ocifit: warning: --tls-verify=false: registry certificates are not checked; anyone on the network \
             path can read and change what ocifit fetches and sends"
        );
    }
    Options {
        max_manifest_bytes,
        plain_http: args.transport.plain_http_everywhere(),
        plain_http_hosts: args.transport.plain_http_hosts(),
        ca_certs: args.transport.ca_cert.clone(),
        tls_verify,
        credentials,
        credentials_registry,
        auth_file: args.authfile.clone(),
        connect_timeout: seconds("--connect-timeout", args.connect_timeout, defaults.connect_timeout)?,
        read_timeout: seconds("--read-timeout", args.read_timeout, defaults.read_timeout)?,
        total_timeout: seconds("--timeout", args.timeout, DEFAULT_TOTAL_TIMEOUT)?,
        retries: args.retries.map_or(defaults.retries, |r| r.min(10)),
        verbose: args.verbose,
        ..defaults
    }
    .install();
    Ok(())
}

/// A `--…-timeout SECS` option, or its default.
pub fn seconds(flag: &str, value: Option<f64>, default: Duration) -> Result<Duration, Failure> {
    match value {
        None => Ok(default),
        Some(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(Duration::from_secs_f64(v)),
        Some(v) => Err(Failure::bad(format!("{flag}: {v} is not a number of seconds between 0 and 3600"))),
    }
}

fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The one registry the command-line credentials are for: the one the
/// command reads (its SOURCE; `fleet`'s images, which must then all be on
/// one registry), or for `index --push` from a file or layout, the push
/// target. Another registry the command reaches never gets them.
fn credentials_registry(command: &Command, flag: &str) -> Result<String, Failure> {
    let registry_of = |arg: &str| match Source::parse(arg) {
        Source::Registry(text) => Reference::parse(&text).ok().map(|r| r.registry),
        _ => None,
    };
    let read: Vec<&str> = match command {
        Command::Select(a) => vec![&a.choose.source],
        Command::Resolve(a) => vec![&a.choose.source],
        Command::Lint(a) => vec![&a.source],
        Command::K8s(K8sCommand::Affinity(a)) => vec![&a.source],
        Command::Fleet(a) => a.image.iter().map(String::as_str).collect(),
        Command::Index(c) => c.reads(),
        Command::Features(_)
        | Command::Explain(_)
        | Command::Host(_)
        | Command::Completions(_)
        | Command::Mirror(_) => vec![],
    };
    let mut registries: Vec<String> = read.iter().filter_map(|a| registry_of(a)).collect();
    if registries.is_empty() {
        if let Command::Index(c) = command {
            let push = c.push_target().map(|p| p.strip_prefix("docker://").unwrap_or(p));
            registries.extend(push.and_then(|p| Reference::parse(p).ok()).map(|r| r.registry));
        }
    }
    registries.sort();
    registries.dedup();
    match registries.as_slice() {
        [one] => Ok(one.clone()),
        [] => {
            Err(Failure::bad(format!("{flag}: the command reads from no registry, so these credentials have no use")))
        }
        several => Err(Failure::bad(format!(
            "{flag}: the images are on several registries ({}); command-line credentials are for one registry: \
             put each registry's credentials in an --authfile",
            several.iter().map(|r| redact(r).into_owned()).collect::<Vec<_>>().join(", ")
        ))),
    }
}
