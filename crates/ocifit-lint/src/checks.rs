//! What the image-spec schema misses, checked on the raw JSON document (so
//! it works on indexes too broken for the typed view):
//!
//! - `platform.features` is an array of strings ([`Code::FeaturesType`]) and
//!   none is empty ([`Code::FeatureEmpty`]);
//! - the encoded part of a digest has the length and alphabet its registered
//!   algorithm requires ([`Code::DigestEncoding`]; image-spec descriptor.md,
//!   "Registered algorithms");
//! - a descriptor's `data` is RFC 4648 base64 (padded, canonical) and
//!   decodes to `size` bytes that hash to `digest` ([`Code::DataInvalid`];
//!   image-spec descriptor.md, "Embedded content" — the image-spec's own
//!   descriptor tests reject unpadded and invalid data, the schema does not);
//! - an entry's `artifactType` is a media type (content-descriptor.json
//!   says so, but the index schema's own descriptor leaves the field out)
//!   ([`Code::Schema`]).

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;

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
        check_data("/subject", subject, out);
    }
    for (i, entry) in manifests(document).iter().enumerate() {
        check_data(&format!("/manifests/{i}"), entry, out);
        check_artifact_type(&format!("/manifests/{i}"), entry, out);
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

/// A descriptor's `data` (at `at`/data): RFC 4648 base64, then, when it
/// decodes, the content `size` and a sha256/sha512 `digest` name.
fn check_data(at: &str, descriptor: &Value, out: &mut Vec<Diagnostic>) {
    let at = format!("{at}/data");
    let hint = "embed the content as standard base64 with padding (RFC 4648 section 4), or remove data";
    let data = match descriptor.get("data") {
        None => return,
        Some(Value::String(data)) => data,
        Some(other) => {
            let problem = format!("data must be a base64 string, not {} ({})", type_name(other), short(other));
            out.push(Diagnostic::new(Code::DataInvalid, at, problem, hint));
            return;
        }
    };
    let decoded = match base64::engine::general_purpose::STANDARD.decode(data) {
        Ok(bytes) => bytes,
        Err(e) => {
            out.push(Diagnostic::new(
                Code::DataInvalid,
                at,
                format!("data is not RFC 4648 base64 ({e}): {}", short(&Value::String(data.clone()))),
                hint,
            ));
            return;
        }
    };
    if let Some(size) = descriptor.get("size").and_then(Value::as_u64)
        && size != decoded.len() as u64
    {
        out.push(Diagnostic::new(
            Code::DataInvalid,
            at,
            format!("data decodes to {} bytes but size is {size}", decoded.len()),
            "data must be exactly the referenced content: fix size or data",
        ));
        return;
    }
    let Some(digest) = descriptor.get("digest").and_then(Value::as_str) else { return };
    let actual = match digest.split_once(':') {
        Some(("sha256", _)) => format!("sha256:{:x}", sha2::Sha256::digest(&decoded)),
        Some(("sha512", _)) => format!("sha512:{:x}", sha2::Sha512::digest(&decoded)),
        _ => return,
    };
    if digest_ok(digest) && actual != digest {
        out.push(Diagnostic::new(
            Code::DataInvalid,
            at,
            format!("data hashes to {actual}, not to the descriptor's digest"),
            "data must be exactly the referenced content: fix digest or data",
        ));
    }
}

/// `artifactType`: a string of the form `type/subtype` in the characters
/// RFC 6838 allows (image-spec's `mediaType` pattern).
fn check_artifact_type(at: &str, descriptor: &Value, out: &mut Vec<Diagnostic>) {
    let Some(value) = descriptor.get("artifactType") else { return };
    let name_ok = |s: &str| {
        (1..=127).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    let ok = value.as_str().and_then(|s| s.split_once('/')).is_some_and(|(t, sub)| name_ok(t) && name_ok(sub));
    if !ok {
        out.push(Diagnostic::new(
            Code::Schema,
            format!("{at}/artifactType"),
            format!("image-spec descriptor schema: artifactType {} is not a media type", short(value)),
            "write the artifact's media type, e.g. application/vnd.example.sbom.v1+json, or remove artifactType",
        ));
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

    /// The image-spec's descriptor tests (schema/descriptor_test.go): valid
    /// padded data passes; unpadded and invalid base64 fail; and the decoded
    /// content must be what size and digest name.
    #[test]
    fn data_invalid() {
        let content = b"{\"schemaVersion\":2}";
        let digest = format!("sha256:{:x}", sha2::Sha256::digest(content));
        let good = base64::engine::general_purpose::STANDARD.encode(content);
        let entry = |data: &str, size: usize, digest: &str| json!({"manifests": [{"mediaType": "m", "size": size, "digest": digest, "data": data}]});
        assert_eq!(run(entry(&good, content.len(), &digest)), vec![]);
        let cases = [
            (good.trim_end_matches('=').to_string(), content.len(), digest.clone()),
            ("e30=!".to_string(), content.len(), digest.clone()),
            ("not base64".to_string(), content.len(), digest.clone()),
            (good.clone(), content.len() + 1, digest.clone()),
            (good.clone(), content.len(), format!("sha256:{}", "0".repeat(64))),
        ];
        assert!(good.ends_with('='), "the case without padding needs padding to remove: {good}");
        for (data, size, digest) in cases {
            assert_eq!(
                run(entry(&data, size, &digest)),
                vec![(Code::DataInvalid, "/manifests/0/data".into())],
                "{data} {size} {digest}"
            );
        }
        let subject =
            json!({"subject": {"mediaType": "m", "size": 2, "digest": digest, "data": "e30"}, "manifests": []});
        assert_eq!(run(subject), vec![(Code::DataInvalid, "/subject/data".into())]);
        assert_eq!(run(entry_with("data", json!(123))), vec![(Code::DataInvalid, "/manifests/0/data".into())]);
    }

    fn entry_with(key: &str, value: Value) -> Value {
        let mut entry = json!({"mediaType": "m", "size": 1, "digest": SHA});
        entry[key] = value;
        json!({"manifests": [entry]})
    }

    #[test]
    fn artifact_type_is_a_media_type() {
        for ok in ["application/vnd.example.sbom.v1+json", "text/plain"] {
            assert_eq!(run(entry_with("artifactType", json!(ok))), vec![], "{ok}");
        }
        for bad in [json!("not a type"), json!("application"), json!("/json"), json!(3), json!("a/b c")] {
            assert_eq!(
                run(entry_with("artifactType", bad.clone())),
                vec![(Code::Schema, "/manifests/0/artifactType".into())],
                "{bad}"
            );
        }
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
