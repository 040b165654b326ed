//! `ocifit lint --fix`: the safe fixes, applied to the JSON document itself
//! (never to re-serialized typed structs), so everything else in it, key
//! order included, stays as it was.
//!
//! The fixes, in the order they are applied:
//!
//! 1. **alias → canonical name** (`feature-unknown` whose name is another
//!    spelling of a canonical name valid for the entry's architecture:
//!    `sse4.2`, `SSE42`, `AVX2`). This is the one fix that changes what a
//!    features-aware runtime selects: the entry was never selectable, and
//!    now it is, as its author meant.
//! 2. **duplicates removed** (`feature-duplicate`, also those that step 1
//!    created): the later copy goes.
//! 3. **unsafe order** (`unsafe-order`): within the positions a platform
//!    group occupies, entries that need no features beyond their variant
//!    move before the entries that do, each side keeping its order. Entries
//!    of other groups do not move. A features-aware runtime ranks the
//!    entries of a group by feature count and then position, so the move
//!    changes its choice only when an entry that needs features and a
//!    fallback that jumps over it list as many features; such a group is
//!    left as it is and reported.

use std::collections::HashMap;

use ocifit_core::platform::normalize_arch;
use ocifit_core::{Family, FeatureTable, Index};
use serde_json::Value;

use crate::diagnostic::Code;
use crate::rules::{self, Analysed};

/// One fix applied (or, for `applied == false`, one that was not safe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub code: Code,
    /// Where in the *input* document.
    pub pointer: String,
    pub description: String,
    /// For a reorder, which `ocifit index fix-order` applies as an edit:
    /// the same said as a plan, as its dry run says it ("would move …").
    pub planned: Option<String>,
    pub applied: bool,
}

/// The fixed document and what changed.
#[derive(Debug, Clone)]
pub struct Fixed {
    pub document: Value,
    pub fixes: Vec<Fix>,
}

impl Fixed {
    pub fn changed(&self) -> bool {
        self.fixes.iter().any(|f| f.applied)
    }
}

pub fn fix(document: Value, table: FeatureTable) -> Fixed {
    let mut document = document;
    let mut fixes = Vec::new();
    fix_names(&mut document, table, &mut fixes);
    let mut reordered = fix_order(document, table);
    fixes.append(&mut reordered.fixes);
    Fixed { document: reordered.document, fixes }
}

/// Step 3 alone: the unsafe-order reorder, also `ocifit index fix-order`
/// (`crate::edit::fix_order`). A document the typed view refuses is
/// returned as it is.
pub fn fix_order(document: Value, table: FeatureTable) -> Fixed {
    let mut fixes = Vec::new();
    let document = match Index::from_value(document.clone()) {
        Ok(index) => reorder(index, table, &mut fixes),
        Err(_) => document,
    };
    Fixed { document, fixes }
}

/// Steps 1 and 2, on every entry whose platform reads as one.
fn fix_names(document: &mut Value, table: FeatureTable, fixes: &mut Vec<Fix>) {
    let Some(manifests) = document.get_mut("manifests").and_then(Value::as_array_mut) else { return };
    for (i, entry) in manifests.iter_mut().enumerate() {
        let Some(platform) = entry.get_mut("platform").and_then(Value::as_object_mut) else { continue };
        let Some(arch) = platform.get("architecture").and_then(Value::as_str) else { continue };
        let (arch, _) = normalize_arch(arch, "");
        let Some(features) = platform.get_mut("features").and_then(Value::as_array_mut) else { continue };
        let at = format!("/manifests/{i}/platform/features");
        if let Some(family) = Family::of(&arch) {
            for (j, item) in features.iter_mut().enumerate() {
                let Some(name) = item.as_str() else { continue };
                if name.is_empty() || table.canonical(&arch, name).is_some() || rules::ambiguous(family, name).is_some()
                {
                    continue;
                }
                if let Some(id) = table.resolve(family, name.trim()).filter(|id| id.feature().valid_for(&arch)) {
                    let canonical = id.feature().name;
                    fixes.push(Fix {
                        code: Code::FeatureUnknown,
                        pointer: format!("{at}/{j}"),
                        description: format!("{name:?} -> {canonical:?}"),
                        planned: None,
                        applied: true,
                    });
                    *item = Value::String(canonical.to_string());
                }
            }
        }
        // Original positions, for pointers into the input.
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut j = 0usize;
        features.retain(|item| {
            let position = j;
            j += 1;
            let Some(name) = item.as_str() else { return true };
            if let Some(first) = seen.get(name) {
                fixes.push(Fix {
                    code: Code::FeatureDuplicate,
                    pointer: format!("{at}/{position}"),
                    description: format!("removed {name:?}, a duplicate of features/{first}"),
                    planned: None,
                    applied: true,
                });
                return false;
            }
            seen.insert(name.to_string(), position);
            true
        });
    }
}

/// Step 3.
fn reorder(index: Index, table: FeatureTable, fixes: &mut Vec<Fix>) -> Value {
    let analysed = rules::analyse(&index, table);
    let mut moves: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for group in rules::groups(&analysed) {
        let Some(first_safe) = group.iter().position(|a| !a.needs_features()) else { continue };
        if first_safe == 0 {
            continue;
        }
        let pick = rules::legacy_pick(&index, table, &group);
        if !group.iter().any(|a| a.index == pick && a.needs_features()) {
            continue;
        }
        let platform = rules::describe(&group[0].key);
        let (safe, needy): (Vec<&Analysed>, Vec<&Analysed>) = group.iter().partition(|a| !a.needs_features());
        // A fallback jumping over a selectable entry whose features' closure
        // is as large would win ties that entry used to win.
        let clash = needy.iter().find_map(|m| {
            safe.iter()
                .find(|s| s.index > m.index && !m.unknown && m.closure.len() == s.closure.len())
                .map(|s| (m.index, s.index))
        });
        if let Some((m, s)) = clash {
            fixes.push(Fix {
                code: Code::UnsafeOrder,
                pointer: format!("/manifests/{pick}"),
                description: format!(
                    "not reordered {platform}: moving entry {s} before entry {m} would change which one \
                     features-aware runtimes pick (both require {} features, with what they imply); remove the redundant features \
                     from entry {s}, then move it first",
                    group.iter().find(|a| a.index == m).map_or(0, |a| a.closure.len())
                ),
                planned: None,
                applied: false,
            });
            continue;
        }
        let slots: Vec<usize> = group.iter().map(|a| a.index).collect();
        let order: Vec<usize> = safe.iter().chain(needy.iter()).map(|a| a.index).collect();
        let moved: Vec<String> =
            safe.iter().filter(|s| needy.iter().any(|m| m.index < s.index)).map(|s| s.index.to_string()).collect();
        let said = |moved_word: &str, hold: &str| {
            format!(
                "{moved_word} {platform} fallback entr{} {} before the entries that need features (positions {} {hold} entries {})",
                if moved.len() == 1 { "y" } else { "ies" },
                moved.join(", "),
                list(&slots),
                list(&order)
            )
        };
        fixes.push(Fix {
            code: Code::UnsafeOrder,
            pointer: format!("/manifests/{pick}"),
            description: said("moved", "now hold"),
            planned: Some(said("would move", "would then hold")),
            applied: true,
        });
        moves.push((slots, order));
    }
    let mut document = index.into_document();
    if moves.is_empty() {
        return document;
    }
    if let Some(manifests) = document.get_mut("manifests").and_then(Value::as_array_mut) {
        let old: Vec<Value> = std::mem::take(manifests);
        let mut from: Vec<usize> = (0..old.len()).collect();
        for (slots, order) in &moves {
            for (slot, source) in slots.iter().zip(order) {
                from[*slot] = *source;
            }
        }
        let mut old: Vec<Option<Value>> = old.into_iter().map(Some).collect();
        *manifests = from.iter().map(|i| old[*i].take().expect("a permutation")).collect();
    }
    document
}

fn list(v: &[usize]) -> String {
    v.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
}
