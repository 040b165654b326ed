//! What the image-spec schema misses, checked on the raw JSON document (so
//! it works on indexes too broken for the typed view):
//!
//! - `platform.features` is an array of strings ([`Code::FeaturesType`]) and
//!   none is empty ([`Code::FeatureEmpty`]);
//! - the encoded part of a digest has the length and alphabet its registered
//!   algorithm requires ([`Code::DigestEncoding`]; image-spec descriptor.md,
//!   "Registered algorithms").

use serde_json::Value;

use crate::diagnostic::{Code, Diagnostic};
use crate::schema::{short, type_name};

/// Registered algorithms with a fixed hex encoding: (name, hex characters).
pub const DIGEST_LENGTHS: &[(&str, usize)] = &[("sha256", 64), ("sha512", 128), ("blake3", 64)];

/// The index's `manifests` array, when it is one.
pub(crate) fn manifests(document: &Value) -> &[Value] {
    document.get("manifests").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

pub fn check(document: &Value, out: &mut Vec<Diagnostic>) {
    if let Some(subject) = document.get("subject") {
        check_digest("/subject/digest", subject.get("digest"), out);
    }
    for (i, entry) in manifests(document).iter().enumerate() {
        if let Some(Value::String(digest)) = entry.get("digest") {
            if !digest_ok(digest) {
                check_digest(&format!("/manifests/{i}/digest"), entry.get("digest"), out);
            }
        }
        let Some(platform) = entry.get("platform").and_then(Value::as_object) else { continue };
        let Some(features) = platform.get("features") else { continue };
        if features.as_array().is_some_and(|items| items.iter().all(|f| f.as_str().is_some_and(|s| !s.is_empty()))) {
            continue;
        }
        let at = format!("/manifests/{i}/platform/features");
        let Some(items) = features.as_array() else {
            out.push(Diagnostic::new(
                Code::FeaturesType,
                at,
                format!(
                    "platform.features must be an array of strings, not {} ({})",
                    type_name(features),
                    short(features)
                ),
                "write the features as a JSON array of canonical names, e.g. [\"avx2\", \"bmi2\"]",
            ));
            continue;
        };
        for (j, item) in items.iter().enumerate() {
            let at = format!("{at}/{j}");
            match item {
                Value::String(s) if s.is_empty() => out.push(Diagnostic::new(
                    Code::FeatureEmpty,
                    at,
                    "empty feature name in platform.features",
                    "remove the empty string; an entry with an unknown feature is never selected",
                )),
                Value::String(_) => {}
                other => out.push(Diagnostic::new(
                    Code::FeaturesType,
                    at,
                    format!("platform.features items must be strings, not {} ({})", type_name(other), short(other)),
                    "write each feature as a string holding its canonical name",
                )),
            }
        }
    }
}

/// The fast path: a registered algorithm with a well-formed encoding, or an
/// algorithm this check does not cover.
fn digest_ok(digest: &str) -> bool {
    let Some((algorithm, encoded)) = digest.split_once(':') else { return true };
    match DIGEST_LENGTHS.iter().find(|(a, _)| *a == algorithm) {
        Some(&(_, want)) => encoded.len() == want && encoded.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        None => true,
    }
}

fn check_digest(at: &str, digest: Option<&Value>, out: &mut Vec<Diagnostic>) {
    let Some(digest) = digest.and_then(Value::as_str) else { return };
    let Some((algorithm, encoded)) = digest.split_once(':') else { return };
    let Some(&(_, want)) = DIGEST_LENGTHS.iter().find(|(a, _)| *a == algorithm) else { return };
    let hex = encoded.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hex && encoded.len() == want {
        return;
    }
    let mut problem = Vec::new();
    if encoded.len() != want {
        problem.push(format!("has {} characters", encoded.len()));
    }
    if !hex {
        problem.push("is not lowercase hex".to_string());
    }
    out.push(Diagnostic::new(
        Code::DigestEncoding,
        at,
        format!(
            "{algorithm} digest must be {want} lowercase hex characters; {} {}",
            short(&Value::String(encoded.into())),
            problem.join(" and ")
        ),
        format!("copy the digest exactly as the registry reports it: {algorithm}:<{want} hex digits>"),
    ));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(doc: Value) -> Vec<(Code, String)> {
        let mut out = Vec::new();
        check(&doc, &mut out);
        out.into_iter().map(|d| (d.code, d.pointer)).collect()
    }

    const SHA: &str = "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f";

    #[test]
    fn digest_encoding() {
        let long512 = format!("sha512:{}", "a".repeat(128));
        let ok = [SHA, long512.as_str(), "sha384:abc", "sha256+b64u:LCa0a2j_xo", "nocolon"];
        for d in ok {
            assert_eq!(run(json!({"manifests": [{"digest": d}]})), vec![], "{d}");
        }
        let bad = ["sha256:abc", "sha512:abcd", &SHA.to_uppercase().replace("SHA", "sha"), "blake3:zz"];
        for d in bad {
            assert_eq!(
                run(json!({"manifests": [{"digest": d}]})),
                vec![(Code::DigestEncoding, "/manifests/0/digest".into())],
                "{d}"
            );
        }
        assert_eq!(run(json!({"subject": {"digest": "sha256:1"}, "manifests": []})).len(), 1);
    }

    #[test]
    fn features_type_and_empty() {
        let doc = json!({"manifests": [
            {"platform": {"os": "linux", "architecture": "amd64", "features": "avx2"}},
            {"platform": {"os": "linux", "architecture": "amd64", "features": ["avx2", 3, ""]}},
            {"platform": {"os": "linux", "architecture": "amd64", "features": ["avx2"]}},
            {"platform": {"os": "linux", "architecture": "amd64", "features": []}},
        ]});
        assert_eq!(
            run(doc),
            vec![
                (Code::FeaturesType, "/manifests/0/platform/features".into()),
                (Code::FeaturesType, "/manifests/1/platform/features/1".into()),
                (Code::FeatureEmpty, "/manifests/1/platform/features/2".into()),
            ]
        );
    }
}
