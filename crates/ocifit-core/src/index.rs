//! The index model: an OCI image index or Docker manifest list, kept as the
//! JSON document it was read from, with a checked, typed read view on top.
//!
//! The document (serde_json with `preserve_order`) is the source of truth:
//! commands that rewrite an index edit it and never re-serialize typed
//! structs, so unknown keys, annotations and key order survive.

use std::fmt;

use serde_json::{Map, Value};

/// Local inputs above this size are refused before parsing.
pub const MAX_INDEX_BYTES: usize = 64 * 1024 * 1024;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Why bytes are not a usable index. `pointer` is an RFC 6901 JSON Pointer
/// to the offending value (`""` for the whole document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexError {
    pub pointer: String,
    pub problem: String,
    pub kind: IndexErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexErrorKind {
    TooLarge,
    Json,
    /// Valid JSON of the wrong shape.
    Shape,
    /// A single image manifest rather than an index.
    ImageManifest,
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "at {}: {}", self.pointer, self.problem)
        }
    }
}

impl std::error::Error for IndexError {}

fn shape(pointer: impl Into<String>, problem: impl Into<String>) -> IndexError {
    IndexError { pointer: pointer.into(), problem: problem.into(), kind: IndexErrorKind::Shape }
}

/// A checked index. Cheap views ([`Entry`]) borrow from the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    document: Value,
}

impl Index {
    /// Parse and check bytes (at most [`MAX_INDEX_BYTES`]).
    pub fn from_slice(bytes: &[u8]) -> Result<Index, IndexError> {
        if bytes.len() > MAX_INDEX_BYTES {
            return Err(IndexError {
                pointer: String::new(),
                problem: format!(
                    "{} bytes is larger than the {} MiB an index may have",
                    bytes.len(),
                    MAX_INDEX_BYTES >> 20
                ),
                kind: IndexErrorKind::TooLarge,
            });
        }
        let document: Value = serde_json::from_slice(bytes).map_err(|e| IndexError {
            pointer: String::new(),
            problem: json_problem(&e),
            kind: IndexErrorKind::Json,
        })?;
        Index::from_value(document)
    }

    /// Check a parsed document.
    pub fn from_value(document: Value) -> Result<Index, IndexError> {
        check(&document)?;
        Ok(Index { document })
    }

    pub fn document(&self) -> &Value {
        &self.document
    }

    pub fn into_document(self) -> Value {
        self.document
    }

    /// The top-level `mediaType`, when present.
    pub fn media_type(&self) -> Option<&str> {
        self.document.get("mediaType").and_then(Value::as_str)
    }

    fn manifests(&self) -> &[Value] {
        self.document["manifests"].as_array().map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.manifests().len()
    }

    pub fn is_empty(&self) -> bool {
        self.manifests().is_empty()
    }

    pub fn entry(&self, index: usize) -> Option<Entry<'_>> {
        self.manifests().get(index).map(|v| Entry::view(index, v))
    }

    pub fn entries(&self) -> impl ExactSizeIterator<Item = Entry<'_>> + '_ {
        self.manifests().iter().enumerate().map(|(i, v)| Entry::view(i, v))
    }
}

/// One element of `manifests`, known by its position.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub index: usize,
    pub media_type: &'a str,
    pub digest: &'a str,
    pub size: u64,
    pub platform: Option<EntryPlatform<'a>>,
    /// The descriptor as written, for lossless output.
    pub raw: &'a Map<String, Value>,
}

/// An entry's `platform` object, as written (not normalized).
#[derive(Debug, Clone, Copy)]
pub struct EntryPlatform<'a> {
    pub os: &'a str,
    pub architecture: &'a str,
    /// `""` when absent.
    pub variant: &'a str,
    /// `""` when absent.
    pub os_version: &'a str,
    os_features: &'a [Value],
    features: Option<&'a [Value]>,
    pub raw: &'a Map<String, Value>,
}

impl<'a> EntryPlatform<'a> {
    pub fn os_features(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.os_features.iter().filter_map(Value::as_str)
    }

    /// `features` as written (duplicates and all); empty when absent.
    pub fn features(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        self.features.unwrap_or(&[]).iter().map(|v| v.as_str().unwrap_or_default())
    }

    /// Whether `features` is present and non-empty: an entry without
    /// features is the fallback of its os/architecture/variant.
    pub fn has_features(&self) -> bool {
        self.features.is_some_and(|f| !f.is_empty())
    }
}

impl<'a> Entry<'a> {
    fn view(index: usize, value: &'a Value) -> Entry<'a> {
        // Shapes were checked by `check`, so these reads cannot fail.
        let raw = value.as_object().expect("checked: entry is an object");
        let text = |key: &str| raw.get(key).and_then(Value::as_str).unwrap_or_default();
        let platform = raw.get("platform").and_then(Value::as_object).map(|p| {
            let text = |key: &str| p.get(key).and_then(Value::as_str).unwrap_or_default();
            EntryPlatform {
                os: text("os"),
                architecture: text("architecture"),
                variant: text("variant"),
                os_version: text("os.version"),
                os_features: p.get("os.features").and_then(Value::as_array).map_or(&[], Vec::as_slice),
                features: p.get("features").and_then(Value::as_array).map(Vec::as_slice),
                raw: p,
            }
        });
        Entry {
            index,
            media_type: text("mediaType"),
            digest: text("digest"),
            size: raw.get("size").and_then(Value::as_u64).unwrap_or_default(),
            platform,
            raw,
        }
    }
}

fn json_problem(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Io => "unreadable",
        _ => "invalid JSON",
    };
    // serde_json's message ends with "at line L column C"; keep it short.
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    format!("{what} at line {} column {}: {msg}", e.line(), e.column())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn want<'v>(v: &'v Value, pointer: &str, what: &str, ok: bool) -> Result<&'v Value, IndexError> {
    if ok { Ok(v) } else { Err(shape(pointer, format!("must be {what}, not {}", type_name(v)))) }
}

fn check(document: &Value) -> Result<(), IndexError> {
    let top = document
        .as_object()
        .ok_or_else(|| shape("", format!("an index must be a JSON object, not {}", type_name(document))))?;
    if let Some(mt) = top.get("mediaType") {
        let mt = want(mt, "/mediaType", "a string", mt.is_string())?.as_str().unwrap_or_default();
        if mt == OCI_MANIFEST || mt == DOCKER_MANIFEST {
            return Err(IndexError {
                pointer: "/mediaType".into(),
                problem: format!("this is an image manifest ({mt}), not an index"),
                kind: IndexErrorKind::ImageManifest,
            });
        }
        if mt != OCI_INDEX && mt != DOCKER_LIST {
            return Err(shape("/mediaType", format!("{mt:?} is not an image index media type")));
        }
    }
    if let Some(v) = top.get("schemaVersion") {
        if v.as_u64() != Some(2) {
            return Err(shape("/schemaVersion", format!("must be 2, not {v}")));
        }
    }
    let manifests = match top.get("manifests") {
        Some(m) => want(m, "/manifests", "an array", m.is_array())?.as_array().unwrap(),
        None if top.contains_key("layers") || top.contains_key("config") => {
            return Err(IndexError {
                pointer: String::new(),
                problem: "this is an image manifest, not an index".into(),
                kind: IndexErrorKind::ImageManifest,
            });
        }
        None => return Err(shape("", "not an index: no \"manifests\" array")),
    };
    for (i, entry) in manifests.iter().enumerate() {
        check_entry(&format!("/manifests/{i}"), entry)?;
    }
    Ok(())
}

fn check_entry(at: &str, entry: &Value) -> Result<(), IndexError> {
    let obj = want(entry, at, "an object", entry.is_object())?.as_object().unwrap();
    for key in ["mediaType", "digest"] {
        match obj.get(key) {
            Some(v) => {
                want(v, &format!("{at}/{key}"), "a string", v.is_string())?;
            }
            None => return Err(shape(at, format!("descriptor has no \"{key}\""))),
        }
    }
    match obj.get("size") {
        Some(v) if v.as_u64().is_some() => {}
        Some(v) => return Err(shape(format!("{at}/size"), format!("must be a non-negative integer, not {v}"))),
        None => return Err(shape(at, "descriptor has no \"size\"")),
    }
    let Some(platform) = obj.get("platform") else { return Ok(()) };
    let at = format!("{at}/platform");
    let p = want(platform, &at, "an object", platform.is_object())?.as_object().unwrap();
    for key in ["os", "architecture"] {
        match p.get(key) {
            Some(v) => {
                want(v, &format!("{at}/{key}"), "a string", v.is_string())?;
            }
            None => return Err(shape(&at, format!("platform has no \"{key}\""))),
        }
    }
    for key in ["variant", "os.version"] {
        if let Some(v) = p.get(key) {
            want(v, &format!("{at}/{}", escape(key)), "a string", v.is_string())?;
        }
    }
    for key in ["os.features", "features"] {
        if let Some(v) = p.get(key) {
            let ptr = format!("{at}/{}", escape(key));
            let items = want(v, &ptr, "an array of strings", v.is_array())?.as_array().unwrap();
            for (j, item) in items.iter().enumerate() {
                want(item, &format!("{ptr}/{j}"), "a string", item.is_string())?;
            }
        }
    }
    Ok(())
}

/// Escape a key for use in a JSON Pointer (RFC 6901).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
