//! The global registry flags, turned into the `ocifit-source` options every
//! command's `Source::load` uses.

use std::io::Read;
use std::time::Duration;

use ocifit_source::{Credentials, Options};

use crate::cli::RegistryArgs;
use crate::error::Failure;

/// Install the options for this process. `--creds-stdin` reads standard
/// input here, once, so it cannot also be a SOURCE (`-`).
pub fn install(args: &RegistryArgs, stdin_is_source: bool) -> Result<(), Failure> {
    let seconds = |flag: &str, v: f64| {
        if v.is_finite() && v > 0.0 && v <= 3600.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(Failure::bad(format!("{flag}: {v} is not a number of seconds between 0 and 3600")))
        }
    };
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
        None
    };
    if args.max_manifest_size == 0 {
        return Err(Failure::bad("--max-manifest-size: must be at least 1 byte"));
    }
    Options {
        max_manifest_bytes: args.max_manifest_size,
        plain_http: args.plain_http,
        ca_certs: args.ca_cert.clone(),
        credentials,
        connect_timeout: seconds("--connect-timeout", args.connect_timeout)?,
        read_timeout: seconds("--read-timeout", args.read_timeout)?,
        retries: args.retries.min(10),
        ..Options::default()
    }
    .install();
    Ok(())
}
