//! The pure half of the mirror: an upstream index in, the index this node
//! should see out — or the reason the upstream bytes pass through as they
//! are. No I/O, so every rule here is unit- and property-tested.
//!
//! The edit is made on the document's own bytes: the `manifests` array is
//! re-assembled from the original element texts (with the original
//! separators) and one annotation is spliced in, so everything else —
//! unknown keys, key order, whitespace — stays byte for byte. The result is
//! checked against the same edit made on the parsed JSON document (serde_json
//! with `preserve_order`); should the two ever disagree, the rendered
//! document is served instead, so a formatting corner case can never change
//! what the index says.

use std::collections::BTreeMap;

use ocifit_core::index::{DOCKER_LIST, OCI_INDEX};
use ocifit_core::platform::normalize_arch;
use ocifit_core::{FeatureTable, Index, Target, legacy_select, select};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// The annotation a rewritten index carries: the digest of the upstream
/// index it was made from.
pub const SOURCE_ANNOTATION: &str = "dev.ocifit.mirror.source-index";

/// Larger upstream answers pass through unread (as docs/semantics.md §9 says).
pub const MAX_REWRITE_BYTES: usize = 4 * 1024 * 1024;

/// How a rewritten index makes a features-ignoring runtime take the entry
/// ocifit selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Drop the other entries the runtime could take on this node.
    Filter,
    /// Move the selected entry before them.
    Reorder,
    /// Never rewrite.
    Off,
}

/// Why an answer passes through unchanged; `code()` is the metrics label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    /// `--mode off`.
    ModeOff,
    /// The repository matched an `--exclude` pattern.
    Excluded,
    /// An image manifest or anything else that is not an index.
    NotIndex,
    /// Over [`MAX_REWRITE_BYTES`].
    TooLarge,
    /// Not valid JSON or not a valid index (the message says why).
    Invalid(String),
    /// No entry runs on this node.
    NoneCompatible,
    /// A runtime that ignores features already takes the selected entry.
    AlreadyChosen,
}

impl Pass {
    pub fn code(&self) -> &'static str {
        match self {
            Pass::ModeOff => "mode-off",
            Pass::Excluded => "excluded",
            Pass::NotIndex => "not-index",
            Pass::TooLarge => "too-large",
            Pass::Invalid(_) => "invalid",
            Pass::NoneCompatible => "none-compatible",
            Pass::AlreadyChosen => "already-chosen",
        }
    }
}

/// A rewritten index and what the log line reports about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    pub bytes: Vec<u8>,
    /// `sha256:` of `bytes`.
    pub digest: String,
    /// The selected entry's position in the source index, and its digest.
    pub selected: usize,
    pub selected_digest: String,
    /// Source positions of the entries left out.
    pub removed: Vec<usize>,
}

/// Whether a `Content-Type` (parameters ignored) names an index.
pub fn is_index_media_type(content_type: &str) -> bool {
    let base = content_type.split(';').next().unwrap_or("").trim();
    base.eq_ignore_ascii_case(OCI_INDEX) || base.eq_ignore_ascii_case(DOCKER_LIST)
}

/// The index a features-ignoring runtime on `target` should see instead of
/// `source` (whose digest is `source_digest`), or why `source` passes.
pub fn rewrite(
    source: &[u8],
    content_type: Option<&str>,
    source_digest: &str,
    target: &Target,
    mode: Mode,
) -> Result<Rewritten, Pass> {
    if mode == Mode::Off {
        return Err(Pass::ModeOff);
    }
    if content_type.is_some_and(|ct| !is_index_media_type(ct)) {
        return Err(Pass::NotIndex);
    }
    if source.len() > MAX_REWRITE_BYTES {
        return Err(Pass::TooLarge);
    }
    let index = Index::from_slice(source).map_err(|e| match e.kind {
        ocifit_core::index::IndexErrorKind::ImageManifest => Pass::NotIndex,
        _ => Pass::Invalid(e.to_string()),
    })?;
    let table = FeatureTable::builtin();
    let selected = select(&index, target, table).selected().ok_or(Pass::NoneCompatible)?;
    let legacy = legacy_select(&index, target);
    if legacy.selected() == Some(selected) {
        return Err(Pass::AlreadyChosen);
    }
    let order = plan(&index, target, &legacy, selected, mode);
    let removed: Vec<usize> = (0..index.len()).filter(|i| !order.contains(i)).collect();
    let expected = edited_document(index.document(), &order, source_digest);
    let bytes = match splice(source, &order, source_digest) {
        Some(bytes) if serde_json::from_slice::<Value>(&bytes).ok().as_ref() == Some(&expected) => bytes,
        _ => ocifit_lint_render(&expected),
    };
    let rewritten = Index::from_slice(&bytes).map_err(|e| Pass::Invalid(format!("rewritten index: {e}")))?;
    // The point of it all: the runtime's own rule now takes the entry ocifit chose.
    let new_position = order.iter().position(|&i| i == selected);
    if legacy_select(&rewritten, target).selected() != new_position {
        return Err(Pass::Invalid("a runtime would still not take the selected entry".into()));
    }
    let selected_digest = index.entry(selected).map(|e| e.digest.to_string()).unwrap_or_default();
    let digest = sha256(&bytes);
    Ok(Rewritten { bytes, digest, selected, selected_digest, removed })
}

/// The source positions of the rewritten `manifests`, in their new order.
///
/// Entries a features-ignoring runtime ranks above the selected one (a
/// closer variant, or an earlier entry of the same platform) must go (or,
/// for `reorder`, those of the same platform move behind it); `filter`
/// also drops every other entry of the target's os/architecture, so the
/// node sees one build for its architecture.
fn plan(index: &Index, target: &Target, legacy: &ocifit_core::Selection, selected: usize, mode: Mode) -> Vec<usize> {
    let candidate = |i: usize| legacy.candidates.iter().find(|c| c.index == i);
    let chosen = candidate(selected).map(|c| c.vector_position);
    let same_arch = |i: usize| {
        index.entry(i).and_then(|e| e.platform).is_some_and(|p| {
            let (arch, _) = normalize_arch(p.architecture, p.variant);
            p.os.eq_ignore_ascii_case(&target.platform.os) && arch == target.platform.architecture
        })
    };
    let closer = |i: usize| candidate(i).is_some_and(|c| Some(c.vector_position) < chosen);
    let same_position = |i: usize| candidate(i).is_some_and(|c| Some(c.vector_position) == chosen);
    match mode {
        Mode::Filter | Mode::Off => {
            (0..index.len()).filter(|&i| i == selected || !(closer(i) || same_position(i) || same_arch(i))).collect()
        }
        Mode::Reorder => {
            let kept: Vec<usize> = (0..index.len()).filter(|&i| i == selected || !closer(i)).collect();
            // Before the first entry it competes with.
            let first = kept.iter().position(|&i| i == selected || same_position(i)).unwrap_or(0);
            let mut order: Vec<usize> = kept.into_iter().filter(|&i| i != selected).collect();
            order.insert(first, selected);
            order
        }
    }
}

/// The rewrite made on the parsed document: the reference the byte splice
/// is checked against.
fn edited_document(document: &Value, order: &[usize], source_digest: &str) -> Value {
    let mut doc = document.clone();
    let manifests = doc["manifests"].as_array().cloned().unwrap_or_default();
    doc["manifests"] = Value::Array(order.iter().map(|&i| manifests[i].clone()).collect());
    let top = doc.as_object_mut().expect("an index is an object");
    let annotations = top.entry("annotations").or_insert_with(|| Value::Object(Default::default()));
    if let Some(map) = annotations.as_object_mut() {
        map.insert(SOURCE_ANNOTATION.into(), Value::String(source_digest.into()));
    }
    doc
}

fn ocifit_lint_render(document: &Value) -> Vec<u8> {
    ocifit_lint::edit::render(document)
}

#[derive(Deserialize)]
struct Top<'a> {
    #[serde(borrow)]
    manifests: &'a RawValue,
    #[serde(borrow, default)]
    annotations: Option<&'a RawValue>,
}

/// Where `inner` (a sub-slice of `text`) starts in `text`.
fn offset(text: &str, inner: &str) -> usize {
    inner.as_ptr() as usize - text.as_ptr() as usize
}

/// The byte-preserving edit; `None` when the document has a shape it does
/// not handle (the caller then renders the parsed document).
fn splice(source: &[u8], order: &[usize], source_digest: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(source).ok()?;
    let top: Top<'_> = serde_json::from_str(text).ok()?;
    let array = top.manifests.get();
    let elements: Vec<&RawValue> = serde_json::from_str(array).ok()?;
    if elements.len() < 2 {
        return None;
    }
    let span = |r: &RawValue| (offset(array, r.get()), offset(array, r.get()) + r.get().len());
    let (first_start, first_end) = span(elements[0]);
    let (second_start, _) = span(elements[1]);
    let (_, last_end) = span(elements[elements.len() - 1]);
    let separator = &array[first_end..second_start];
    let mut new_array = String::with_capacity(array.len());
    new_array.push_str(&array[..first_start]);
    for (n, &i) in order.iter().enumerate() {
        if n > 0 {
            new_array.push_str(separator);
        }
        new_array.push_str(elements.get(i)?.get());
    }
    new_array.push_str(&array[last_end..]);

    let key = serde_json::to_string(SOURCE_ANNOTATION).ok()?;
    let value = serde_json::to_string(source_digest).ok()?;
    let trimmed_end = text.trim_end().len();
    let object_start = text.len() - text.trim_start().len();
    let member_gap = &text[object_start + 1..object_start + 1 + text[object_start + 1..].find('"')?];
    let colon = if member_gap.contains('\n') { ": " } else { ":" };
    // (start, end, replacement), applied from the end so offsets stay valid.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let manifests_at = offset(text, array);
    edits.push((manifests_at, manifests_at + array.len(), new_array));
    match top.annotations {
        None => {
            let closing = text[..trimmed_end].strip_suffix('}')?.trim_end().len();
            let member = format!(",{member_gap}\"annotations\"{colon}{{{key}{colon}{value}}}");
            edits.push((closing, closing, member));
        }
        Some(raw) => {
            let object = raw.get();
            let at = offset(text, object);
            let members: BTreeMap<String, &RawValue> = serde_json::from_str(object).ok()?;
            if let Some(old) = members.get(SOURCE_ANNOTATION) {
                let old_at = offset(text, old.get());
                edits.push((old_at, old_at + old.get().len(), value));
            } else if members.is_empty() {
                edits.push((at, at + object.len(), format!("{{{key}{colon}{value}}}")));
            } else {
                let last_end = members.values().map(|v| offset(text, v.get()) + v.get().len()).max()?;
                let gap = &object[1..object[1..].find('"')? + 1];
                edits.push((last_end, last_end, format!(",{gap}{key}{colon}{value}")));
            }
        }
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, replacement) in edits {
        out.replace_range(start..end, &replacement);
    }
    Some(out.into_bytes())
}

/// `sha256:` + hex of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    ocifit_source::Digest::sha256(bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocifit_core::Platform;
    use serde_json::json;

    fn d(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    fn entry(n: u8, arch: &str, variant: Option<&str>, features: Option<&[&str]>) -> Value {
        let mut platform = json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            platform["variant"] = json!(v);
        }
        if let Some(f) = features {
            platform["features"] = json!(f);
        }
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 100 + n as u64, "digest": d(n), "platform": platform})
    }

    fn v3() -> Target {
        Target::guaranteed(&Platform::new("linux", "amd64", "v3"), FeatureTable::builtin())
    }

    fn target(p: &str) -> Target {
        let (os, rest) = p.split_once('/').unwrap();
        let (arch, variant) = rest.split_once('/').unwrap_or((rest, ""));
        Target::guaranteed(&Platform::new(os, arch, variant), FeatureTable::builtin())
    }

    fn bytes(doc: &Value) -> Vec<u8> {
        serde_json::to_vec_pretty(doc).unwrap()
    }

    fn typical() -> Value {
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            entry(1, "amd64", None, None),
            entry(2, "amd64", None, Some(&["avx2", "bmi2", "fma"])),
            entry(3, "arm64", Some("v8"), None),
        ], "x-unknown": {"kept": true}})
    }

    #[test]
    fn s9_filter_drops_the_other_entries_of_the_architecture() {
        let src = bytes(&typical());
        let out = rewrite(&src, Some(OCI_INDEX), &sha256(&src), &v3(), Mode::Filter).unwrap();
        let doc: Value = serde_json::from_slice(&out.bytes).unwrap();
        let digests: Vec<&str> =
            doc["manifests"].as_array().unwrap().iter().map(|e| e["digest"].as_str().unwrap()).collect();
        assert_eq!(digests, [d(2), d(3)]);
        assert_eq!((out.selected, out.selected_digest.as_str(), out.removed.as_slice()), (1, d(2).as_str(), &[0][..]));
        assert_eq!(doc["annotations"][SOURCE_ANNOTATION], json!(sha256(&src)));
        assert_eq!(doc["x-unknown"], json!({"kept": true}));
        assert_eq!(out.digest, sha256(&out.bytes));
    }

    #[test]
    fn s9_reorder_moves_the_selected_entry_first() {
        let src = bytes(&typical());
        let out = rewrite(&src, Some(OCI_INDEX), &sha256(&src), &v3(), Mode::Reorder).unwrap();
        let doc: Value = serde_json::from_slice(&out.bytes).unwrap();
        let digests: Vec<&str> =
            doc["manifests"].as_array().unwrap().iter().map(|e| e["digest"].as_str().unwrap()).collect();
        assert_eq!(digests, [d(2), d(1), d(3)]);
        assert!(out.removed.is_empty());
    }

    #[test]
    fn s9_pass_through_reasons() {
        let src = bytes(&typical());
        let digest = sha256(&src);
        let v1 = target("linux/amd64");
        type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, Target, Mode, Pass);
        let cases: Vec<Case<'_>> = vec![
            ("mode off", src.clone(), Some(OCI_INDEX), v3(), Mode::Off, Pass::ModeOff),
            (
                "legacy already takes the fallback",
                src.clone(),
                Some(OCI_INDEX),
                v1.clone(),
                Mode::Filter,
                Pass::AlreadyChosen,
            ),
            (
                "arm64 entry is first for arm64",
                src.clone(),
                Some(OCI_INDEX),
                target("linux/arm64"),
                Mode::Filter,
                Pass::AlreadyChosen,
            ),
            (
                "nothing for s390x",
                src.clone(),
                Some(OCI_INDEX),
                target("linux/s390x"),
                Mode::Filter,
                Pass::NoneCompatible,
            ),
            (
                "image manifest type",
                src.clone(),
                Some("application/vnd.oci.image.manifest.v1+json"),
                v3(),
                Mode::Filter,
                Pass::NotIndex,
            ),
            (
                "image manifest document",
                br#"{"schemaVersion":2,"config":{},"layers":[]}"#.to_vec(),
                None,
                v3(),
                Mode::Filter,
                Pass::NotIndex,
            ),
            ("too large", vec![b' '; MAX_REWRITE_BYTES + 1], Some(OCI_INDEX), v3(), Mode::Filter, Pass::TooLarge),
        ];
        for (name, bytes, ct, t, mode, want) in cases {
            assert_eq!(rewrite(&bytes, ct, &digest, &t, mode).unwrap_err(), want, "{name}");
        }
        let invalid = rewrite(b"{\"manifests\": [", Some(OCI_INDEX), &digest, &v3(), Mode::Filter).unwrap_err();
        assert_eq!(invalid.code(), "invalid");
    }

    #[test]
    fn s9_untouched_bytes_are_kept() {
        // Odd formatting, an unknown key, annotations already present.
        let src = format!(
            "{{ \"schemaVersion\" : 2,\n\t\"manifests\" : [ {} ,\n {} , {} ],\n \"annotations\": {{\"b\": \"1\",  \"a\": \"2\"}} , \"z\": [1,2,  3] }}\n",
            entry(1, "amd64", None, None),
            entry(2, "amd64", None, Some(&["avx2"])),
            entry(3, "arm64", None, None)
        );
        let out = rewrite(src.as_bytes(), None, &sha256(src.as_bytes()), &v3(), Mode::Filter).unwrap();
        let text = String::from_utf8(out.bytes).unwrap();
        let want = format!(
            "{{ \"schemaVersion\" : 2,\n\t\"manifests\" : [ {} ,\n {} ],\n \"annotations\": {{\"b\": \"1\",  \"a\": \"2\",\"{SOURCE_ANNOTATION}\":\"{}\"}} , \"z\": [1,2,  3] }}\n",
            entry(2, "amd64", None, Some(&["avx2"])),
            entry(3, "arm64", None, None),
            sha256(src.as_bytes())
        );
        assert_eq!(text, want);
    }

    #[test]
    fn s9_an_old_source_annotation_is_replaced_not_duplicated() {
        let mut doc = typical();
        doc["annotations"] = json!({SOURCE_ANNOTATION: "sha256:old", "k": "v"});
        let src = bytes(&doc);
        let out = rewrite(&src, Some(OCI_INDEX), &sha256(&src), &v3(), Mode::Filter).unwrap();
        let text = String::from_utf8(out.bytes).unwrap();
        assert_eq!(text.matches(SOURCE_ANNOTATION).count(), 1, "{text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["annotations"], json!({SOURCE_ANNOTATION: sha256(&src), "k": "v"}));
    }

    #[test]
    fn s9_closer_variant_with_missing_features_is_removed_in_both_modes() {
        // On a v2 machine: the v3 entry needs avx512f, which v2 lacks; a
        // runtime would take it for its variant alone.
        let doc = json!({"schemaVersion": 2, "manifests": [
            entry(1, "amd64", None, None),
            entry(2, "amd64", Some("v3"), Some(&["avx512f"])),
            entry(3, "amd64", Some("v2"), None),
        ]});
        let src = bytes(&doc);
        let t = target("linux/amd64/v3");
        for mode in [Mode::Filter, Mode::Reorder] {
            let out = rewrite(&src, None, &sha256(&src), &t, mode).unwrap();
            assert_eq!(out.selected, 2, "{mode:?}");
            assert!(out.removed.contains(&1), "{mode:?}");
        }
    }
}
