//! Platforms: parsing containerd's platform strings, normalization (§3) and
//! formatting. The alias tables are data, as in containerd/platforms.

use std::fmt;

/// An OCI platform without CPU features: os, architecture, variant, and the
/// OS options. Fields hold what was given until [`Platform::normalized`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    /// `""` when absent.
    pub variant: String,
    /// `""` when absent.
    pub os_version: String,
    pub os_features: Vec<String>,
}

/// What a one-component platform string (`linux`, `arm64`) fills in from:
/// normally the machine ocifit runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformDefaults {
    pub os: String,
    pub architecture: String,
    pub variant: String,
}

/// A platform string that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformError {
    pub input: String,
    pub problem: String,
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "platform {:?}: {}", self.input, self.problem)
    }
}

impl std::error::Error for PlatformError {}

/// OS names containerd knows (Go's GOOS list), after normalization.
const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

/// Architecture spellings and what they normalize to: (input, architecture,
/// variant override). `None` keeps the given variant (then normalized per
/// architecture below).
const ARCH_ALIASES: &[(&str, &str, Option<&str>)] = &[
    ("i386", "386", Some("")),
    ("x86_64", "amd64", None),
    ("x86-64", "amd64", None),
    ("aarch64", "arm64", None),
    ("armhf", "arm", Some("v7")),
    ("armel", "arm", Some("v6")),
];

/// Variant spellings per architecture: (architecture, input, normalized).
const VARIANT_ALIASES: &[(&str, &str, &str)] = &[
    ("amd64", "v1", ""),
    ("arm64", "8", ""),
    ("arm64", "v8", ""),
    ("arm64", "v8.0", ""),
    ("arm64", "9", "v9"),
    ("arm64", "9.0", "v9"),
    ("arm64", "v9.0", "v9"),
    ("arm", "", "v7"),
    ("arm", "7", "v7"),
    ("arm", "5", "v5"),
    ("arm", "6", "v6"),
    ("arm", "8", "v8"),
];

/// Normalize an OS name (`Linux` -> `linux`, `macOS` -> `darwin`).
pub fn normalize_os(os: &str) -> String {
    let lower = os.to_ascii_lowercase();
    if lower == "macos" { "darwin".into() } else { lower }
}

/// Normalize an architecture and its variant together, as containerd does.
pub fn normalize_arch(architecture: &str, variant: &str) -> (String, String) {
    let mut arch = architecture.to_ascii_lowercase();
    let mut variant = variant.to_ascii_lowercase();
    if let Some((_, to, forced)) = ARCH_ALIASES.iter().find(|(from, _, _)| *from == arch) {
        arch = (*to).to_string();
        if let Some(v) = forced {
            variant = (*v).to_string();
        }
    }
    if let Some((_, _, to)) = VARIANT_ALIASES.iter().find(|(a, from, _)| *a == arch && *from == variant) {
        variant = (*to).to_string();
    }
    (arch, variant)
}

fn is_known_arch(arch: &str) -> bool {
    KNOWN_ARCH.contains(&arch)
}

/// Architectures containerd knows (Go's GOARCH list), after normalization.
const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "ppc64",
    "ppc64le",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// The closest of `known` to `word` (edit distance at most 2), for "did you mean".
fn closest<'k>(word: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    known
        .into_iter()
        .map(|k| (crate::docs::edit_distance(word, k), k))
        .filter(|(d, _)| *d <= 2.min(word.len().saturating_sub(1)))
        .min()
        .map(|(_, k)| k)
}

fn did_you_mean(word: &str, known: Option<&str>) -> String {
    match known {
        Some(k) => format!("{word:?}; did you mean {k:?}?"),
        None => format!("{word:?}"),
    }
}

/// Whether `variant` (normalized) is one ocifit knows for `architecture`;
/// `Err` says which are. Architectures whose variants are not listed accept any.
fn check_variant(architecture: &str, variant: &str) -> Result<(), &'static str> {
    let ok = match architecture {
        "amd64" => matches!(variant, "" | "v2" | "v3" | "v4"),
        "arm" => matches!(variant, "" | "v5" | "v6" | "v7" | "v8"),
        // Unknown higher versions are the highest known below them (§4.3).
        "arm64" => {
            variant.is_empty() || {
                let version = variant.strip_prefix('v').unwrap_or("");
                let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
                let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                number(major) && number(minor) && major.parse::<u32>().is_ok_and(|m| m >= 8)
            }
        }
        _ => true,
    };
    if ok {
        return Ok(());
    }
    Err(match architecture {
        "amd64" => "amd64 variants are v1..v4",
        "arm" => "arm variants are v5..v8",
        _ => {
            "arm64 variants are v8, v8.1 .. v8.9, v9, v9.1 .. v9.6 (a later version runs what the highest known below it runs)"
        }
    })
}

impl Platform {
    /// For a target named on the command line: its OS and architecture
    /// are ones containerd knows, and its variant one ocifit knows for
    /// amd64, arm and arm64, else an error with a "did you mean".
    /// (Entries of an index are never checked like this: a runtime must
    /// still select among the ones it understands.)
    pub fn check_known(&self, input: &str) -> Result<(), PlatformError> {
        let err = |problem: String| Err(PlatformError { input: input.into(), problem });
        let n = self.normalized();
        if !KNOWN_OS.contains(&n.os.as_str()) {
            let hint = did_you_mean(&self.os, closest(&n.os, KNOWN_OS.iter().copied().chain(["macos"])));
            return err(format!("unknown operating system {hint}"));
        }
        if !is_known_arch(&n.architecture) {
            let spellings = KNOWN_ARCH.iter().copied().chain(ARCH_ALIASES.iter().map(|(a, _, _)| *a));
            let hint = did_you_mean(&self.architecture, closest(&n.architecture, spellings));
            return err(format!("unknown architecture {hint}"));
        }
        let variant = if n.architecture == "arm64" && n.variant == "v8" { "" } else { n.variant.as_str() };
        if let Err(known) = check_variant(&n.architecture, variant) {
            return err(format!("unknown {} variant {:?}: {known}", n.architecture, self.variant));
        }
        Ok(())
    }

    pub fn new(os: &str, architecture: &str, variant: &str) -> Self {
        Platform { os: os.into(), architecture: architecture.into(), variant: variant.into(), ..Default::default() }
    }

    /// Parse containerd's syntax: `os[(version[+feature]...)][/arch[/variant]]`,
    /// or a lone architecture. One-component forms fill in from `defaults`.
    pub fn parse(input: &str, defaults: &PlatformDefaults) -> Result<Platform, PlatformError> {
        let err = |problem: &str| PlatformError { input: input.into(), problem: problem.into() };
        let (head, rest) = match input.find('(') {
            Some(open) => {
                let close = input[open..].find(')').map(|c| c + open).ok_or_else(|| err("'(' without ')'"))?;
                let (os, options) = (&input[..open], &input[open + 1..close]);
                let after = &input[close + 1..];
                if !(after.is_empty() || after.starts_with('/')) {
                    return Err(err("unexpected text after ')'"));
                }
                ((os, Some(options)), after)
            }
            None => match input.find('/') {
                Some(slash) => ((&input[..slash], None), &input[slash..]),
                None => ((input, None), ""),
            },
        };
        let (first, options) = head;
        let mut parts = vec![first];
        if !rest.is_empty() {
            parts.extend(rest[1..].split('/'));
        }
        if parts.len() > 3 {
            return Err(err("too many '/'-separated parts (want os/architecture/variant)"));
        }
        for part in &parts {
            if part.is_empty() {
                return Err(err("empty component"));
            }
            if !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
                return Err(err(&format!("invalid character in {part:?}")));
            }
        }
        let mut p = Platform::default();
        if let Some(options) = options {
            let (version, features) = match options.find('+') {
                Some(plus) => (&options[..plus], Some(&options[plus + 1..])),
                None => (options, None),
            };
            p.os_version = percent_decode(version).ok_or_else(|| err("bad percent-encoding in os.version"))?;
            if let Some(features) = features {
                for f in features.split('+').filter(|f| !f.is_empty()) {
                    p.os_features.push(percent_decode(f).ok_or_else(|| err("bad percent-encoding in os.features"))?);
                }
            }
        }
        match parts.len() {
            1 => {
                let os = normalize_os(parts[0]);
                if KNOWN_OS.contains(&os.as_str()) {
                    p.os = os;
                    p.architecture = defaults.architecture.clone();
                    p.variant = defaults.variant.clone();
                } else {
                    if options.is_some() {
                        return Err(err(&format!("unknown operating system {:?}", parts[0])));
                    }
                    let (arch, variant) = normalize_arch(parts[0], "");
                    if !is_known_arch(&arch) {
                        return Err(err(&format!("unknown operating system or architecture {:?}", parts[0])));
                    }
                    p.os = defaults.os.clone();
                    p.architecture = arch;
                    p.variant = if p.architecture == "arm" && variant == "v7" { String::new() } else { variant };
                }
            }
            2 => {
                p.os = normalize_os(parts[0]);
                let (arch, variant) = normalize_arch(parts[1], "");
                p.architecture = arch;
                p.variant = if p.architecture == "arm" && variant == "v7" { String::new() } else { variant };
            }
            _ => {
                p.os = normalize_os(parts[0]);
                let (arch, variant) = normalize_arch(parts[1], parts[2]);
                // containerd keeps an explicit `arm64/v8` when parsing.
                p.variant = if arch == "arm64" && variant.is_empty() { "v8".into() } else { variant };
                p.architecture = arch;
            }
        }
        Ok(p)
    }

    /// The form every comparison uses (§3): lowercase, aliases resolved,
    /// os.features sorted and de-duplicated, empty ones dropped.
    pub fn normalized(&self) -> Platform {
        let (architecture, variant) = normalize_arch(&self.architecture, &self.variant);
        let mut os_features: Vec<String> = self.os_features.iter().filter(|f| !f.is_empty()).cloned().collect();
        os_features.sort();
        os_features.dedup();
        Platform { os: normalize_os(&self.os), architecture, variant, os_version: self.os_version.clone(), os_features }
    }

    /// `os/architecture[/variant]`.
    pub fn short(&self) -> String {
        let mut s = format!("{}/{}", self.os, self.architecture);
        if !self.variant.is_empty() {
            s.push('/');
            s.push_str(&self.variant);
        }
        s
    }
}

/// containerd's `FormatAll`: `os(version+features)/arch/variant`, with
/// `% + ( ) /` percent-encoded and empty features dropped.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.os)?;
        let mut features: Vec<&String> = self.os_features.iter().filter(|s| !s.is_empty()).collect();
        features.sort();
        if !self.os_version.is_empty() || !features.is_empty() {
            write!(f, "({}", percent_encode(&self.os_version))?;
            for feat in features {
                write!(f, "+{}", percent_encode(feat))?;
            }
            f.write_str(")")?;
        }
        write!(f, "/{}", self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '+' => out.push_str("%2B"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The ARM variant digit from a `uname -m` machine string, as containerd
/// reads it (`aarch64` -> `8`, `armv7l` -> `7`, `armv9` -> `unknown`).
pub fn arm_variant_from_machine(machine: &str) -> Result<&'static str, PlatformError> {
    let lower = machine.to_ascii_lowercase();
    if lower == "aarch64" {
        return Ok("8");
    }
    if lower.len() >= 5 && lower.starts_with("armv") {
        return Ok(match &lower[3..5] {
            "v8" => "8",
            "v7" => "7",
            "v6" => "6",
            "v5" => "5",
            "v4" => "4",
            "v3" => "3",
            _ => "unknown",
        });
    }
    Err(PlatformError { input: machine.into(), problem: "not an ARM machine name".into() })
}
