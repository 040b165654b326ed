//! Authoring feature indexes from separately built images: `ocifit index
//! create` and `ocifit index add --image` (docs/authoring.md).
//!
//! An author builds one program several times (`-march=x86-64`,
//! `-march=x86-64-v3`, …), pushes each build as its own image, and wants
//! one index: the generic build first, the specialised builds after it
//! with the CPU features they need. This crate
//!
//! - resolves IMAGE arguments ([`image::Image`]: a registry reference, an
//!   OCI layout, or an index file) and turns each into index entries — an
//!   index contributes its entries, a single image manifest one entry whose
//!   `platform` comes from its config;
//! - composes a new index from them ([`create`]), checked by lint;
//! - makes every image available where the index is written
//!   ([`transfer`]: cross-repository mounts, streamed blob copies, layout
//!   blob copies) and writes the index there.
//!
//! Editing an existing index (adding an entry at the right place, the lint
//! guard) is `ocifit_lint::edit`, which `index add --image` uses too; it
//! lives beside lint because it *is* lint's platform grouping and reorder.

#![forbid(unsafe_code)]

pub mod image;
pub mod transfer;

use ocifit_core::index::OCI_INDEX;
use ocifit_lint::Linter;
use ocifit_lint::diagnostic::{Diagnostic, Severity};
use ocifit_lint::edit::{self, Change};
use serde_json::{Value, json};

/// A new index, as [`create`] made it.
#[derive(Debug, Clone)]
pub struct Created {
    pub document: Value,
    /// One line per entry, then one per platform reordered (for stderr).
    pub summary: Vec<Change>,
    /// Lint warnings of the new index (it is written; the user should hear).
    pub warnings: Vec<Diagnostic>,
}

/// A new OCI index listing `entries` in the order given, exact duplicates
/// dropped, then fallbacks moved before the entries of their platform that
/// need CPU features (lint's unsafe-order fix), so the generic entry comes
/// first. Refused when lint finds an error in the result.
pub fn create(linter: &Linter, entries: Vec<Value>) -> Result<Created, String> {
    if entries.is_empty() {
        return Err("no images given".into());
    }
    let mut unique: Vec<Value> = Vec::new();
    for e in entries {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    let mut document = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": unique});
    // A document lint cannot read as an index is not reordered; lint names its errors below.
    let moved = match edit::fix_order(&mut document, linter.table()) {
        Ok(moved) => moved,
        Err(e) if e.kind == edit::EditErrorKind::Refused => return Err(e.message),
        Err(_) => Vec::new(),
    };
    let warnings = lint_clean(linter, &document)?;
    let mut summary: Vec<Change> = document["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, e)| {
            let line =
                format!("entry {i}: {} for {}", e["digest"].as_str().unwrap_or_default(), describe(&e["platform"]));
            Change { planned: format!("would list {line}"), done: line }
        })
        .collect();
    summary.extend(moved);
    Ok(Created { document, summary, warnings })
}

/// What authoring writes lints clean of errors: refuse `document` when lint
/// finds one (the first three are named), else return its warnings and
/// infos (to print).
pub fn lint_clean(linter: &Linter, document: &Value) -> Result<Vec<Diagnostic>, String> {
    let (errors, rest): (Vec<Diagnostic>, Vec<Diagnostic>) =
        linter.lint(document.clone()).into_iter().partition(|d| d.severity == Severity::Error);
    if errors.is_empty() {
        return Ok(rest);
    }
    let named: Vec<String> =
        errors.iter().take(3).map(|d| format!("error[{}] at {}: {}", d.code, d.pointer, d.message)).collect();
    let more = if errors.len() > 3 { format!(" (and {} more)", errors.len() - 3) } else { String::new() };
    Err(format!("refused: the index would not lint clean: {}{more}", named.join("; ")))
}

/// `linux/amd64/v3 (os.version …) with features avx2, bmi2`.
fn describe(platform: &Value) -> String {
    let field = |k: &str| platform.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut text = [field("os"), field("architecture"), field("variant")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    if text.is_empty() {
        text = "no platform".into();
    }
    if !field("os.version").is_empty() {
        text.push_str(&format!(" (os.version {})", field("os.version")));
    }
    let features: Vec<&str> =
        platform.get("features").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if !features.is_empty() {
        text.push_str(&format!(" with features {}", features.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8, features: &[&str]) -> Value {
        let mut platform = json!({"os": "linux", "architecture": "amd64"});
        if !features.is_empty() {
            platform["features"] = json!(features);
        }
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10 + n as u64,
               "digest": format!("sha256:{}", format!("{n:x}").repeat(64).get(..64).unwrap()), "platform": platform})
    }

    #[test]
    fn create_puts_the_fallback_first_and_drops_exact_duplicates() {
        let linter = Linter::new();
        let v3 = entry(2, &["avx2", "bmi2"]);
        let generic = entry(1, &[]);
        let created = create(&linter, vec![v3.clone(), generic.clone(), v3.clone()]).unwrap();
        assert_eq!(created.document["manifests"], json!([generic, v3]));
        assert_eq!(created.document["mediaType"], OCI_INDEX);
        let first = &created.summary[0];
        assert!(first.done.starts_with("entry 0: ") && first.done.ends_with("for linux/amd64"), "{first:?}");
        assert_eq!(first.planned, format!("would list {}", first.done));
        assert_eq!(created.summary.len(), 3, "{:?}", created.summary);
        let moved = &created.summary[2];
        assert!(moved.done.starts_with("moved linux/amd64 fallback entry 1 before"), "{moved:?}");
        assert!(moved.planned.starts_with("would move linux/amd64 fallback entry 1 before"), "{moved:?}");
        assert!(moved.planned.ends_with("(positions 0, 1 would then hold entries 1, 0)"), "{moved:?}");
        let in_order = create(&linter, vec![generic.clone(), v3.clone()]).unwrap();
        assert_eq!(in_order.summary.len(), 2, "{:?}", in_order.summary);
    }

    #[test]
    fn create_refuses_what_does_not_lint_clean() {
        let linter = Linter::new();
        let mut bad = entry(1, &[]);
        bad["size"] = json!(-1);
        let e = create(&linter, vec![bad]).unwrap_err();
        assert!(
            e.starts_with("refused: the index would not lint clean: error[index-invalid] at /manifests/0/size"),
            "{e}"
        );
        assert_eq!(create(&linter, vec![]).unwrap_err(), "no images given");
    }
}
