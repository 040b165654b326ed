//! `ocifit explain`: one feature, everything the table knows.

use ocifit_core::docs::{guaranteed_by, names, suggest};
use ocifit_core::target::{guaranteed_features, level_by_name};
use ocifit_core::{Family, FeatureTable};
use serde_json::{Value, json};

use crate::cli::{ExplainArgs, Format};
use crate::error::{Failure, Outcome};
use crate::output;

pub fn run(args: ExplainArgs) -> Outcome {
    let table = FeatureTable::builtin();
    let family = match &args.arch {
        Some(a) => {
            Some(Family::parse(a).ok_or_else(|| Failure::bad(format!("--arch {a:?}: no feature table for it")))?)
        }
        None => None,
    };
    if let Some((arch, variant)) = level_by_name(&args.name) {
        if family.is_none_or(|f| Family::of(arch) == Some(f)) {
            return explain_level(table, &args, arch, &variant);
        }
    }
    let ids = match family {
        Some(f) => table.resolve(f, &args.name).into_iter().collect(),
        None => table.resolve_anywhere(&args.name),
    };
    if ids.is_empty() {
        let hints = suggest(table, family, &args.name);
        let mut msg = format!("feature {:?} is not in the table", args.name);
        if !hints.is_empty() {
            msg.push_str(&format!("; did you mean {}?", hints.join(", ")));
        }
        return Err(Failure::bad(msg));
    }
    match args.format {
        Format::Json => {
            let rows: Vec<Value> = ids.iter().map(|id| super::features::feature_json(table, id.feature())).collect();
            output::print_json(&Value::Array(rows));
        }
        Format::Text => {
            let mut out = String::new();
            for id in ids {
                let f = id.feature();
                if !f.name.eq_ignore_ascii_case(&args.name) {
                    out.push_str(&format!(
                        "{:?} means {} on {}; indexes must say {:?}.\n",
                        args.name, f.name, f.family, f.name
                    ));
                }
                out.push_str(&format!("{}  ({})\n", f.name, f.architectures.join(", ")));
                out.push_str(&format!("  {}\n", f.description));
                if let Some(l) = f.linux {
                    out.push_str(&format!("  linux name:    {l}\n"));
                }
                out.push_str(&format!("  detection:     {}\n", f.detection));
                let aliases: Vec<String> = [("go", f.aliases.go), ("nfd", f.aliases.nfd), ("llvm", f.aliases.llvm)]
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
                    .chain(f.aliases.other.iter().map(|a| a.to_string()))
                    .collect();
                if !aliases.is_empty() {
                    out.push_str(&format!("  aliases:       {}\n", aliases.join(", ")));
                }
                if !f.implies.is_empty() {
                    out.push_str(&format!("  implies:       {}\n", names(f.implies)));
                    if f.implied.len() > f.implies.len() {
                        out.push_str(&format!("  implies (all): {}\n", names(f.implied)));
                    }
                }
                let by: Vec<&str> = f.implied_by().map(|g| g.name).collect();
                if !by.is_empty() {
                    out.push_str(&format!("  implied by:    {}\n", by.join(" ")));
                }
                let levels = guaranteed_by(table, id);
                if !levels.is_empty() {
                    out.push_str(&format!("  guaranteed by: {}\n", levels.join(", ")));
                }
                if let Some(n) = f.note {
                    out.push_str(&format!("  note:          {n}\n"));
                }
                out.push_str(&format!("  since:         table {}\n", f.since));
                out.push_str(&format!("  reference:     {}\n\n", f.link));
            }
            output::print(out.trim_end_matches('\n'));
            output::print("\n");
        }
    }
    Ok(0)
}

/// A level name (`x86-64-v3`, `armv8.2-a`): the variant it stands for and
/// every feature of its set (the levels below it included).
fn explain_level(table: FeatureTable, args: &ExplainArgs, arch: &str, variant: &str) -> Outcome {
    let set = guaranteed_features(table, arch, variant);
    let features = set.sorted_names();
    let own = table.level(arch, variant).map(|l| names(l.features)).unwrap_or_default();
    let platform = if variant.is_empty() { arch.to_string() } else { format!("{arch}/{variant}") };
    match args.format {
        Format::Json => output::print_json(&json!({
            "level": args.name.to_ascii_lowercase(),
            "architecture": arch,
            "variant": variant,
            "features": features,
            "adds": own.split_whitespace().collect::<Vec<_>>(),
        })),
        Format::Text => {
            let mut out = format!(
                "{}  (what an {platform} target is guaranteed: the level of that variant)\n",
                args.name.to_ascii_lowercase()
            );
            out.push_str(&format!("  features ({}): {}\n", features.len(), features.join(" ")));
            if !own.is_empty() {
                out.push_str(&format!("  adds to the levels below: {own}\n"));
            }
            if let Some(l) = table.level(arch, variant) {
                out.push_str(&format!("  reference: {}\n", l.link));
            }
            output::print(&out);
        }
    }
    Ok(0)
}
