//! A read-only index parsed straight from its bytes, for commands that
//! only read (`select`, `resolve`).
//!
//! Building the [`Index`] document costs a map and a string allocation for
//! every key and value of every entry; on a 20,000-entry index that is most
//! of the time `select` takes. [`IndexView`] instead reads only what
//! selection needs into borrowed strings, skips everything else without
//! allocating, and keeps each `platform` as its raw JSON text for output.
//!
//! It accepts exactly what [`Index::from_slice`] accepts: the fast reader
//! applies the same checks, and whenever it declines (any error, a repeated
//! key, deep nesting) the bytes go through [`Index::from_slice`], whose
//! answer (an index or the error with its JSON pointer) is then the answer.
//! So errors are reported in one place, and a rare odd document costs a
//! second parse rather than a different verdict.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::index::{
    DOCKER_LIST, Entries, Entry, EntryPlatform, Index, IndexError, MAX_FEATURE_NAME_BYTES, MAX_FEATURES_PER_ENTRY,
    MAX_INDEX_BYTES, Names, OCI_INDEX, RawPlatform,
};

/// An index for reading; see the module documentation.
pub struct IndexView<'a> {
    repr: Repr<'a>,
}

enum Repr<'a> {
    Parsed(Parsed<'a>),
    Document(Index),
}

impl<'a> IndexView<'a> {
    /// Parse and check `bytes`, with the limits and errors of [`Index::from_slice`].
    pub fn parse(bytes: &'a [u8]) -> Result<IndexView<'a>, IndexError> {
        let fast = if bytes.len() <= MAX_INDEX_BYTES { parse(bytes) } else { None };
        let repr = match fast {
            Some(parsed) => Repr::Parsed(parsed),
            None => Repr::Document(Index::from_slice(bytes)?),
        };
        Ok(IndexView { repr })
    }

    /// Whether the fast reader took the document (for tests and benchmarks).
    pub fn is_fast(&self) -> bool {
        matches!(self.repr, Repr::Parsed(_))
    }

    /// The top-level `mediaType`, when present.
    pub fn media_type(&self) -> Option<&str> {
        match &self.repr {
            Repr::Parsed(p) => p.media_type.as_deref(),
            Repr::Document(d) => d.media_type(),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Parsed(p) => p.entries.len(),
            Repr::Document(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn entry(&self, index: usize) -> Option<Entry<'_>> {
        match &self.repr {
            Repr::Parsed(p) => p.entries.get(index).map(|e| e.view(index, &p.names)),
            Repr::Document(d) => d.entry(index),
        }
    }

    pub fn entries(&self) -> impl ExactSizeIterator<Item = Entry<'_>> + '_ {
        (0..self.len()).map(|i| self.entry(i).expect("index within len"))
    }
}

impl Entries for IndexView<'_> {
    fn len(&self) -> usize {
        IndexView::len(self)
    }
    fn entry(&self, index: usize) -> Option<Entry<'_>> {
        IndexView::entry(self, index)
    }
}

struct Parsed<'a> {
    media_type: Option<Cow<'a, str>>,
    entries: Vec<ParsedEntry<'a>>,
    /// Every entry's `features` and `os.features`, end to end.
    names: Vec<Cow<'a, str>>,
}

struct ParsedEntry<'a> {
    media_type: Cow<'a, str>,
    digest: Cow<'a, str>,
    size: u64,
    platform: Option<ParsedPlatform<'a>>,
}

struct ParsedPlatform<'a> {
    os: Cow<'a, str>,
    architecture: Cow<'a, str>,
    variant: Cow<'a, str>,
    os_version: Cow<'a, str>,
    os_features: Range<usize>,
    features: Option<Range<usize>>,
    raw: &'a RawValue,
}

impl<'a> ParsedEntry<'a> {
    fn view<'v>(&'v self, index: usize, names: &'v [Cow<'a, str>]) -> Entry<'v> {
        Entry {
            index,
            media_type: &self.media_type,
            digest: &self.digest,
            size: self.size,
            platform: self.platform.as_ref().map(|p| EntryPlatform {
                os: &p.os,
                architecture: &p.architecture,
                variant: &p.variant,
                os_version: &p.os_version,
                os_features: Names::Text(&names[p.os_features.clone()]),
                features: p.features.clone().map(|r| Names::Text(&names[r])),
                raw: RawPlatform::Text(p.raw),
            }),
        }
    }
}

/// The fast reader: `None` whenever it declines.
fn parse(bytes: &[u8]) -> Option<Parsed<'_>> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut names = Vec::new();
    let (media_type, entries) = (&mut de).deserialize_map(TopVisitor { names: &mut names }).ok()?;
    de.end().ok()?;
    Some(Parsed { media_type, entries, names })
}

/// Why the fast reader declined; never shown (the fallback reports).
fn decline<E: de::Error>() -> E {
    E::custom("declined")
}

/// How deep unknown values may nest before the fast reader leaves the
/// document to [`Index::from_slice`] and its recursion limit.
const MAX_SKIP_DEPTH: usize = 32;

/// A string, borrowed from the input when it has no escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any JSON value, checked as `Value` would check it (numbers in range,
/// valid strings) but not kept.
struct Skip {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.depth > MAX_SKIP_DEPTH {
            return Err(decline());
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip { depth: self.depth + 1 })?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Skip { depth: self.depth + 1 })?;
        }
        Ok(())
    }
}

/// Set `slot` once; a repeated key declines (`Value` would keep the last
/// one, and the fallback does exactly that).
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
    if slot.replace(value).is_some() { Err(decline()) } else { Ok(()) }
}

struct TopVisitor<'n, 'a> {
    names: &'n mut Vec<Cow<'a, str>>,
}

type Top<'a> = (Option<Cow<'a, str>>, Vec<ParsedEntry<'a>>);

impl<'a> Visitor<'a> for TopVisitor<'_, 'a> {
    type Value = Top<'a>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an index")
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<Top<'a>, A::Error> {
        let mut media_type = None;
        let mut schema_version = None;
        let mut entries = None;
        while let Some(key) = map.next_key::<Str<'a>>()? {
            match key.0.as_ref() {
                "mediaType" => {
                    let Str(mt) = map.next_value()?;
                    if mt != OCI_INDEX && mt != DOCKER_LIST {
                        return Err(decline());
                    }
                    once(&mut media_type, mt)?;
                }
                "schemaVersion" => {
                    if map.next_value::<u64>()? != 2 {
                        return Err(decline());
                    }
                    once(&mut schema_version, ())?;
                }
                "manifests" => {
                    let list = map.next_value_seed(ManifestsSeed { names: &mut *self.names })?;
                    once(&mut entries, list)?;
                }
                _ => map.next_value_seed(Skip { depth: 1 })?,
            }
        }
        Ok((media_type, entries.ok_or_else(decline)?))
    }
}

struct ManifestsSeed<'n, 'a> {
    names: &'n mut Vec<Cow<'a, str>>,
}

impl<'a> DeserializeSeed<'a> for ManifestsSeed<'_, 'a> {
    type Value = Vec<ParsedEntry<'a>>;
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'a> Visitor<'a> for ManifestsSeed<'_, 'a> {
    type Value = Vec<ParsedEntry<'a>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of descriptors")
    }
    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(entry) = seq.next_element_seed(EntrySeed { names: &mut *self.names })? {
            entries.push(entry);
        }
        Ok(entries)
    }
}

struct EntrySeed<'n, 'a> {
    names: &'n mut Vec<Cow<'a, str>>,
}

impl<'a> DeserializeSeed<'a> for EntrySeed<'_, 'a> {
    type Value = ParsedEntry<'a>;
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'a> Visitor<'a> for EntrySeed<'_, 'a> {
    type Value = ParsedEntry<'a>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a descriptor")
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut media_type, mut digest, mut size, mut platform) = (None, None, None, None);
        while let Some(key) = map.next_key::<Str<'a>>()? {
            match key.0.as_ref() {
                "mediaType" => once(&mut media_type, map.next_value::<Str<'a>>()?.0)?,
                "digest" => once(&mut digest, map.next_value::<Str<'a>>()?.0)?,
                "size" => once(&mut size, map.next_value::<u64>()?)?,
                "platform" => {
                    let raw: &'a RawValue = map.next_value()?;
                    let parsed = parse_platform(raw, self.names).ok_or_else(decline)?;
                    once(&mut platform, parsed)?;
                }
                _ => map.next_value_seed(Skip { depth: 3 })?,
            }
        }
        Ok(ParsedEntry {
            media_type: media_type.ok_or_else(decline)?,
            digest: digest.ok_or_else(decline)?,
            size: size.ok_or_else(decline)?,
            platform,
        })
    }
}

/// The platform's fields, read again from its raw text (kept for output).
fn parse_platform<'a>(raw: &'a RawValue, names: &mut Vec<Cow<'a, str>>) -> Option<ParsedPlatform<'a>> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    (&mut de).deserialize_map(PlatformVisitor { names, raw }).ok()
}

struct PlatformVisitor<'n, 'a> {
    names: &'n mut Vec<Cow<'a, str>>,
    raw: &'a RawValue,
}

impl<'a> Visitor<'a> for PlatformVisitor<'_, 'a> {
    type Value = ParsedPlatform<'a>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a platform")
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut os, mut architecture, mut variant, mut os_version) = (None, None, None, None);
        let (mut os_features, mut features) = (None, None);
        while let Some(key) = map.next_key::<Str<'a>>()? {
            match key.0.as_ref() {
                "os" => once(&mut os, map.next_value::<Str<'a>>()?.0)?,
                "architecture" => once(&mut architecture, map.next_value::<Str<'a>>()?.0)?,
                "variant" => once(&mut variant, map.next_value::<Str<'a>>()?.0)?,
                "os.version" => once(&mut os_version, map.next_value::<Str<'a>>()?.0)?,
                "os.features" => {
                    let range = map.next_value_seed(NamesSeed { names: &mut *self.names })?;
                    once(&mut os_features, range)?;
                }
                "features" => {
                    let range = map.next_value_seed(NamesSeed { names: &mut *self.names })?;
                    once(&mut features, range)?;
                }
                _ => map.next_value_seed(Skip { depth: 5 })?,
            }
        }
        let empty = self.names.len()..self.names.len();
        Ok(ParsedPlatform {
            os: os.ok_or_else(decline)?,
            architecture: architecture.ok_or_else(decline)?,
            variant: variant.unwrap_or_default(),
            os_version: os_version.unwrap_or_default(),
            os_features: os_features.unwrap_or(empty),
            features,
            raw: self.raw,
        })
    }
}

/// A `features` or `os.features` array, within the index limits.
struct NamesSeed<'n, 'a> {
    names: &'n mut Vec<Cow<'a, str>>,
}

impl<'a> DeserializeSeed<'a> for NamesSeed<'_, 'a> {
    type Value = Range<usize>;
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'a> Visitor<'a> for NamesSeed<'_, 'a> {
    type Value = Range<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of strings")
    }
    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let start = self.names.len();
        while let Some(Str(name)) = seq.next_element::<Str<'a>>()? {
            if name.len() > MAX_FEATURE_NAME_BYTES || self.names.len() - start >= MAX_FEATURES_PER_ENTRY {
                return Err(decline());
            }
            self.names.push(name);
        }
        Ok(start..self.names.len())
    }
}
