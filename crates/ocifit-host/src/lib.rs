//! Host detection: what CPU features this machine — or a capture of one —
//! supports, as an [`ocifit_core::Target`] (docs/semantics.md §7).
//!
//! Features are read directly from the hardware and the kernel, never from
//! configuration:
//!
//! - x86 / x86-64 (any OS): `CPUID`, and `XGETBV` for the state the OS
//!   enabled, only after OSXSAVE is seen. A feature is reported only when the
//!   CPU has it *and* its XCR0 state components are enabled; otherwise it is
//!   listed in [`HostProfile::disabled_by_os`]. The amd64 variant is the
//!   level the Go runtime's GOAMD64 start-up checks accept.
//! - Linux arm64, arm, ppc64/ppc64le, s390x: `getauxval(AT_HWCAP/2/3)`;
//!   riscv64: `riscv_hwprobe` plus `AT_HWCAP` for single letters. The arm64
//!   variant is the highest level the hwcaps prove; arm's comes from
//!   `AT_PLATFORM`.
//! - Anything else: [`HostError::Unsupported`], never a guess.
//!
//! Offline inputs go through the same code: [`from_cpuid_dump`] replays a
//! dump through the x86 detection the live CPU uses ([`dump_cpuid`] writes
//! one), and [`from_cpuinfo`] reads a captured `/proc/cpuinfo`.
//!
//! ```
//! let text = "processor : 0\nflags : fpu cmov cx8 fxsr mmx sse sse2 lm pni abm\n";
//! let profile = ocifit_host::from_cpuinfo(text, None).unwrap();
//! assert_eq!(profile.target.platform.architecture, "amd64");
//! assert!(profile.target.features.sorted_names().contains(&"lzcnt"));
//! ```
//!
//! All `unsafe` code is in one private module (`raw`), each block with a
//! `SAFETY:` note; the rest of the crate denies it.

#![deny(unsafe_code)]

pub mod cpuinfo;
pub mod dump;
pub mod hwcap;
mod raw;
pub mod x86;

use ocifit_core::{Family, FeatureId, FeatureSet, FeatureTable, Platform, Target};

pub use cpuinfo::CpuinfoError;
pub use dump::{CpuidDump, DumpError};
use x86::CpuidSource as _;

/// Where a profile came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This machine, detected directly.
    Live,
    /// A captured `/proc/cpuinfo`.
    Cpuinfo,
    /// A replayed CPUID dump.
    CpuidDump,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Live => "live",
            Source::Cpuinfo => "cpuinfo",
            Source::CpuidDump => "cpuid-dump",
        }
    }
}

/// A detected host: the target to select for, and what the detection saw.
#[derive(Debug, Clone)]
pub struct HostProfile {
    pub target: Target,
    /// Features the CPU has but the OS did not enable (e.g. AVX-512 without ZMM state).
    pub disabled_by_os: Vec<FeatureId>,
    /// Names in a `/proc/cpuinfo` capture that the table does not know.
    pub unknown_flags: Vec<String>,
    pub source: Source,
    /// Vendor and model, where known (`GenuineIntel`, `Intel(R) Xeon(R) ...`).
    pub vendor: Option<String>,
    pub model: Option<String>,
    /// What was inferred or assumed rather than read.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("host detection is not supported on {0}")]
    Unsupported(String),
    #[error("cpuinfo: {0}")]
    Cpuinfo(#[from] CpuinfoError),
    #[error("CPUID dump: {0}")]
    Dump(#[from] DumpError),
}

/// The OCI architecture ocifit was built for (`amd64`, `arm64`, `ppc64le`, ...).
pub fn build_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        other => other,
    }
}

/// Detect this machine: the target, the features the OS disabled, and the
/// vendor (but not the model name: see [`detect_identified`]).
pub fn detect() -> Result<HostProfile, HostError> {
    detect_impl(false)
}

/// [`detect`], plus the CPU's model name where reading it costs extra
/// (x86: the CPUID brand-string leaves).
pub fn detect_identified() -> Result<HostProfile, HostError> {
    detect_impl(true)
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn detect_impl(identity: bool) -> Result<HostProfile, HostError> {
    let d = x86::detect(&mut raw::LiveCpuid, identity, x86::OsGates::live, build_architecture());
    Ok(x86_profile(d, std::env::consts::OS, build_architecture(), Source::Live, Vec::new()))
}

#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "powerpc64",
        target_arch = "s390x",
        target_arch = "riscv64"
    )
))]
fn detect_impl(_identity: bool) -> Result<HostProfile, HostError> {
    let caps = raw::read_hwcaps(&hwcap::hwprobe_keys());
    Ok(from_hwcaps(&caps, build_architecture()))
}

#[cfg(not(any(
    target_arch = "x86",
    target_arch = "x86_64",
    all(
        any(target_os = "linux", target_os = "android"),
        any(
            target_arch = "aarch64",
            target_arch = "arm",
            target_arch = "powerpc64",
            target_arch = "s390x",
            target_arch = "riscv64"
        )
    )
)))]
fn detect_impl(_identity: bool) -> Result<HostProfile, HostError> {
    Err(HostError::Unsupported(format!(
        "{}/{} (ocifit reads CPUID on x86 and the Linux auxiliary vector elsewhere); \
         give the target with --platform and --features",
        std::env::consts::OS,
        std::env::consts::ARCH
    )))
}

/// A profile from Linux hwcaps (the live path of every non-x86 Linux
/// architecture; public so captured values can be checked too).
pub fn from_hwcaps(caps: &hwcap::Hwcaps, architecture: &str) -> HostProfile {
    let family = Family::of(architecture);
    let features = family.map(|f| hwcap::features(caps, f, architecture)).unwrap_or_default();
    let variant = match architecture {
        "arm64" => hwcap::arm64_variant(&features).to_string(),
        "arm" => caps
            .platform
            .as_deref()
            .and_then(hwcap::arm_variant)
            .unwrap_or_else(|| hwcap::arm_level(&features).to_string()),
        _ => String::new(),
    };
    let mut notes = Vec::new();
    if family == Some(Family::Riscv64) && caps.hwprobe.is_empty() {
        notes.push("riscv_hwprobe unavailable (Linux < 6.4): only single-letter extensions were read".into());
    }
    HostProfile {
        target: Target::new(&Platform::new("linux", architecture, &variant), features),
        disabled_by_os: Vec::new(),
        unknown_flags: Vec::new(),
        source: Source::Live,
        vendor: None,
        model: caps.platform.clone(),
        notes,
    }
}

fn x86_profile(d: x86::X86Detection, os: &str, arch: &str, source: Source, notes: Vec<String>) -> HostProfile {
    let variant = if arch == "amd64" { format!("v{}", d.go_level) } else { String::new() };
    let vendor = (!d.snapshot.vendor.is_empty()).then(|| d.snapshot.vendor.clone());
    HostProfile {
        target: Target::new(&Platform::new(os, arch, &variant), d.features),
        disabled_by_os: d.disabled_by_os,
        unknown_flags: Vec::new(),
        source,
        vendor,
        model: d.snapshot.brand.clone(),
        notes,
    }
}

/// Replay a CPUID dump (ocifit's format or archspec's CSV) through the
/// live x86 detection code.
pub fn from_cpuid_dump(text: &str) -> Result<HostProfile, HostError> {
    let mut dump = CpuidDump::parse(text)?;
    let mut notes = Vec::new();
    let (xcr0, assumed) = dump.effective_xcr0();
    let osxsave = dump.leaves.iter().any(|((l, s), r)| (*l, *s) == (1, 0) && r[2] & (1 << 27) != 0);
    if assumed && osxsave {
        let why = if xcr0 == u64::MAX {
            "every state component: the dump has no CPUID.0Dh.0 either"
        } else {
            "every state component CPUID.0Dh.0 enumerates"
        };
        notes.push(format!("the dump has no XCR0; assumed {xcr0:#x} ({why})"));
    }
    let os = dump.os.clone().unwrap_or_else(|| if dump.csv { "windows".into() } else { std::env::consts::OS.into() });
    let forced_arch = dump.arch.clone();
    let snapshot_arch = forced_arch.clone().unwrap_or_else(|| {
        let max_ext = dump.cpuid(0x8000_0000, 0)[0];
        let lm = (0x8000_0001..=0x8000_ffff).contains(&max_ext) && dump.cpuid(0x8000_0001, 0)[3] & (1 << 29) != 0;
        if lm { "amd64".into() } else { "386".into() }
    });
    let gates = dump.gates;
    let d = x86::detect(&mut dump, true, |_| gates, &snapshot_arch);
    Ok(x86_profile(d, &os, &snapshot_arch, Source::CpuidDump, notes))
}

/// This machine's CPUID leaves and XCR0 in the [`dump`] format: exactly the
/// values live detection reads.
pub fn dump_cpuid() -> Result<String, HostError> {
    dump_impl()
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn dump_impl() -> Result<String, HostError> {
    let s = x86::Snapshot::read(&mut raw::LiveCpuid, true);
    Ok(CpuidDump::from_snapshot(&s, x86::OsGates::live(&s), build_architecture(), std::env::consts::OS).to_text())
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn dump_impl() -> Result<String, HostError> {
    Err(HostError::Unsupported(format!("--dump-cpuid on {}: CPUID is an x86 instruction", std::env::consts::ARCH)))
}

/// A profile from a captured `/proc/cpuinfo`. `arch` overrides the
/// architecture where the capture cannot tell (`ppc64` vs `ppc64le`).
pub fn from_cpuinfo(text: &str, arch: Option<&str>) -> Result<HostProfile, HostError> {
    let info = cpuinfo::parse(text, arch)?;
    Ok(HostProfile {
        target: Target::new(&Platform::new("linux", &info.architecture, &info.variant), info.features),
        disabled_by_os: Vec::new(),
        unknown_flags: info.unknown,
        source: Source::Cpuinfo,
        vendor: None,
        model: info.model,
        notes: info.notes,
    })
}

impl HostProfile {
    /// The family of the target's architecture.
    pub fn family(&self) -> Option<Family> {
        Family::of(&self.target.platform.architecture)
    }

    /// Features the table guarantees for the reported variant that were not
    /// detected (empty unless the variant rule and the table disagree).
    pub fn variant_gaps(&self) -> FeatureSet {
        let p = &self.target.platform;
        let mut gaps = ocifit_core::target::guaranteed_features(FeatureTable::builtin(), &p.architecture, &p.variant);
        for id in self.target.features.iter() {
            gaps.remove(id);
        }
        gaps
    }
}
