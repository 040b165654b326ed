//! Human-readable renderings of the feature table: the generated
//! `docs/features.md` and "did you mean" suggestions.

use std::fmt::Write as _;

use crate::table::{Family, Feature, FeatureId, FeatureTable};

/// Canonical names within edit distance 2 of `name` (case-insensitive), or
/// sharing its spelling once `-`, `_` and `.` are ignored; closest first.
pub fn suggest(table: FeatureTable, family: Option<Family>, name: &str) -> Vec<&'static str> {
    let squash = |s: &str| s.to_ascii_lowercase().replace(['-', '_', '.'], "");
    let wanted = squash(name);
    let mut scored: Vec<(usize, &'static str)> = table
        .features()
        .iter()
        .filter(|f| family.is_none_or(|fam| f.family == fam))
        .filter_map(|f| {
            let best = std::iter::once(f.name)
                .chain(f.aliases.iter())
                .chain(f.linux)
                .map(|s| if squash(s) == wanted { 0 } else { edit_distance(&squash(s), &wanted) })
                .min()?;
            (best <= 2.min(wanted.len().saturating_sub(1))).then_some((best, f.name))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().map(|(_, n)| n).take(3).collect()
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The variants whose level lists `id` (`amd64/v3`).
pub fn guaranteed_by(table: FeatureTable, id: FeatureId) -> Vec<String> {
    table
        .all_levels()
        .iter()
        .filter(|l| l.features.contains(&id))
        .map(|l| {
            if l.variant.is_empty() {
                format!("{} (baseline)", l.architecture)
            } else {
                format!("{}/{}", l.architecture, l.variant)
            }
        })
        .collect()
}

/// The lowest level that guarantees `id` (in data order), by its
/// command-line name where it has one (`x86-64-v3`, `armv8.1-a`), else
/// `arm/v7`, `ppc64le (baseline)`.
pub fn lowest_level(table: FeatureTable, id: FeatureId) -> Option<String> {
    let level = table.all_levels().iter().find(|l| l.features.contains(&id))?;
    Some(crate::target::level_name(level.architecture, level.variant).unwrap_or_else(|| {
        if level.variant.is_empty() {
            format!("{} (baseline)", level.architecture)
        } else {
            format!("{}/{}", level.architecture, level.variant)
        }
    }))
}

/// Canonical names, space-separated, in table order.
pub fn names(ids: &[FeatureId]) -> String {
    ids.iter().map(|id| id.feature().name).collect::<Vec<_>>().join(" ")
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn aliases_cell(f: &Feature) -> String {
    let mut parts = Vec::new();
    if let Some(a) = f.aliases.go {
        parts.push(format!("go `{a}`"));
    }
    if let Some(a) = f.aliases.nfd {
        parts.push(format!("nfd `{a}`"));
    }
    if let Some(a) = f.aliases.llvm {
        parts.push(format!("llvm `{a}`"));
    }
    for a in f.aliases.other {
        parts.push(format!("`{a}`"));
    }
    parts.join(", ")
}

/// `docs/features.md`, generated. A test fails when the checked-in copy differs.
pub fn markdown(table: FeatureTable, only: Option<Family>) -> String {
    let mut out = String::new();
    out.push_str("# Feature table\n\n");
    out.push_str(
        "Generated from `crates/ocifit-core/data/*.toml` by `ocifit features --format markdown`; \
         do not edit by hand (`scripts/gen-docs.sh` rewrites it, and a test fails when it is stale).\n\n\
         Only the **name** column is valid in an index's `platform.features`; the Linux name and \
         the aliases are accepted on the command line. Detection says how `ocifit host` sees the \
         feature: a CPUID bit plus the XCR0 state the OS must enable, an `AT_HWCAPn` bit, or a \
         `riscv_hwprobe` bit. **Implies** lists what a feature implies directly (LLVM's target-feature \
         implications): an entry's requirements are the closure of its features, so `[\"avx512f\"]` \
         needs `avx2`, `fma`, `f16c` and everything they imply too, and ranks by that closure.\n\n",
    );
    for family in Family::ALL.into_iter().filter(|f| only.is_none_or(|o| o == *f)) {
        let rows: Vec<&Feature> = table.family(family).collect();
        let archs = family.architectures().join("`, `");
        let _ = writeln!(out, "## {family} (`{archs}`)\n\n{} features.\n", rows.len());
        let levels: Vec<_> =
            table.all_levels().iter().filter(|l| family.architectures().contains(&l.architecture)).collect();
        if !levels.is_empty() {
            out.push_str("Variants and the features they guarantee (each also has those of the variants below it in its fallback vector). The level name stands for the whole set wherever the command line takes features (`--features x86-64-v3`):\n\n| variant | level name | adds |\n|---|---|---|\n");
            for l in levels {
                let v = if l.variant.is_empty() {
                    format!("{} (baseline)", l.architecture)
                } else {
                    format!("{}/{}", l.architecture, l.variant)
                };
                let names: Vec<&str> = l.features.iter().map(|id| id.feature().name).collect();
                let name =
                    crate::target::level_name(l.architecture, l.variant).map(|n| format!("`{n}`")).unwrap_or_default();
                let _ = writeln!(out, "| [{v}]({}) | {name} | {} |", l.link, names.join(" "));
            }
            out.push('\n');
        }
        out.push_str(
            "| name | linux | description | detection | implies | aliases | since |\n|---|---|---|---|---|---|---|\n",
        );
        for f in rows {
            let mut desc = cell(f.description);
            if let Some(n) = f.note {
                desc.push_str(&format!(" *Note: {}*", cell(n)));
            }
            if f.architectures != family.architectures() {
                desc.push_str(&format!(" (only `{}`)", f.architectures.join("`, `")));
            }
            let _ = writeln!(
                out,
                "| [`{}`]({}) | {} | {} | {} | {} | {} | {} |",
                f.name,
                f.link,
                f.linux.map(|l| format!("`{l}`")).unwrap_or_default(),
                desc,
                cell(&f.detection.to_string()),
                f.implies.iter().map(|i| format!("`{}`", i.feature().name)).collect::<Vec<_>>().join(" "),
                aliases_cell(f),
                f.since
            );
        }
        out.push('\n');
    }
    out
}
