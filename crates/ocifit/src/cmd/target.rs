//! Building the target of `select` from flags (§8).

use ocifit_core::platform::PlatformDefaults;
use ocifit_core::{FeatureTable, Platform, Target};

use crate::cli::TargetArgs;
use crate::error::Failure;

/// The OS and architecture ocifit was built for: what a one-word
/// `--platform` (`linux`, `arm64`) fills in.
pub fn build_defaults() -> PlatformDefaults {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "arm" => "arm",
        other => other,
    };
    PlatformDefaults { os: std::env::consts::OS.into(), architecture: arch.into(), variant: String::new() }
}

pub fn build(args: &TargetArgs, table: FeatureTable) -> Result<Target, Failure> {
    let defaults = build_defaults();
    let mut target = match (&args.platform, args.host) {
        (None, _) if args.features.is_empty() => host()?,
        (None, _) => {
            let p = Platform::new(&defaults.os, &defaults.architecture, "");
            Target::guaranteed(&p, table)
        }
        (Some(text), host_features) => {
            let p = Platform::parse(text, &defaults)
                .and_then(|p| p.check_known(text).map(|()| p))
                .map_err(|e| Failure::bad(format!("--platform: {e}")))?;
            if host_features {
                let mut t = host()?;
                t.platform = p.normalized();
                t
            } else {
                Target::guaranteed(&p, table)
            }
        }
    };
    if let Some(v) = &args.os_version {
        target.platform.os_version = v.clone();
    }
    if !args.os_features.is_empty() {
        target.platform.os_features.extend(args.os_features.iter().filter(|f| !f.is_empty()).cloned());
        target.platform = target.platform.normalized();
    }
    target.add_named(table, &args.features).map_err(|e| Failure::bad(format!("--features: {e}")))?;
    Ok(target)
}

fn host() -> Result<Target, Failure> {
    ocifit_host::detect()
        .map(|h| h.target)
        .map_err(|e| Failure::bad(format!("this host: {e}; give the target with --platform (and --features)")))
}
