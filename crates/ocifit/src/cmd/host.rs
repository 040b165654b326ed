//! `ocifit host`: what this machine (or a capture of one) supports (§7, §8).

use ocifit_core::{FeatureId, FeatureSet, FeatureTable};
use ocifit_host::{HostProfile, Source};
use serde_json::{Value, json};

use crate::cli::{HostArgs, HostFormat};
use crate::error::{Failure, Outcome};
use crate::output;

pub fn run(args: HostArgs) -> Outcome {
    if args.dump_cpuid {
        let text = ocifit_host::dump_cpuid().map_err(Failure::bad)?;
        output::print(&text);
        return Ok(0);
    }
    let profile = if let Some(path) = &args.cpuinfo {
        let text = read_input(path)?;
        ocifit_host::from_cpuinfo(&text, args.arch.as_deref()).map_err(|e| Failure::bad(format!("{path}: {e}")))?
    } else if let Some(path) = &args.cpuid {
        let text = read_input(path)?;
        ocifit_host::from_cpuid_dump(&text).map_err(|e| Failure::bad(format!("{path}: {e}")))?
    } else if args.format == HostFormat::Text {
        ocifit_host::detect_identified().map_err(|e| Failure::bad(format!("this host: {e}")))?
    } else {
        ocifit_host::detect().map_err(|e| Failure::bad(format!("this host: {e}")))?
    };
    match args.format {
        HostFormat::Json => output::print_json(&json_doc(&profile)),
        HostFormat::Text => output::print(&text(&profile)),
        HostFormat::Nfd => output::print(&nfd(&profile)),
    }
    Ok(0)
}

/// A /proc/cpuinfo of a 512-CPU machine is about 2 MiB; a CPUID dump is a
/// few kilobytes. Anything larger is not a capture (docs/limits.md).
pub const MAX_CAPTURE_BYTES: u64 = 16 << 20;

pub(crate) fn read_input(path: &str) -> Result<String, Failure> {
    use std::io::Read;
    let mut bytes = Vec::new();
    let read = if path == "-" {
        std::io::stdin().take(MAX_CAPTURE_BYTES + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_CAPTURE_BYTES + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| Failure::bad(format!("{path}: {e}")))?;
    if bytes.len() as u64 > MAX_CAPTURE_BYTES {
        return Err(Failure::bad(format!(
            "{path}: larger than the {} MiB a capture may have",
            MAX_CAPTURE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| Failure::bad(format!("{path}: not UTF-8 text")))
}

fn sorted_names(ids: &[FeatureId]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = ids.iter().map(|id| id.feature().name).collect();
    names.sort_unstable();
    names
}

/// §8's platform object plus ocifit's own keys.
fn json_doc(p: &HostProfile) -> Value {
    let mut doc = p.target.to_json();
    doc["disabledByOs"] = json!(sorted_names(&p.disabled_by_os));
    doc["unknownFlags"] = json!(p.unknown_flags);
    doc["source"] = json!(p.source.name());
    if !p.notes.is_empty() {
        doc["notes"] = json!(p.notes);
    }
    doc
}

fn how(source: Source, architecture: &str) -> &'static str {
    match (source, architecture) {
        (Source::Live, "amd64" | "386") => "this machine (CPUID, XGETBV)",
        (Source::Live, "riscv64") => "this machine (riscv_hwprobe, AT_HWCAP)",
        (Source::Live, _) => "this machine (AT_HWCAP, AT_HWCAP2, AT_HWCAP3)",
        (Source::Cpuinfo, _) => "a /proc/cpuinfo capture",
        (Source::CpuidDump, _) => "a CPUID dump",
    }
}

fn variant_rule(architecture: &str) -> &'static str {
    match architecture {
        "amd64" => "the Go runtime's GOAMD64 checks",
        "arm64" => "the highest Armv8/v9 level whose mandatory features are all present",
        "arm" => "AT_PLATFORM / CPU architecture",
        _ => "",
    }
}

/// A readable summary: platform, variant, features grouped by the level
/// that guarantees them, what the OS disabled.
fn text(p: &HostProfile) -> String {
    let table = FeatureTable::builtin();
    let platform = &p.target.platform;
    let arch = platform.architecture.as_str();
    let mut out = String::new();
    out.push_str(&format!("platform:  {}\n", platform.short()));
    out.push_str(&format!("source:    {}\n", how(p.source, arch)));
    let cpu: Vec<&str> = p.vendor.iter().chain(p.model.iter()).map(String::as_str).collect();
    if !cpu.is_empty() {
        out.push_str(&format!("cpu:       {}\n", cpu.join(" — ")));
    }
    let rule = variant_rule(arch);
    if !rule.is_empty() {
        let shown = match (arch, platform.variant.as_str()) {
            ("amd64", "") => "v1",
            ("arm64", "") => "v8 (Armv8.0)",
            (_, "") => "none",
            (_, v) => v,
        };
        out.push_str(&format!("variant:   {shown} (by {rule})\n"));
    }
    let grouped = if table.levels(arch).next().is_some() { " (by the variant that guarantees them)" } else { "" };
    out.push_str(&format!("features:  {}{grouped}\n", p.target.features.len()));
    let mut rest: FeatureSet = p.target.features;
    for level in table.levels(arch) {
        let here: Vec<&str> =
            level.features.iter().filter(|id| rest.contains(**id)).map(|id| id.feature().name).collect();
        for id in level.features {
            rest.remove(*id);
        }
        if here.is_empty() {
            continue;
        }
        let label =
            if level.variant.is_empty() { format!("{arch} baseline") } else { format!("{arch}/{}", level.variant) };
        out.push_str(&wrap(&format!("  {label}:"), &here));
    }
    if !rest.is_empty() {
        let label = if table.levels(arch).next().is_some() { "  beyond the levels:" } else { "  detected:" };
        out.push_str(&wrap(label, &rest.sorted_names()));
    }
    let disabled = sorted_names(&p.disabled_by_os);
    if disabled.is_empty() {
        out.push_str("not enabled by the OS: none\n");
    } else {
        out.push_str(&wrap("not enabled by the OS (the CPU has them):", &disabled));
    }
    if !p.unknown_flags.is_empty() {
        let names: Vec<&str> = p.unknown_flags.iter().map(String::as_str).collect();
        out.push_str(&wrap("not in the feature table:", &names));
    }
    for note in &p.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

fn wrap(label: &str, names: &[&str]) -> String {
    let mut out = String::from(label);
    out.push('\n');
    let mut line = String::from("   ");
    for n in names {
        if line.len() + n.len() + 1 > 88 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("   ");
        }
        line.push(' ');
        line.push_str(n);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// A node-feature-discovery local feature file (`features.d`): one
/// `key=value` per line, so nfd-worker's `local` source publishes ocifit's
/// view as node labels.
fn nfd(p: &HostProfile) -> String {
    const PREFIX: &str = "feature.node.kubernetes.io/ocifit-";
    let platform = &p.target.platform;
    let mut out = String::from(
        "# ocifit host --format nfd: a node-feature-discovery local feature file.\n\
         # Install as /etc/kubernetes/node-feature-discovery/features.d/ocifit\n",
    );
    out.push_str(&format!("{PREFIX}os={}\n", platform.os));
    out.push_str(&format!("{PREFIX}architecture={}\n", platform.architecture));
    if !platform.variant.is_empty() {
        out.push_str(&format!("{PREFIX}variant={}\n", platform.variant));
    }
    for name in p.target.features.sorted_names() {
        out.push_str(&format!("{PREFIX}feature.{name}=true\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> HostProfile {
        let text = "processor : 0\nflags : fpu cmov cx8 fxsr mmx sse sse2 lm pni ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm \
                    constant_tsc made_up\n";
        ocifit_host::from_cpuinfo(text, None).unwrap()
    }

    #[test]
    fn json_is_the_semantics_platform_object() {
        let doc = json_doc(&profile());
        assert_eq!(doc["os"], "linux");
        assert_eq!(doc["architecture"], "amd64");
        assert_eq!(doc["variant"], "v2");
        let features: Vec<&str> = doc["features"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let mut sorted = features.clone();
        sorted.sort_unstable();
        assert_eq!(features, sorted);
        assert!(features.contains(&"sse3") && !features.contains(&"pni"));
        assert_eq!(doc["unknownFlags"], json!(["made_up"]));
    }

    #[test]
    fn nfd_lines_are_valid_labels() {
        let text = nfd(&profile());
        let label = regex_free_label_check;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (key, value) = line.split_once('=').unwrap();
            let (prefix, name) = key.split_once('/').unwrap();
            assert_eq!(prefix, "feature.node.kubernetes.io");
            assert!(label(name) && label(value), "{line}");
        }
        assert!(text.contains("feature.node.kubernetes.io/ocifit-feature.sse4_2=true\n"));
        assert!(text.contains("feature.node.kubernetes.io/ocifit-variant=v2\n"));
    }

    /// Kubernetes label name/value syntax: at most 63 characters,
    /// alphanumerics, `-`, `_` and `.`, alphanumeric at both ends.
    fn regex_free_label_check(s: &str) -> bool {
        let ok_end = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        s.len() <= 63
            && ok_end(s.chars().next())
            && ok_end(s.chars().last())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    }

    #[test]
    fn text_groups_by_level() {
        let t = text(&profile());
        assert!(t.starts_with("platform:  linux/amd64/v2\n"), "{t}");
        assert!(t.contains("  amd64/v2:\n"), "{t}");
        assert!(t.contains("not in the feature table:\n    made_up\n"), "{t}");
    }
}
