//! A captured Linux `/proc/cpuinfo` → a profile.
//!
//! Only the first processor block is read (the rule of
//! `tests/data/conformance/cpuinfo/expected.json`: split each line at the first
//! `:`; the first line without `:` after a key ends the block). What names
//! the features depends on the architecture:
//!
//! | architecture | key | form |
//! | --- | --- | --- |
//! | x86 | `flags` | Linux flag names (`pni`, `abm`, ...) |
//! | arm64, arm | `Features` | hwcap names |
//! | s390x | `features` | hwcap names |
//! | riscv64 | `isa` | `rv64` + single letters, then `_`-separated extensions |
//! | ppc64 | `cpu` | a model name only (`POWER9, altivec supported`) |
//!
//! Names go through [`FeatureTable::by_linux_name`]; flags the table lists
//! as not ISA features (`constant_tsc`, `sstc`, ...) are dropped silently;
//! every other unknown name is kept in [`Cpuinfo::unknown`], never an error.

use ocifit_core::target::guaranteed_features;
use ocifit_core::{Family, FeatureSet, FeatureTable};

use crate::hwcap;

/// What a capture says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpuinfo {
    pub architecture: String,
    /// The normalized variant (`""` when none is proven).
    pub variant: String,
    pub features: FeatureSet,
    /// Names the table does not know (and that are not known non-ISA flags).
    pub unknown: Vec<String>,
    /// The CPU's name, where the capture has one.
    pub model: Option<String>,
    /// How something was inferred rather than read.
    pub notes: Vec<String>,
}

/// A capture that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuinfoError {
    #[error("no processor block (no `key : value` lines)")]
    Empty,
    #[error(
        "cannot tell the architecture: no `flags` (x86), `Features` (arm), `features` (s390x), `isa` (riscv) or POWER `cpu` line"
    )]
    UnknownArchitecture,
    #[error("{0}")]
    Unsupported(String),
}

/// The first processor block as (key, value) pairs, in order.
pub fn first_block(text: &str) -> Vec<(&str, &str)> {
    let mut block = Vec::new();
    for line in text.lines() {
        match line.split_once(':') {
            Some((k, v)) => block.push((k.trim(), v.trim())),
            None if block.is_empty() => continue,
            None => break,
        }
    }
    block
}

fn value<'a>(block: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    block.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// The longest line a real capture has is an x86 `flags` line of ~2 KB.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// A real capture has a handful of flags newer than the table; hundreds mean
/// the input is not a capture (and listing them would echo it back).
pub const MAX_UNKNOWN_FLAGS: usize = 256;

/// Parse a capture. `arch` overrides the architecture where the capture
/// cannot tell (`ppc64` vs `ppc64le`, `arm` vs `arm64`).
pub fn parse(text: &str, arch: Option<&str>) -> Result<Cpuinfo, CpuinfoError> {
    if let Some(n) = text.lines().position(|l| l.len() > MAX_LINE_BYTES) {
        return Err(CpuinfoError::Unsupported(format!(
            "line {} is longer than {} KiB: not a /proc/cpuinfo capture",
            n + 1,
            MAX_LINE_BYTES >> 10
        )));
    }
    let info = parse_block(text, arch)?;
    if info.unknown.len() > MAX_UNKNOWN_FLAGS {
        return Err(CpuinfoError::Unsupported(format!(
            "{} flags the feature table does not know: not a /proc/cpuinfo capture",
            info.unknown.len()
        )));
    }
    Ok(info)
}

fn parse_block(text: &str, arch: Option<&str>) -> Result<Cpuinfo, CpuinfoError> {
    let block = first_block(text);
    if block.is_empty() {
        return Err(CpuinfoError::Empty);
    }
    let forced = arch.map(|a| ocifit_core::platform::normalize_arch(a, "").0);
    if let Some(flags) = value(&block, "flags") {
        let architecture = check(forced, &["amd64", "386"], "x86")?
            .unwrap_or_else(|| if flags.split_whitespace().any(|f| f == "lm") { "amd64" } else { "386" }.into());
        let mut info = map_names(Family::X86, &architecture, flags.split_whitespace());
        info.model = value(&block, "model name").map(str::to_string);
        if architecture == "amd64" {
            info.variant = amd64_level(&info.features).into();
        }
        return Ok(info);
    }
    if let Some(features) = value(&block, "Features") {
        let names: Vec<&str> = features.split_whitespace().collect();
        const ARM32_ONLY: &[&str] = &["half", "thumb", "fastmult", "vfp", "edsp", "neon", "swp", "tls", "vfpv3"];
        let looks_arm32 = names.iter().any(|n| ARM32_ONLY.contains(n));
        let architecture = check(forced, &["arm64", "arm"], "Arm")?
            .unwrap_or_else(|| if looks_arm32 { "arm" } else { "arm64" }.into());
        let family = if architecture == "arm" { Family::Arm } else { Family::Arm64 };
        let mut info = map_names(family, &architecture, names.into_iter());
        info.model = value(&block, "model name").or_else(|| value(&block, "Processor")).map(str::to_string);
        if family == Family::Arm64 {
            info.variant = hwcap::arm64_variant(&info.features).into();
        } else {
            info.variant = arm32_variant(&block).unwrap_or_else(|| hwcap::arm_level(&info.features).into());
        }
        return Ok(info);
    }
    if let Some(features) = value(&block, "features") {
        let architecture = check(forced, &["s390x"], "s390x")?.unwrap_or_else(|| "s390x".into());
        let mut info = map_names(Family::S390x, &architecture, features.split_whitespace());
        info.model = value(&block, "vendor_id").map(str::to_string);
        return Ok(info);
    }
    if let Some(isa) = value(&block, "isa") {
        let lower = isa.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix("rv64") else {
            return Err(CpuinfoError::Unsupported(format!("isa {isa:?}: only rv64 has a feature table")));
        };
        let architecture = check(forced, &["riscv64"], "riscv")?.unwrap_or_else(|| "riscv64".into());
        let mut parts = rest.split('_');
        let letters = parts.next().unwrap_or("");
        let mut names: Vec<String> = Vec::new();
        for c in letters.chars() {
            if c == 'g' {
                names.extend(["i", "m", "a", "f", "d", "zicsr", "zifencei"].map(String::from));
            } else {
                names.push(c.to_string());
            }
        }
        names.extend(parts.filter(|p| !p.is_empty()).map(String::from));
        let mut info = map_names(Family::Riscv64, &architecture, names.iter().map(String::as_str));
        info.model = value(&block, "model name").or_else(|| value(&block, "uarch")).map(str::to_string);
        return Ok(info);
    }
    if let Some(cpu) = value(&block, "cpu").filter(|c| c.to_ascii_uppercase().starts_with("POWER")) {
        return Ok(power(cpu, check(forced, &["ppc64le", "ppc64"], "POWER")?));
    }
    Err(CpuinfoError::UnknownArchitecture)
}

/// `--arch` must name an architecture the capture can be.
fn check(forced: Option<String>, allowed: &[&str], kind: &str) -> Result<Option<String>, CpuinfoError> {
    match forced {
        Some(a) if !allowed.contains(&a.as_str()) => Err(CpuinfoError::Unsupported(format!(
            "--arch {a}: this is a {kind} capture (it can be {})",
            allowed.join(" or ")
        ))),
        other => Ok(other),
    }
}

fn map_names<'a>(family: Family, architecture: &str, names: impl Iterator<Item = &'a str>) -> Cpuinfo {
    let table = FeatureTable::builtin();
    let mut features = FeatureSet::new();
    let mut unknown: Vec<String> = Vec::new();
    for name in names {
        match table.by_linux_name(family, name) {
            Some(id) if id.feature().valid_for(architecture) => {
                features.insert(id);
            }
            _ if table.is_non_isa_linux_flag(family, name) => {}
            _ => {
                if !unknown.iter().any(|u| u == name) {
                    unknown.push(name.to_string());
                }
            }
        }
    }
    Cpuinfo {
        architecture: architecture.into(),
        variant: String::new(),
        features,
        unknown,
        model: None,
        notes: Vec::new(),
    }
}

/// The amd64 level of a cpuinfo capture: the highest of the table's
/// `v2`..`v4` levels whose features (and those of the levels below it) are
/// all present. These are the Go runtime's GOAMD64 checks in Linux names;
/// `/proc/cpuinfo` has no OSXSAVE, so `xsave` stands in for it, and Linux
/// clears `avx*` flags whose XCR0 state it did not enable, which stands in
/// for the XCR0 check. `""` is v1.
pub fn amd64_level(features: &FeatureSet) -> &'static str {
    let table = FeatureTable::builtin();
    let base = guaranteed_features(table, "amd64", "");
    let mut best = "";
    for variant in ["v2", "v3", "v4"] {
        let mut needed = guaranteed_features(table, "amd64", variant);
        for id in base.iter() {
            needed.remove(id);
        }
        if needed.is_subset(features) {
            best = variant;
        } else {
            break;
        }
    }
    best
}

/// `CPU architecture: 7` → `v7`; `8` or `AArch64` (a 32-bit view of an
/// arm64 CPU) → `v8`; `5TEJ` → `v5`.
fn arm32_variant(block: &[(&str, &str)]) -> Option<String> {
    let arch = value(block, "CPU architecture")?;
    if arch.eq_ignore_ascii_case("aarch64") {
        return Some("v8".into());
    }
    let digits: String = arch.chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<u32>() {
        Ok(n @ 5..=8) => Some(format!("v{n}")),
        _ => None,
    }
}

/// ppc `/proc/cpuinfo` names the processor only. The features are inferred
/// from the POWER generation: what Linux's cputable sets for it (fpu,
/// altivec, and from POWER7 vsx and arch_2_06, POWER8 arch_2_07, POWER9
/// arch_3_00, POWER10 arch_3_1). Little-endian is assumed from POWER8 on
/// (the only ppc64le ABI needs POWER8); `--arch ppc64` overrides.
fn power(cpu: &str, forced: Option<String>) -> Cpuinfo {
    let upper = cpu.to_ascii_uppercase();
    let generation: u32 = upper
        .strip_prefix("POWER")
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let architecture = forced.unwrap_or_else(|| if generation >= 8 { "ppc64le" } else { "ppc64" }.into());
    let mut names = vec!["fpu"];
    if upper.contains("ALTIVEC SUPPORTED") || generation >= 7 {
        names.push("altivec");
    }
    if generation >= 7 {
        names.extend(["vsx", "arch_2_06"]);
    }
    if generation >= 8 {
        names.push("arch_2_07");
    }
    if generation >= 9 {
        names.push("arch_3_00");
    }
    if generation >= 10 {
        names.push("arch_3_1");
    }
    let mut info = map_names(Family::Ppc64, &architecture, names.into_iter());
    info.model = Some(cpu.to_string());
    info.notes.push(format!(
        "ppc /proc/cpuinfo has no feature list: features inferred from the processor generation ({cpu:?})"
    ));
    info
}
