//! `ocifit features`: the table, as text, JSON or the generated Markdown.

use ocifit_core::docs::{guaranteed_by, markdown};
use ocifit_core::{Family, Feature, FeatureTable};
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
    let rows: Vec<&Feature> = table
        .features()
        .iter()
        .filter(|f| family.is_none_or(|fam| f.family == fam))
        .filter(|f| arch.as_deref().is_none_or(|a| f.valid_for(a)))
        .collect();
    match args.format {
        TableFormat::Markdown => output::print(&markdown(table, family)),
        TableFormat::Json => output::print_json(&Value::Array(rows.iter().map(|f| feature_json(table, f)).collect())),
        TableFormat::Text => {
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|f| vec![f.family.to_string(), f.name.to_string(), f.description.to_string()])
                .collect();
            output::print(&output::table(&["family", "name", "description"], &body));
        }
    }
    Ok(0)
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
        "since": f.since,
        "note": f.note,
    })
}
