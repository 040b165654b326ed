//! The fallback vector (§4.3): the architecture/variant pairs a target can
//! run, best first. It follows containerd's `platformVector`.

/// Highest Armv8 and Armv9 minor versions ocifit knows. A target variant
/// above them (`v8.12`, `v9.9`, `v10`) runs what the highest known one below
/// it runs, never nothing.
pub const ARM64_MAX_MINOR: [(u32, u32); 2] = [(8, 9), (9, 6)];

/// An architecture and a normalized variant (`""` when absent).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArchVariant {
    pub architecture: String,
    pub variant: String,
}

impl ArchVariant {
    fn new(architecture: &str, variant: impl Into<String>) -> Self {
        ArchVariant { architecture: architecture.into(), variant: variant.into() }
    }
}

/// The fallback vector of a *normalized* architecture and variant.
pub fn fallback_vector(architecture: &str, variant: &str) -> Vec<ArchVariant> {
    let mut vector = vec![ArchVariant::new(architecture, variant)];
    match architecture {
        "amd64" => {
            if let Some(level) = variant.strip_prefix('v').and_then(|n| n.parse::<u32>().ok()) {
                for n in (2..level).rev() {
                    vector.push(ArchVariant::new("amd64", format!("v{n}")));
                }
                if level > 1 {
                    vector.push(ArchVariant::new("amd64", ""));
                }
            }
            vector.push(ArchVariant::new("386", ""));
        }
        "arm" => arm_down_from(variant, &mut vector),
        "arm64" => {
            if let Some((major, minor)) = arm64_version(variant) {
                let (major, minor) = clamp_arm64(major, minor);
                let mut push = |v: String| {
                    if !vector.iter().any(|p| p.architecture == "arm64" && p.variant == v) {
                        vector.push(ArchVariant::new("arm64", v));
                    }
                };
                if major == 9 {
                    for m in (0..=minor).rev() {
                        push(if m == 0 { "v9".into() } else { format!("v9.{m}") });
                    }
                    for m in (0..=(minor + 5).min(9)).rev() {
                        push(arm64_v8(m));
                    }
                } else {
                    for m in (0..=minor).rev() {
                        push(arm64_v8(m));
                    }
                }
                vector.push(ArchVariant::new("arm", "v8"));
                arm_down_from("v8", &mut vector);
            }
        }
        _ => {}
    }
    vector
}

fn arm64_v8(minor: u32) -> String {
    if minor == 0 { String::new() } else { format!("v8.{minor}") }
}

fn arm_down_from(variant: &str, vector: &mut Vec<ArchVariant>) {
    if let Some(n) = variant.strip_prefix('v').and_then(|n| n.parse::<u32>().ok()) {
        for m in (5..n).rev() {
            vector.push(ArchVariant::new("arm", format!("v{m}")));
        }
    }
}

/// `""` -> 8.0, `v8.2` -> 8.2, `v9` -> 9.0; anything else (`v10`, `v9.7`) too,
/// as long as it reads `v<major>[.<minor>]` with major ≥ 8.
pub fn arm64_version(variant: &str) -> Option<(u32, u32)> {
    if variant.is_empty() {
        return Some((8, 0));
    }
    let rest = variant.strip_prefix('v')?;
    let (major, minor) = match rest.split_once('.') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => (rest.parse().ok()?, 0),
    };
    (major >= 8).then_some((major, minor))
}

/// The highest known version at or below `major.minor`.
fn clamp_arm64(major: u32, minor: u32) -> (u32, u32) {
    let (top_major, top_minor) = ARM64_MAX_MINOR[ARM64_MAX_MINOR.len() - 1];
    if major > top_major {
        return (top_major, top_minor);
    }
    let max = ARM64_MAX_MINOR.iter().find(|(m, _)| *m == major).map_or(0, |(_, max)| *max);
    (major, minor.min(max))
}
