//! `ocifit features`: the table, as text, JSON or the generated Markdown.

use ocifit_core::docs::{guaranteed_by, lowest_level, markdown};
use ocifit_core::target::{guaranteed_features, level_by_name};
use ocifit_core::{Family, Feature, FeatureSet, FeatureTable};
use serde_json::{Value, json};

use crate::cli::{FeaturesArgs, TableFormat};
use crate::error::{Failure, Outcome};
use crate::output;

pub fn run(args: FeaturesArgs) -> Outcome {
    let table = FeatureTable::builtin();
    let (family, arch) = match &args.arch {
        None => (None, None),
        Some(a) => {
            let family = Family::parse(a).ok_or_else(|| {
                Failure::bad(format!(
                    "architecture {a:?}: no feature table (known: x86 (amd64, 386), arm64, arm, ppc64 (ppc64le, ppc64), s390x, riscv64)"
                ))
            })?;
            let (arch, _) = ocifit_core::platform::normalize_arch(a, "");
            (Some(family), family.architectures().contains(&arch.as_str()).then_some(arch))
        }
    };
    let level = match &args.level {
        None => None,
        Some(l) => Some(level_set(table, args.arch.as_deref(), arch.as_deref(), l)?),
    };
    let rows: Vec<&Feature> = table
        .features()
        .iter()
        .filter(|f| family.is_none_or(|fam| f.family == fam))
        .filter(|f| arch.as_deref().is_none_or(|a| f.valid_for(a)))
        .filter(|f| level.is_none_or(|set| set.contains(f.id())))
        .collect();
    match args.format {
        TableFormat::Markdown => output::print(&markdown(table, family)),
        TableFormat::Json => output::print_json(&Value::Array(rows.iter().map(|f| feature_json(table, f)).collect())),
        TableFormat::Text => {
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|f| {
                    let level = lowest_level(table, f.id()).unwrap_or_default();
                    vec![f.family.to_string(), f.name.to_string(), level, f.description.to_string()]
                })
                .collect();
            output::print(&output::table(&["family", "name", "level", "description"], &body));
        }
    }
    Ok(0)
}

/// `--level`: a variant of the architecture (`v3`, `v8.2`, `""`/`baseline`)
/// or a level name (`x86-64-v3`, `armv8.2-a`): the set it guarantees.
fn level_set(table: FeatureTable, given: Option<&str>, arch: Option<&str>, level: &str) -> Result<FeatureSet, Failure> {
    if let Some((level_arch, variant)) = level_by_name(level) {
        if let Some(a) = arch.filter(|a| Family::of(a) != Family::of(level_arch)) {
            return Err(Failure::bad(format!("--level {level}: a level of {level_arch}, not {a}")));
        }
        return Ok(guaranteed_features(table, level_arch, &variant));
    }
    let Some(arch) = arch else {
        let what = given.map_or("an architecture".to_string(), |g| format!("one architecture, not the family {g}"));
        return Err(Failure::bad(format!(
            "--level {level}: name {what} (`ocifit features amd64 --level v3`) or use a level name (x86-64-v3, armv8.2-a)"
        )));
    };
    let variant = if level == "baseline" { "" } else { level };
    let (_, variant) = ocifit_core::platform::normalize_arch(arch, variant);
    if table.level(arch, &variant).is_none() {
        let known: Vec<&str> =
            table.levels(arch).map(|l| if l.variant.is_empty() { "baseline" } else { l.variant }).collect();
        let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
        return Err(Failure::bad(format!("--level {level}: {arch} has no such level (known: {known})")));
    }
    Ok(guaranteed_features(table, arch, &variant))
}

/// The JSON form of a row (shared with `explain`).
pub fn feature_json(table: FeatureTable, f: &Feature) -> Value {
    use ocifit_core::table::Detection;
    let detection = match f.detection {
        Detection::Cpuid { leaf, subleaf, reg, bit, xcr0 } => json!({
            "kind": "cpuid", "leaf": leaf, "subleaf": subleaf, "register": reg.name(), "bit": bit,
            "xcr0": (0..64).filter(|b| xcr0 & (1u64 << b) != 0).collect::<Vec<u32>>(),
            "text": f.detection.to_string(),
        }),
        Detection::Hwcap { word, bit } => {
            json!({"kind": "hwcap", "word": word, "bit": bit, "text": f.detection.to_string()})
        }
        Detection::Hwprobe { key, key_name, bit } => {
            json!({"kind": "hwprobe", "key": key, "keyName": key_name, "bit": bit, "text": f.detection.to_string()})
        }
        Detection::CpuinfoOnly => json!({"kind": "cpuinfo", "text": f.detection.to_string()}),
    };
    json!({
        "name": f.name,
        "family": f.family.name(),
        "architectures": f.architectures,
        "description": f.description,
        "linux": f.linux,
        "aliases": {"go": f.aliases.go, "nfd": f.aliases.nfd, "llvm": f.aliases.llvm, "other": f.aliases.other},
        "link": f.link,
        "detection": detection,
        "guaranteedBy": guaranteed_by(table, f.id()),
        "level": lowest_level(table, f.id()),
        "implies": f.implies.iter().map(|i| i.feature().name).collect::<Vec<_>>(),
        "impliesAll": f.implied.iter().map(|i| i.feature().name).collect::<Vec<_>>(),
        "impliedBy": f.implied_by().map(|g| g.name).collect::<Vec<_>>(),
        "since": f.since,
        "note": f.note,
    })
}
