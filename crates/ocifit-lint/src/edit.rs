//! Editing an index without touching its images: `ocifit index add`,
//! `set-features`, `remove` and `fix-order` (docs/semantics.md §1, §6;
//! `docs/editing.md`).
//!
//! Every edit works on the JSON document itself (serde_json with
//! `preserve_order`), never on re-serialized typed structs: everything
//! outside the edited entry — unknown keys, annotations, `subject`,
//! `artifactType`, key order — keeps its value and its place. The edits
//! live here, beside lint, because they share its platform groups (the
//! normalized os/architecture/variant plus `os.version` and `os.features`,
//! see [`crate::rules`]) and because `fix-order` *is* lint's unsafe-order
//! fix ([`crate::fix::fix_order`]). Pure: no I/O.
//!
//! The single operations ([`add`], [`set_features`], [`remove`],
//! [`fix_order`]) change a document or say why not, leaving it untouched.
//! [`apply`] runs one and refuses a result that has lint errors the input
//! did not have.
//!
//! ```
//! use ocifit_lint::edit::{self, Op};
//! use ocifit_lint::Linter;
//! use serde_json::json;
//!
//! let digest = format!("sha256:{}", "a".repeat(64));
//! let doc = json!({"schemaVersion": 2, "manifests": [
//!     {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 7, "digest": digest,
//!      "platform": {"os": "linux", "architecture": "amd64"}}]});
//! let linter = Linter::new();
//! let op = Op::Add { digest: digest.clone(), features: vec!["AVX2".into(), "bmi2".into()], variant: None };
//! let edited = edit::apply(&linter, &doc, &op, false).unwrap();
//! assert_eq!(edited.document["manifests"][1]["platform"]["features"], json!(["avx2", "bmi2"]));
//! assert_eq!(edited.document["manifests"][1]["digest"], json!(digest));
//! ```

use std::collections::HashMap;
use std::fmt;

use ocifit_core::index::Entry;
use ocifit_core::platform::normalize_arch;
use ocifit_core::target::{guaranteed_features, level_by_name, resolve_word};
use ocifit_core::{FeatureTable, Index, Platform};
use serde_json::{Value, json};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::rules::platform_key;
use crate::{Linter, fix};

/// Why an edit was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError {
    pub kind: EditErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditErrorKind {
    /// The request does not fit the index: entry out of range, digest not
    /// found or ambiguous, unknown feature, not an index (exit 2).
    Usage,
    /// The edit is possible but its result would be worse than the input:
    /// a new lint error, or a reorder that would change a features-aware
    /// choice (exit 1).
    Refused,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EditError {}

fn usage(message: impl Into<String>) -> EditError {
    EditError { kind: EditErrorKind::Usage, message: message.into() }
}

fn refused(message: impl Into<String>) -> EditError {
    EditError { kind: EditErrorKind::Refused, message: message.into() }
}

/// One edit, as the command line asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// [`add`].
    Add { digest: String, features: Vec<String>, variant: Option<String> },
    /// [`set_features`]; `None` clears.
    SetFeatures { entry: usize, features: Option<Vec<String>> },
    /// [`remove`].
    Remove { entry: usize },
    /// [`fix_order`].
    FixOrder,
    /// [`insert`]: a new entry (a separately built image), complete with
    /// its platform and features.
    Insert { entry: Value },
}

/// One change an edit makes, in words for people: as done ("added entry
/// 3: …") and as a dry run plans it ("would add entry 3: …").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub done: String,
    pub planned: String,
}

impl Change {
    fn new(done: String, planned: String) -> Change {
        Change { done, planned }
    }

    /// A line that reads the same either way ("… had no features").
    fn same(line: String) -> Change {
        Change { planned: line.clone(), done: line }
    }
}

/// The result of [`apply`].
#[derive(Debug, Clone)]
pub struct Edited {
    pub document: Value,
    /// One per change made (for stderr).
    pub summary: Vec<Change>,
    /// Whether the document differs from the input (compared as serialized
    /// text, so key order counts).
    pub changed: bool,
    /// Warnings and infos the result has that the input did not (the edit is
    /// made; the user should hear about them).
    pub new_warnings: Vec<Diagnostic>,
}

/// Run `op` on a copy of `document` and check the result with lint: a result
/// with more lint errors of some code than the input had is refused, and so
/// is one that leaves a platform without its fallback (the only entry that
/// needs no CPU features removed or given features) unless `force`.
pub fn apply(linter: &Linter, document: &Value, op: &Op, force: bool) -> Result<Edited, EditError> {
    let table = linter.table();
    let mut after = document.clone();
    let summary = match op {
        Op::Add { digest, features, variant } => vec![add(&mut after, table, digest, features, variant.as_deref())?],
        Op::SetFeatures { entry, features } => vec![set_features(&mut after, table, *entry, features.as_deref())?],
        Op::Remove { entry } => vec![remove(&mut after, *entry)?],
        Op::FixOrder => {
            let moved = fix_order(&mut after, table)?;
            if moved.is_empty() {
                vec![Change::new(
                    "every fallback already comes first: nothing moved".into(),
                    "every fallback already comes first: nothing would move".into(),
                )]
            } else {
                moved
            }
        }
        Op::Insert { entry } => vec![insert(&mut after, entry.clone())?],
    };
    let changed = serde_json::to_string(document).ok() != serde_json::to_string(&after).ok();
    if !changed {
        return Ok(Edited { document: after, summary, changed, new_warnings: Vec::new() });
    }
    let grown = new_diagnostics(&linter.lint(document.clone()), &linter.lint(after.clone()));
    let (errors, new_warnings): (Vec<Diagnostic>, Vec<Diagnostic>) =
        grown.into_iter().partition(|d| d.severity == Severity::Error);
    if !errors.is_empty() {
        let shown: Vec<String> =
            errors.iter().take(3).map(|d| format!("error[{}] at {}: {}", d.code, d.pointer, d.message)).collect();
        let more = if errors.len() > 3 { format!(" (and {} more)", errors.len() - 3) } else { String::new() };
        let hint = if errors.iter().any(|d| d.code == Code::UnsafeOrder) {
            "; run `ocifit index fix-order` on the result, or edit another entry"
        } else {
            ""
        };
        return Err(refused(format!(
            "refused: the edited index would have lint errors the input does not have: {}{more}{hint}",
            shown.join("; ")
        )));
    }
    if let Some(lost) = new_warnings.iter().find(|d| d.code == Code::NoFallback).filter(|_| !force) {
        let platform = lost.message.split(" has no fallback").next().unwrap_or_default();
        return Err(refused(format!(
            "refused: {} would leave {platform} without its only fallback (an entry that needs no CPU \
             features): runtimes that ignore features would pick an entry that needs them and may crash \
             with SIGILL; add a fallback first, or pass --force",
            summary.iter().map(|c| c.done.as_str()).collect::<Vec<_>>().join("; ")
        )));
    }
    Ok(Edited { document: after, summary, changed, new_warnings })
}

/// The diagnostics of `after` whose code occurs more often than in
/// `before`: what an edit added. Counted per code, because pointers and
/// messages name positions that an edit shifts.
pub fn new_diagnostics(before: &[Diagnostic], after: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut counts: HashMap<Code, isize> = HashMap::new();
    for d in before {
        *counts.entry(d.code).or_default() -= 1;
    }
    for d in after {
        *counts.entry(d.code).or_default() += 1;
    }
    after
        .iter()
        .filter(|d| counts.get(&d.code).is_some_and(|n| *n > 0))
        // Of a grown code, the ones the input did not say word for word.
        .filter(|d| !before.iter().any(|b| b.code == d.code && b.pointer == d.pointer && b.message == d.message))
        .cloned()
        .collect()
}

/// The checked typed view of a copy of `document`.
fn view(document: &Value) -> Result<Index, EditError> {
    Index::from_value(document.clone()).map_err(|e| usage(format!("not an index ocifit can edit: {e}")))
}

fn manifests(document: &mut Value) -> &mut Vec<Value> {
    document.get_mut("manifests").and_then(Value::as_array_mut).expect("checked: manifests is an array")
}

/// `entry 3 (linux/amd64, features avx2, bmi2)`.
fn describe(entry: &Entry<'_>) -> String {
    match platform_key(entry) {
        None => format!("entry {} (no platform)", entry.index),
        Some(key) => {
            let features: Vec<&str> = entry.platform.map(|p| p.features().collect()).unwrap_or_default();
            if features.is_empty() {
                format!("entry {} ({key})", entry.index)
            } else {
                format!("entry {} ({key}, features {})", entry.index, features.join(", "))
            }
        }
    }
}

fn entry_at<'a>(index: &'a Index, entry: usize) -> Result<Entry<'a>, EditError> {
    index.entry(entry).ok_or_else(|| {
        usage(match index.len() {
            0 => format!("entry {entry} is out of range: the index has no entries"),
            1 => format!("entry {entry} is out of range: the index has 1 entry (0)"),
            n => format!("entry {entry} is out of range: the index has {n} entries (0 to {})", n - 1),
        })
    })
}

/// Command-line feature names (aliases and any case allowed) as the
/// canonical names valid for `entry`'s architecture, in the order given,
/// duplicates dropped. A level name (`x86-64-v3`) stands for its set less
/// what the entry's variant already guarantees (on a plain `amd64` entry:
/// the v2 and v3 names). Unknown names are a usage error naming them.
pub fn canonical_features<S: AsRef<str>>(
    table: FeatureTable,
    entry: &Entry<'_>,
    names: &[S],
) -> Result<Vec<&'static str>, EditError> {
    let Some(platform) = entry.platform else {
        return Err(usage(format!("{} has no platform: CPU features need one", describe(entry))));
    };
    let (architecture, variant) = normalize_arch(platform.architecture, platform.variant);
    let guaranteed = guaranteed_features(table, &architecture, &variant);
    let mut out: Vec<&'static str> = Vec::new();
    for name in names {
        let ids = resolve_word(table, &architecture, name.as_ref()).map_err(|e| usage(e.to_string()))?;
        let level = level_by_name(name.as_ref().trim()).is_some();
        for id in ids.into_iter().filter(|id| !level || !guaranteed.contains(*id)) {
            let canonical = id.feature().name;
            if !out.contains(&canonical) {
                out.push(canonical);
            }
        }
    }
    if out.is_empty() {
        return Err(usage("no feature names given (to remove them, use set-features --clear)"));
    }
    Ok(out)
}

/// A new entry copying the entry with `digest` — every key (`mediaType`,
/// `size`, `digest`, `annotations`, `platform` and unknown ones) in its
/// order — with `platform.features` set to `features` (canonical names),
/// placed right after the last entry of the same platform group so that the
/// group's fallback stays first.
///
/// When several entries have the digest, they must all be of one platform
/// (then the first is copied) or `variant` must pick the ones of one
/// platform; otherwise the error lists them.
pub fn add<S: AsRef<str>>(
    document: &mut Value,
    table: FeatureTable,
    digest: &str,
    features: &[S],
    variant: Option<&str>,
) -> Result<Change, EditError> {
    let index = view(document)?;
    let with_digest: Vec<Entry<'_>> = index.entries().filter(|e| e.digest == digest).collect();
    if with_digest.is_empty() {
        let hint = if digest.contains(':') { "" } else { " (digests are written algorithm:hex, e.g. sha256:…)" };
        return Err(usage(format!("no entry has digest {digest}{hint}")));
    }
    let chosen: Vec<Entry<'_>> = match variant {
        None => with_digest.clone(),
        Some(v) => {
            let picked: Vec<Entry<'_>> = with_digest
                .iter()
                .filter(|e| {
                    e.platform.is_some_and(|p| {
                        normalize_arch(p.architecture, p.variant).1 == normalize_arch(p.architecture, v).1
                    })
                })
                .copied()
                .collect();
            if picked.is_empty() {
                let listed: Vec<String> = with_digest.iter().map(describe).collect();
                return Err(usage(format!("no entry with digest {digest} has variant {v:?}: {}", listed.join("; "))));
            }
            picked
        }
    };
    let keys: Vec<Option<Platform>> = chosen.iter().map(platform_key).collect();
    if keys.iter().any(|k| *k != keys[0]) {
        let listed: Vec<String> = chosen.iter().map(describe).collect();
        let variants_differ =
            keys.iter().any(|k| k.as_ref().map(|k| &k.variant) != keys[0].as_ref().map(|k| &k.variant));
        let how = if variants_differ && variant.is_none() {
            "pick one with --variant"
        } else {
            "they differ in more than their variant, so ocifit cannot tell which one to copy"
        };
        return Err(usage(format!("digest {digest} is listed for several platforms: {}; {how}", listed.join("; "))));
    }
    let source = chosen[0];
    let Some(key) = keys[0].clone() else {
        return Err(usage(format!("{} has no platform: CPU features need one", describe(&source))));
    };
    let names = canonical_features(table, &source, features)?;
    let last_of_group = index.entries().filter(|e| platform_key(e).as_ref() == Some(&key)).map(|e| e.index).max();
    let at = last_of_group.map_or(index.len(), |i| i + 1);
    let mut entry = index.raw_entry(source.index).expect("entries come from this index").clone();
    if let Some(platform) = entry.get_mut("platform").and_then(Value::as_object_mut) {
        platform.insert("features".into(), json!(names));
    }
    let what = format!("entry {at}: {digest} for {key} with features {}", names.join(", "));
    manifests(document).insert(at, Value::Object(entry));
    Ok(Change::new(format!("added {what}"), format!("would add {what}")))
}

/// Insert `entry` (a descriptor with a `platform`) right after the last
/// entry of its platform group, as [`add`] places its copy, or at the end
/// when the index has none of that platform.
pub fn insert(document: &mut Value, entry: Value) -> Result<Change, EditError> {
    let index = view(document)?;
    let probe = view(&json!({"schemaVersion": 2, "manifests": [entry]}))?;
    let new = probe.entry(0).expect("one entry");
    let Some(key) = platform_key(&new) else {
        return Err(usage("the new entry has no platform".to_string()));
    };
    let features: Vec<&str> = new.platform.map(|p| p.features().collect()).unwrap_or_default();
    let last_of_group = index.entries().filter(|e| platform_key(e).as_ref() == Some(&key)).map(|e| e.index).max();
    let at = last_of_group.map_or(index.len(), |i| i + 1);
    let what = if features.is_empty() {
        format!("entry {at}: {} for {key} (a fallback: no features)", new.digest)
    } else {
        format!("entry {at}: {} for {key} with features {}", new.digest, features.join(", "))
    };
    manifests(document).insert(at, entry);
    Ok(Change::new(format!("added {what}"), format!("would add {what}")))
}

/// Set `platform.features` of entry `entry` to `features` (canonical names;
/// an existing `features` key keeps its place, a new one goes last in
/// `platform`), or remove the key when `features` is `None`.
pub fn set_features<S: AsRef<str>>(
    document: &mut Value,
    table: FeatureTable,
    entry: usize,
    features: Option<&[S]>,
) -> Result<Change, EditError> {
    let index = view(document)?;
    let e = entry_at(&index, entry)?;
    let what = describe(&e);
    let names = match features {
        Some(names) => Some(canonical_features(table, &e, names)?),
        None if e.platform.is_none() => return Ok(Change::same(format!("{what}: no platform, nothing to clear"))),
        None => None,
    };
    let platform = manifests(document)[entry]
        .get_mut("platform")
        .and_then(Value::as_object_mut)
        .expect("checked: the entry has a platform object");
    Ok(match names {
        Some(names) => {
            platform.insert("features".into(), json!(names));
            let names = names.join(", ");
            Change::new(
                format!("{what}: features set to {names}"),
                format!("would set the features of {what} to {names}"),
            )
        }
        None => match platform.shift_remove("features") {
            Some(_) => Change::new(format!("{what}: features removed"), format!("would remove the features of {what}")),
            None => Change::same(format!("{what}: had no features")),
        },
    })
}

/// Remove entry `entry`; every other entry keeps its value and order.
pub fn remove(document: &mut Value, entry: usize) -> Result<Change, EditError> {
    let index = view(document)?;
    let what = describe(&entry_at(&index, entry)?);
    let digest = index.entry(entry).map(|e| e.digest.to_string()).unwrap_or_default();
    manifests(document).remove(entry);
    Ok(Change::new(format!("removed {what}: {digest}"), format!("would remove {what}: {digest}")))
}

/// lint's unsafe-order fix ([`crate::fix::fix_order`], docs/lint.md): in
/// every platform group whose first entry (a legacy runtime's pick) needs
/// CPU features while a fallback comes later, the entries that need none
/// move before those that do, each side keeping its order, within the
/// positions the group holds; nothing else moves. Refused when that would
/// change what a features-aware runtime picks (a fallback with redundant
/// features jumping over an entry listing as many). One change per group
/// reordered; none when every fallback already comes first.
pub fn fix_order(document: &mut Value, table: FeatureTable) -> Result<Vec<Change>, EditError> {
    view(document)?;
    let fixed = fix::fix_order(document.clone(), table);
    if let Some(not) = fixed.fixes.iter().find(|f| !f.applied) {
        return Err(refused(format!("refused: {}", not.description)));
    }
    *document = fixed.document;
    Ok(fixed
        .fixes
        .into_iter()
        .map(|f| Change { planned: f.planned.unwrap_or_else(|| f.description.clone()), done: f.description })
        .collect())
}

/// The output formatting rule of every command that writes an edited index
/// (and of `ocifit lint --fix`): JSON indented with 2 spaces (serde_json's
/// pretty printer) and one trailing newline. Commands write the input's own
/// bytes instead when nothing changed.
pub fn render(document: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(document).expect("a Value always serializes");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    fn doc() -> Value {
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": d(1),
             "platform": {"architecture": "amd64", "os": "linux"}, "annotations": {"z": "1", "a": "2"}, "x-k": 1},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 2, "digest": d(2),
             "platform": {"architecture": "arm64", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 3, "digest": d(3),
             "platform": {"architecture": "amd64", "os": "linux", "features": ["avx2"]}},
        ], "subject": {"x": 1}})
    }

    fn table() -> FeatureTable {
        FeatureTable::builtin()
    }

    #[test]
    fn s1_s6_add_copies_every_key_and_goes_after_the_group() {
        let mut doc = doc();
        let summary = add(&mut doc, table(), &d(1), &["SSE4.2", "sse4_2", "avx512f"], None).unwrap();
        assert!(summary.done.starts_with("added entry 3: "), "{summary:?}");
        assert_eq!(summary.planned, summary.done.replacen("added", "would add", 1));
        let m = doc["manifests"].as_array().unwrap();
        assert_eq!(m.len(), 4);
        let want = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": d(1),
             "platform": {"architecture": "amd64", "os": "linux", "features": ["sse4_2", "avx512f"]},
             "annotations": {"z": "1", "a": "2"}, "x-k": 1});
        assert_eq!(serde_json::to_string(&m[3]).unwrap(), serde_json::to_string(&want).unwrap());
        // Existing features keep their place in `platform`.
        let mut doc2 = doc.clone();
        add(&mut doc2, table(), &d(3), &["avx512f"], None).unwrap();
        assert_eq!(
            doc2["manifests"][4]["platform"],
            json!({"architecture": "amd64", "os": "linux", "features": ["avx512f"]})
        );
        assert_eq!(
            serde_json::to_string(&doc2["manifests"][4]["platform"]).unwrap(),
            r#"{"architecture":"amd64","os":"linux","features":["avx512f"]}"#
        );
    }

    #[test]
    fn add_errors_name_the_problem() {
        let mut doc = doc();
        let before = doc.clone();
        let e = add(&mut doc, table(), &d(9), &["avx2"], None).unwrap_err();
        assert_eq!((e.kind, e.message.clone()), (EditErrorKind::Usage, format!("no entry has digest {}", d(9))));
        let e = add(&mut doc, table(), &d(1), &["sve"], None).unwrap_err();
        assert!(e.message.contains("\"sve\"") && e.message.contains("arm64"), "{e}");
        let e = add(&mut doc, table(), &d(1), &["avx2"], Some("v3")).unwrap_err();
        assert!(e.message.contains("variant \"v3\""), "{e}");
        let e = add(&mut doc, table(), &d(1), &[] as &[&str], None).unwrap_err();
        assert!(e.message.contains("no feature names"), "{e}");
        assert_eq!(doc, before);
    }

    #[test]
    fn ambiguous_digest_needs_variant() {
        let mut doc = doc();
        doc["manifests"][2]["digest"] = json!(d(1));
        doc["manifests"][2]["platform"] = json!({"architecture": "amd64", "os": "linux", "variant": "v3"});
        let e = add(&mut doc.clone(), table(), &d(1), &["avx512f"], None).unwrap_err();
        assert!(e.message.contains("several platforms") && e.message.contains("--variant"), "{e}");
        assert!(e.message.contains("entry 0 (linux/amd64)") && e.message.contains("entry 2 (linux/amd64/v3"), "{e}");
        let mut picked = doc.clone();
        add(&mut picked, table(), &d(1), &["avx512f"], Some("v3")).unwrap();
        assert_eq!(picked["manifests"][3]["platform"]["variant"], "v3");
        // Same digest, same platform (a fallback and its feature entry): the first is copied.
        let mut same = doc.clone();
        same["manifests"][2]["platform"] = json!({"architecture": "x86_64", "os": "linux", "features": ["avx2"]});
        add(&mut same, table(), &d(1), &["avx512f"], None).unwrap();
        assert_eq!(same["manifests"][3]["annotations"], json!({"z": "1", "a": "2"}));
        assert_eq!(same["manifests"][3]["platform"]["architecture"], "amd64");
    }

    #[test]
    fn set_features_and_clear_keep_key_order() {
        let mut doc = doc();
        set_features(&mut doc, table(), 2, Some(&["avx512f", "AVX512BW"])).unwrap();
        assert_eq!(
            serde_json::to_string(&doc["manifests"][2]["platform"]).unwrap(),
            r#"{"architecture":"amd64","os":"linux","features":["avx512f","avx512bw"]}"#
        );
        doc["manifests"][2]["platform"]["zz"] = json!(1);
        set_features(&mut doc, table(), 2, None::<&[&str]>).unwrap();
        assert_eq!(
            serde_json::to_string(&doc["manifests"][2]["platform"]).unwrap(),
            r#"{"architecture":"amd64","os":"linux","zz":1}"#
        );
        let e = set_features(&mut doc, table(), 3, Some(&["avx2"])).unwrap_err();
        assert_eq!(e.message, "entry 3 is out of range: the index has 3 entries (0 to 2)");
    }

    #[test]
    fn remove_and_range() {
        let mut doc = doc();
        let s = remove(&mut doc, 0).unwrap();
        assert!(s.done.starts_with("removed entry 0 (linux/amd64)"), "{s:?}");
        assert!(s.planned.starts_with("would remove entry 0 (linux/amd64)"), "{s:?}");
        assert_eq!(doc["manifests"].as_array().unwrap().len(), 2);
        assert_eq!(doc["subject"], json!({"x": 1}));
        assert!(remove(&mut doc, 2).unwrap_err().message.contains("out of range"));
    }

    #[test]
    fn apply_refuses_new_errors_and_passes_old_ones() {
        let linter = Linter::new();
        // Features on entry 0, the fallback before entry 2: a legacy runtime
        // would now pick an entry that needs AVX-512 — refused.
        let op = Op::SetFeatures { entry: 0, features: Some(vec!["avx512f".into()]) };
        let mut with_second_fallback = doc();
        with_second_fallback["manifests"][2]["platform"] = json!({"architecture": "amd64", "os": "linux"});
        let e = apply(&linter, &with_second_fallback, &op, false).unwrap_err();
        assert_eq!(e.kind, EditErrorKind::Refused);
        assert!(e.message.contains("unsafe-order") && e.message.contains("fix-order"), "{e}");
        // The same edit where it does no harm is made.
        let edited =
            apply(&linter, &doc(), &Op::SetFeatures { entry: 2, features: Some(vec!["avx512f".into()]) }, false)
                .unwrap();
        assert!(edited.changed && edited.new_warnings.is_empty());
        // No change: reported as such.
        let same = apply(&linter, &doc(), &Op::FixOrder, false).unwrap();
        assert!(!same.changed);
    }

    #[test]
    fn insert_goes_after_its_platform_group_or_last() {
        let entry = |n: u8, platform: Value| json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 9, "digest": d(n), "platform": platform});
        // (new entry's platform, where it lands, summary)
        let cases = [
            (json!({"os": "linux", "architecture": "amd64", "features": ["avx512f"]}), 3, "with features avx512f"),
            (json!({"os": "linux", "architecture": "x86_64"}), 3, "(a fallback: no features)"),
            (json!({"os": "linux", "architecture": "arm64", "features": ["sve"]}), 2, "with features sve"),
            (json!({"os": "linux", "architecture": "riscv64"}), 3, "for linux/riscv64"),
        ];
        for (platform, at, said) in cases {
            let mut doc = doc();
            let new = entry(7, platform.clone());
            let summary = insert(&mut doc, new.clone()).unwrap();
            assert_eq!(doc["manifests"][at], new, "{platform}");
            let done = &summary.done;
            assert!(done.starts_with(&format!("added entry {at}: {}", d(7))) && done.contains(said), "{summary:?}");
            assert!(summary.planned.starts_with(&format!("would add entry {at}: {}", d(7))), "{summary:?}");
            assert_eq!(doc["subject"], json!({"x": 1}));
        }
        let e = insert(&mut doc(), json!({"mediaType": "x", "size": 1, "digest": d(7)})).unwrap_err();
        assert_eq!(e.message, "the new entry has no platform");
    }

    /// Issue 14 item 15: removing or giving features to the only fallback of
    /// a platform is refused unless forced; with another fallback it is fine.
    #[test]
    fn s14_15_the_only_fallback_needs_force() {
        let linter = Linter::new();
        let ops = [
            Op::Remove { entry: 0 },
            Op::SetFeatures { entry: 0, features: Some(vec!["avx512f".into()]) },
            Op::SetFeatures { entry: 1, features: Some(vec!["sve".into()]) },
        ];
        for op in &ops {
            let e = apply(&linter, &doc(), op, false).unwrap_err();
            assert_eq!(e.kind, EditErrorKind::Refused, "{op:?}");
            assert!(e.message.contains("without its only fallback") && e.message.contains("--force"), "{e}");
            let forced = apply(&linter, &doc(), op, true).unwrap();
            assert!(forced.new_warnings.iter().any(|d| d.code == Code::NoFallback), "{op:?}");
        }
        let mut two = doc();
        two["manifests"][2]["platform"] = json!({"architecture": "amd64", "os": "linux"});
        assert!(apply(&linter, &two, &Op::Remove { entry: 0 }, false).is_ok());
    }

    #[test]
    fn fix_order_is_lints_reorder() {
        let mut doc = doc();
        doc["manifests"].as_array_mut().unwrap().swap(0, 2);
        let mut edited = doc.clone();
        fix_order(&mut edited, table()).unwrap();
        assert_eq!(edited, crate::fix(doc, table()).document);
        assert_eq!(edited["manifests"][0]["digest"], json!(d(1)));
    }
}
