//! The index model: an OCI image index or Docker manifest list, kept as the
//! JSON document it was read from, with a checked, typed read view on top.
//!
//! The document (serde_json with `preserve_order`) is the source of truth:
//! commands that rewrite an index edit it and never re-serialize typed
//! structs, so unknown keys, annotations and key order survive.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Local inputs above this size are refused before parsing.
pub const MAX_INDEX_BYTES: usize = 64 * 1024 * 1024;
/// More `features` (or `os.features`) than this in one entry is not an index
/// anyone wrote by hand or by tool; it is refused rather than matched slowly.
pub const MAX_FEATURES_PER_ENTRY: usize = 1024;
/// Longest feature or os.feature name accepted (the longest real one is ~25).
pub const MAX_FEATURE_NAME_BYTES: usize = 256;

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
        // One pass: each entry is checked right after it is parsed, while
        // its maps are still in cache (a second walk over a big index costs
        // as much as selecting from it).
        let mut first_entry_error = None;
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let document = serde::de::DeserializeSeed::deserialize(
            one_pass::TopSeed { first_entry_error: &mut first_entry_error },
            &mut de,
        )
        .and_then(|doc| de.end().map(|_| doc))
        .map_err(|e| IndexError {
            pointer: String::new(),
            problem: json_problem(&e),
            kind: IndexErrorKind::Json,
        })?;
        check_top(&document)?;
        if let Some(e) = first_entry_error {
            return Err(e);
        }
        Ok(Index { document })
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

    /// Entry `index`'s descriptor object as written, for lossless copies.
    pub fn raw_entry(&self, index: usize) -> Option<&Map<String, Value>> {
        self.manifests().get(index).and_then(Value::as_object)
    }
}

/// Read access to the entries of an index, whichever way it was parsed:
/// the matcher only needs this, so it runs on an editable [`Index`] and on
/// a read-only [`crate::view::IndexView`] alike.
pub trait Entries {
    fn len(&self) -> usize;
    fn entry(&self, index: usize) -> Option<Entry<'_>>;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Entries for Index {
    fn len(&self) -> usize {
        Index::len(self)
    }
    fn entry(&self, index: usize) -> Option<Entry<'_>> {
        Index::entry(self, index)
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
}

/// A list of names (`features`, `os.features`), as held by either parser.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Names<'a> {
    Values(&'a [Value]),
    Text(&'a [Cow<'a, str>]),
}

impl<'a> Names<'a> {
    const EMPTY: Names<'static> = Names::Text(&[]);

    fn iter(self) -> NamesIter<'a> {
        match self {
            Names::Values(v) => NamesIter::Values(v.iter()),
            Names::Text(t) => NamesIter::Text(t.iter()),
        }
    }

    fn len(self) -> usize {
        match self {
            Names::Values(v) => v.len(),
            Names::Text(t) => t.len(),
        }
    }
}

pub(crate) enum NamesIter<'a> {
    Values(std::slice::Iter<'a, Value>),
    Text(std::slice::Iter<'a, Cow<'a, str>>),
}

impl<'a> Iterator for NamesIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        match self {
            // Checked: every element is a string.
            NamesIter::Values(v) => v.next().map(|v| v.as_str().unwrap_or_default()),
            NamesIter::Text(t) => t.next().map(|c| c.as_ref()),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            NamesIter::Values(v) => v.size_hint(),
            NamesIter::Text(t) => t.size_hint(),
        }
    }
}

impl ExactSizeIterator for NamesIter<'_> {}

/// An entry's `platform` object exactly as written, for output: key order
/// and unknown keys kept.
#[derive(Debug, Clone, Copy)]
pub enum RawPlatform<'a> {
    Document(&'a Map<String, Value>),
    Text(&'a RawValue),
}

impl RawPlatform<'_> {
    pub fn to_value(&self) -> Value {
        match self {
            RawPlatform::Document(m) => Value::Object((*m).clone()),
            RawPlatform::Text(raw) => serde_json::from_str(raw.get()).expect("checked: the platform parsed before"),
        }
    }
}

impl Serialize for RawPlatform<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RawPlatform::Document(m) => m.serialize(s),
            // Re-read the small object straight into the output, so the
            // caller's formatting applies and nothing is allocated.
            RawPlatform::Text(raw) => {
                let mut de = serde_json::Deserializer::from_str(raw.get());
                serde_transcode::transcode(&mut de, s)
            }
        }
    }
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
    pub(crate) os_features: Names<'a>,
    pub(crate) features: Option<Names<'a>>,
    pub raw: RawPlatform<'a>,
}

impl<'a> EntryPlatform<'a> {
    pub fn os_features(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        self.os_features.iter()
    }

    /// `features` as written (duplicates and all); empty when absent.
    pub fn features(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        self.features.unwrap_or(Names::EMPTY).iter()
    }

    /// Whether `features` is present and non-empty: an entry without
    /// features is the fallback of its os/architecture/variant.
    pub fn has_features(&self) -> bool {
        self.features.is_some_and(|f| f.len() > 0)
    }
}

impl<'a> Entry<'a> {
    fn view(index: usize, value: &'a Value) -> Entry<'a> {
        // Shapes were checked by `check`, so these reads cannot fail. One
        // pass over the (small) maps is much cheaper than a hashed lookup per key.
        let raw = value.as_object().expect("checked: entry is an object");
        let mut entry = Entry { index, media_type: "", digest: "", size: 0, platform: None };
        for (key, v) in raw {
            match key.as_str() {
                "mediaType" => entry.media_type = v.as_str().unwrap_or_default(),
                "digest" => entry.digest = v.as_str().unwrap_or_default(),
                "size" => entry.size = v.as_u64().unwrap_or_default(),
                "platform" => entry.platform = v.as_object().map(EntryPlatform::view),
                _ => {}
            }
        }
        entry
    }
}

impl<'a> EntryPlatform<'a> {
    fn view(raw: &'a Map<String, Value>) -> EntryPlatform<'a> {
        let mut p = EntryPlatform {
            os: "",
            architecture: "",
            variant: "",
            os_version: "",
            os_features: Names::EMPTY,
            features: None,
            raw: RawPlatform::Document(raw),
        };
        for (key, v) in raw {
            match key.as_str() {
                "os" => p.os = v.as_str().unwrap_or_default(),
                "architecture" => p.architecture = v.as_str().unwrap_or_default(),
                "variant" => p.variant = v.as_str().unwrap_or_default(),
                "os.version" => p.os_version = v.as_str().unwrap_or_default(),
                "os.features" => p.os_features = v.as_array().map_or(Names::EMPTY, |a| Names::Values(a)),
                "features" => p.features = v.as_array().map(|a| Names::Values(a)),
                _ => {}
            }
        }
        p
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

/// Check that `v` has the right shape; the pointer is only built on failure,
/// so checking a big index allocates nothing.
fn want<'v>(v: &'v Value, pointer: impl Fn() -> String, what: &str, ok: bool) -> Result<&'v Value, IndexError> {
    if ok { Ok(v) } else { Err(shape(pointer(), format!("must be {what}, not {}", type_name(v)))) }
}

fn check(document: &Value) -> Result<(), IndexError> {
    for (i, entry) in check_top(document)?.iter().enumerate() {
        check_entry(i, entry)?;
    }
    Ok(())
}

/// Everything but the entries themselves; returns the entries.
fn check_top(document: &Value) -> Result<&[Value], IndexError> {
    let top = document
        .as_object()
        .ok_or_else(|| shape("", format!("an index must be a JSON object, not {}", type_name(document))))?;
    if let Some(mt) = top.get("mediaType") {
        let mt = want(mt, || "/mediaType".into(), "a string", mt.is_string())?.as_str().unwrap_or_default();
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
        Some(m) => want(m, || "/manifests".into(), "an array", m.is_array())?.as_array().unwrap(),
        None if top.contains_key("layers") || top.contains_key("config") => {
            return Err(IndexError {
                pointer: String::new(),
                problem: "this is an image manifest, not an index".into(),
                kind: IndexErrorKind::ImageManifest,
            });
        }
        None => return Err(shape("", "not an index: no \"manifests\" array")),
    };
    Ok(manifests)
}

fn check_entry(i: usize, entry: &Value) -> Result<(), IndexError> {
    let at = || format!("/manifests/{i}");
    let obj = want(entry, at, "an object", entry.is_object())?.as_object().unwrap();
    let mut found = [false; 3];
    let mut platform = None;
    for (key, v) in obj {
        match key.as_str() {
            "mediaType" | "digest" => {
                found[usize::from(key == "digest")] = true;
                want(v, || format!("{}/{key}", at()), "a string", v.is_string())?;
            }
            "size" => {
                found[2] = true;
                if v.as_u64().is_none() {
                    return Err(shape(format!("{}/size", at()), format!("must be a non-negative integer, not {v}")));
                }
            }
            "platform" => platform = Some(v),
            _ => {}
        }
    }
    for (present, key) in found.iter().zip(["mediaType", "digest", "size"]) {
        if !present {
            return Err(shape(at(), format!("descriptor has no \"{key}\"")));
        }
    }
    let Some(platform) = platform else { return Ok(()) };
    let at = || format!("/manifests/{i}/platform");
    let p = want(platform, at, "an object", platform.is_object())?.as_object().unwrap();
    let mut found = [false; 2];
    for (key, v) in p {
        match key.as_str() {
            "os" | "architecture" | "variant" | "os.version" => {
                if key == "os" || key == "architecture" {
                    found[usize::from(key == "architecture")] = true;
                }
                want(v, || format!("{}/{}", at(), escape(key)), "a string", v.is_string())?;
            }
            "os.features" | "features" => {
                let ptr = || format!("{}/{}", at(), escape(key));
                let items = want(v, ptr, "an array of strings", v.is_array())?.as_array().unwrap();
                if items.len() > MAX_FEATURES_PER_ENTRY {
                    return Err(shape(
                        ptr(),
                        format!("{} names, more than the {MAX_FEATURES_PER_ENTRY} allowed", items.len()),
                    ));
                }
                for (j, item) in items.iter().enumerate() {
                    let name = want(item, || format!("{}/{j}", ptr()), "a string", item.is_string())?;
                    let len = name.as_str().map_or(0, str::len);
                    if len > MAX_FEATURE_NAME_BYTES {
                        return Err(shape(
                            format!("{}/{j}", ptr()),
                            format!("a {len}-byte name, longer than the {MAX_FEATURE_NAME_BYTES} allowed"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    for (present, key) in found.iter().zip(["os", "architecture"]) {
        if !present {
            return Err(shape(at(), format!("platform has no \"{key}\"")));
        }
    }
    Ok(())
}

/// Escape a key for use in a JSON Pointer (RFC 6901).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Deserializing an index into a `Value` while checking each entry as soon
/// as it is built. Everything else deserializes exactly as `Value` does.
mod one_pass {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    use super::{IndexError, check_entry};

    pub struct TopSeed<'e> {
        pub first_entry_error: &'e mut Option<IndexError>,
    }

    impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for TopSeed<'_> {
        type Value = Value;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
            let mut map = Map::new();
            while let Some(key) = access.next_key::<String>()? {
                let value = if key == "manifests" {
                    // A repeated key replaces the earlier value: so do its checks.
                    *self.first_entry_error = None;
                    access.next_value_seed(ManifestsSeed { first_entry_error: &mut *self.first_entry_error })?
                } else {
                    access.next_value()?
                };
                map.insert(key, value);
            }
            Ok(Value::Object(map))
        }
        forward_to_value!();
    }

    struct ManifestsSeed<'e> {
        first_entry_error: &'e mut Option<IndexError>,
    }

    impl<'de> DeserializeSeed<'de> for ManifestsSeed<'_> {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for ManifestsSeed<'_> {
        type Value = Value;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
            let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0));
            while let Some(entry) = access.next_element::<Value>()? {
                if self.first_entry_error.is_none() {
                    if let Err(e) = check_entry(entries.len(), &entry) {
                        *self.first_entry_error = Some(e);
                    }
                }
                entries.push(entry);
            }
            Ok(Value::Array(entries))
        }
        fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Value, A::Error> {
            serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(access))
        }
        forward_scalars!();
    }

    /// The scalar and sequence cases, built as `Value` builds them.
    macro_rules! forward_scalars {
        () => {
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::from(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(Value::from(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::from(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Value, E> {
                Ok(Value::String(v))
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
        };
    }

    macro_rules! forward_to_value {
        () => {
            forward_scalars!();
            fn visit_seq<A: SeqAccess<'de>>(self, access: A) -> Result<Value, A::Error> {
                serde::Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(access))
            }
        };
    }

    use {forward_scalars, forward_to_value};
}
