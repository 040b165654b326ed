//! Validation against the OCI image-spec's own JSON schemas (Draft 4).
//!
//! The four schema files in `schema/` are copied unmodified from
//! opencontainers/image-spec (see `schema/NOTICE`) and embedded. Their
//! `$ref`s name each other relative to the `id` of whichever schema holds
//! them, so each file is registered under every URI a reference to it can
//! resolve to (the same list image-spec's own Go validator uses, `specURLs`
//! in `schema/schema.go`). Retrieval is switched off: a reference that is
//! not registered fails when the validator is built (a test builds it), and
//! nothing is ever fetched.

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Registry, Resource, ValidationError, Validator};
use serde_json::Value;

use crate::diagnostic::{Code, Diagnostic};

pub const IMAGE_INDEX_SCHEMA: &str = include_str!("../schema/image-index-schema.json");
pub const CONTENT_DESCRIPTOR_SCHEMA: &str = include_str!("../schema/content-descriptor.json");
pub const DEFS_DESCRIPTOR_SCHEMA: &str = include_str!("../schema/defs-descriptor.json");
pub const DEFS_SCHEMA: &str = include_str!("../schema/defs.json");

/// The `id` of the image index schema: where schema errors point readers.
pub const IMAGE_INDEX_ID: &str = "https://opencontainers.org/schema/image/index";

/// (file, every URI it is known by).
const RESOURCES: &[(&str, &[&str])] = &[
    (
        CONTENT_DESCRIPTOR_SCHEMA,
        &[
            "https://opencontainers.org/schema/descriptor",
            "https://opencontainers.org/schema/image/content-descriptor.json",
        ],
    ),
    (
        DEFS_DESCRIPTOR_SCHEMA,
        &[
            "https://opencontainers.org/schema/image/descriptor/mediaType",
            "https://opencontainers.org/schema/defs-descriptor.json",
            "https://opencontainers.org/schema/image/defs-descriptor.json",
            "https://opencontainers.org/schema/image/index/defs-descriptor.json",
        ],
    ),
    (
        DEFS_SCHEMA,
        &[
            "https://opencontainers.org/schema/defs.json",
            "https://opencontainers.org/schema/image/defs.json",
            "https://opencontainers.org/schema/image/descriptor/defs.json",
            "https://opencontainers.org/schema/image/index/defs.json",
        ],
    ),
];

/// The compiled image index schema.
pub struct IndexSchema {
    validator: Validator,
}

impl std::fmt::Debug for IndexSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexSchema")
    }
}

/// Why the embedded schemas could not be compiled (a bug in ocifit: a test
/// compiles them).
#[derive(Debug)]
pub struct SchemaError(pub String);

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the embedded image-spec schemas do not compile: {}", self.0)
    }
}

impl std::error::Error for SchemaError {}

fn parse(text: &str) -> Result<Value, SchemaError> {
    serde_json::from_str(text).map_err(|e| SchemaError(e.to_string()))
}

impl IndexSchema {
    /// Compile the embedded schemas, offline.
    pub fn compile() -> Result<IndexSchema, SchemaError> {
        let err = |e: &dyn std::fmt::Display| SchemaError(e.to_string());
        let mut builder = Registry::new().draft(Draft::Draft4);
        for (text, uris) in RESOURCES {
            let contents = parse(text)?;
            for uri in *uris {
                builder = builder.add(*uri, Resource::from_contents(contents.clone())).map_err(|e| err(&e))?;
            }
        }
        let registry = builder.prepare().map_err(|e| err(&e))?;
        let index = parse(IMAGE_INDEX_SCHEMA)?;
        let validator = jsonschema::options()
            .with_draft(Draft::Draft4)
            .offline()
            .with_registry(&registry)
            .build(&index)
            .map_err(|e| err(&e))?;
        Ok(IndexSchema { validator })
    }

    /// Every schema violation in `document`, as diagnostics.
    pub fn check(&self, document: &Value, out: &mut Vec<Diagnostic>) {
        // The common case first: a valid document, checked without building
        // error paths (several times faster than collecting errors).
        if self.validator.is_valid(document) {
            return;
        }
        for error in self.validator.iter_errors(document) {
            out.push(to_diagnostic(&error));
        }
    }
}

/// A JSON value shown in a message: at most about 60 characters.
pub(crate) fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 60 {
        return text;
    }
    let cut: String = text.chars().take(57).collect();
    format!("{cut}...")
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn to_diagnostic(error: &ValidationError<'_>) -> Diagnostic {
    let instance = error.instance();
    let message = match error.kind() {
        ValidationErrorKind::Required { property } => {
            format!("required property {} is missing", property)
        }
        ValidationErrorKind::Type { kind } => {
            let wanted = match kind {
                jsonschema::error::TypeKind::Single(t) => t.to_string(),
                jsonschema::error::TypeKind::Multiple(set) => {
                    set.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" or ")
                }
            };
            format!("must be of type {wanted}, not {} ({})", type_name(instance), short(instance))
        }
        ValidationErrorKind::Pattern { pattern } => {
            format!("{} does not match the pattern {pattern}", short(instance))
        }
        ValidationErrorKind::Minimum { limit } => format!("{} is less than the minimum {limit}", short(instance)),
        ValidationErrorKind::Maximum { limit } => format!("{} is more than the maximum {limit}", short(instance)),
        ValidationErrorKind::Format { format } => format!("{} is not a valid {format}", short(instance)),
        _ => {
            let text = error.to_string();
            if text.chars().count() > 200 { format!("{}...", text.chars().take(197).collect::<String>()) } else { text }
        }
    };
    let keyword = error.schema_path().as_str().to_string();
    Diagnostic::new(
        Code::Schema,
        error.instance_path().as_str(),
        format!("image-spec schema: {message}"),
        format!("the OCI image index schema ({IMAGE_INDEX_ID}) requires this; schema location #{keyword}"),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(doc: Value) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        IndexSchema::compile().unwrap().check(&doc, &mut out);
        out
    }

    #[test]
    fn compiles_offline_with_every_ref_resolved() {
        IndexSchema::compile().unwrap();
    }

    #[test]
    fn accepts_a_valid_index() {
        let doc = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
            "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
            "platform": {"os": "linux", "architecture": "amd64", "features": ["avx2"]},
            "annotations": {"a": "b"}}], "annotations": {"x": "y"}});
        assert_eq!(check(doc), vec![]);
    }

    #[test]
    fn reports_refs_into_every_file() {
        // mediaType -> defs-descriptor.json, size -> defs.json, subject -> content-descriptor.json,
        // annotations -> defs-descriptor.json -> defs.json.
        let doc = json!({"schemaVersion": 3, "mediaType": "not a media type",
            "subject": {"mediaType": "a/b", "digest": "sha256:x"},
            "manifests": [{"mediaType": "a/b", "size": "12", "digest": "nope",
                "platform": {"os": "linux"}, "annotations": {"k": 1}}]});
        let got: Vec<(String, String)> = check(doc).into_iter().map(|d| (d.pointer, d.message)).collect();
        let pointers: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        for want in [
            "/schemaVersion",
            "/mediaType",
            "/subject",
            "/manifests/0/size",
            "/manifests/0/digest",
            "/manifests/0/platform",
            "/manifests/0/annotations/k",
        ] {
            assert!(pointers.contains(&want), "{want} missing from {got:#?}");
        }
    }
}
