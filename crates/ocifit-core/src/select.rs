//! The matcher: compatibility of one entry (§4), ranking (§5) and the
//! legacy choice (§6). Pure functions of (index, target, table).

use std::cmp::{Ordering, Reverse};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use crate::index::{Entries, Entry, EntryPlatform};
use crate::platform::{normalize_arch, normalize_os};
use crate::table::{Family, FeatureId, FeatureSet, FeatureTable};
use crate::target::Target;
use crate::vector::{ArchVariant, fallback_vector};
use crate::windows;

/// Why an entry cannot run on the target. Each has a stable code (§4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    NoPlatform,
    OsMismatch {
        entry: String,
        target: String,
    },
    ArchMismatch {
        entry: String,
        target: String,
    },
    VariantUnsupported {
        entry: String,
        target: String,
    },
    OsVersionMismatch {
        entry: String,
        target: String,
    },
    OsFeatureUnsupported {
        feature: String,
    },
    FeatureUnknown {
        feature: String,
        hint: Option<String>,
    },
    /// `implied_by`: the listed feature whose closure holds `feature`, when
    /// `feature` itself is not listed (§4.6).
    FeatureUnsupported {
        feature: String,
        implied_by: Option<String>,
    },
    /// §4.7: not `algorithm:encoded` as the image-spec defines it.
    DigestInvalid {
        digest: String,
    },
}

impl Reason {
    /// The code used in JSON output; relied on by scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NoPlatform => "no-platform",
            Reason::OsMismatch { .. } => "os-mismatch",
            Reason::ArchMismatch { .. } => "arch-mismatch",
            Reason::VariantUnsupported { .. } => "variant-unsupported",
            Reason::OsVersionMismatch { .. } => "os-version-mismatch",
            Reason::OsFeatureUnsupported { .. } => "os-feature-unsupported",
            Reason::FeatureUnknown { .. } => "feature-unknown",
            Reason::FeatureUnsupported { .. } => "feature-unsupported",
            Reason::DigestInvalid { .. } => "digest-invalid",
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a reason always serializes")
    }
}

/// `{"code", "message", ...the reason's own fields}`.
impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("code", self.code())?;
        map.serialize_key("message")?;
        map.serialize_value(&Message(self))?;
        match self {
            Reason::NoPlatform => {}
            Reason::OsMismatch { entry, target }
            | Reason::ArchMismatch { entry, target }
            | Reason::VariantUnsupported { entry, target }
            | Reason::OsVersionMismatch { entry, target } => {
                map.serialize_entry("entry", entry)?;
                map.serialize_entry("target", target)?;
            }
            Reason::OsFeatureUnsupported { feature } => {
                map.serialize_entry("feature", feature)?;
            }
            Reason::FeatureUnsupported { feature, implied_by } => {
                map.serialize_entry("feature", feature)?;
                if let Some(by) = implied_by {
                    map.serialize_entry("impliedBy", by)?;
                }
            }
            Reason::DigestInvalid { digest } => {
                map.serialize_entry("digest", digest)?;
            }
            Reason::FeatureUnknown { feature, hint } => {
                map.serialize_entry("feature", feature)?;
                if let Some(h) = hint {
                    map.serialize_entry("hint", h)?;
                }
            }
        }
        map.end()
    }
}

/// A reason's message, written without building the string first.
struct Message<'r>(&'r Reason);

impl Serialize for Message<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoPlatform => f.write_str("entry has no platform"),
            Reason::OsMismatch { entry, target } => write!(f, "os {entry} is not {target}"),
            Reason::ArchMismatch { entry, target } => write!(f, "architecture {entry} does not run on {target}"),
            Reason::VariantUnsupported { entry, target } => {
                write!(f, "variant {entry} is newer than the target's {target}")
            }
            Reason::OsVersionMismatch { entry, target } => {
                write!(f, "os.version {entry} does not run on a {target} host")
            }
            Reason::OsFeatureUnsupported { feature } => write!(f, "needs os feature {feature}"),
            Reason::FeatureUnknown { feature, hint } => {
                write!(f, "unknown feature {feature:?}")?;
                if let Some(h) = hint {
                    write!(f, " ({h})")?;
                }
                Ok(())
            }
            Reason::FeatureUnsupported { feature, implied_by: None } => {
                write!(f, "needs {feature}, which the target lacks")
            }
            Reason::FeatureUnsupported { feature, implied_by: Some(by) } => {
                write!(f, "needs {feature} (implied by {by}), which the target lacks")
            }
            Reason::DigestInvalid { digest } => {
                write!(f, "digest {digest:?} is not a valid digest ({})", digest_problem(digest))
            }
        }
    }
}

/// One entry's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub index: usize,
    pub reasons: Vec<Reason>,
}

/// A compatible entry and what ranks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub index: usize,
    /// Position of its architecture/variant in the target's fallback vector.
    pub vector_position: usize,
    /// Size of the closure of the CPU features it lists (§5.3; all supported).
    pub feature_count: usize,
    pub os_feature_count: usize,
}

/// The outcome of [`select`]: every entry is either a candidate or rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Compatible entries, best first.
    pub candidates: Vec<Candidate>,
    /// Incompatible entries, in index order.
    pub rejected: Vec<Rejection>,
}

impl Selection {
    /// The position of the best entry.
    pub fn selected(&self) -> Option<usize> {
        self.candidates.first().map(|c| c.index)
    }
}

/// The target-side data every entry is checked against, computed once.
struct Prepared<'t> {
    target: &'t Target,
    vector: Vec<ArchVariant>,
}

impl<'t> Prepared<'t> {
    fn new(target: &'t Target) -> Self {
        let p = &target.platform;
        Prepared { target, vector: fallback_vector(&p.architecture, &p.variant) }
    }

    /// §4.1–4.5: everything but CPU features. Returns the vector position.
    fn check_platform(&self, entry: &Entry<'_>, reasons: &mut Vec<Reason>) -> Option<usize> {
        let Some(p) = entry.platform else {
            reasons.push(Reason::NoPlatform);
            return None;
        };
        let t = &self.target.platform;
        if p.os != t.os && normalize_os(p.os) != t.os {
            reasons.push(Reason::OsMismatch { entry: p.os.into(), target: t.os.clone() });
        }
        let position = self.vector_position(&p);
        if position.is_none() {
            let (arch, variant) = normalize_arch(p.architecture, p.variant);
            let shown = if variant.is_empty() { arch.clone() } else { format!("{arch}/{variant}") };
            if arch == t.architecture {
                let target_variant = if t.variant.is_empty() { "(none)".to_string() } else { t.variant.clone() };
                reasons.push(Reason::VariantUnsupported { entry: shown, target: target_variant });
            } else {
                reasons.push(Reason::ArchMismatch { entry: shown, target: t.short_arch() });
            }
        }
        if t.os == "windows"
            && !p.os_version.is_empty()
            && !t.os_version.is_empty()
            && !windows::host_runs(&t.os_version, p.os_version)
        {
            reasons.push(Reason::OsVersionMismatch { entry: p.os_version.into(), target: t.os_version.clone() });
        }
        for feature in p.os_features() {
            let ignored = feature.is_empty() || (t.os == "windows" && feature == "win32k");
            if !ignored && !t.os_features.iter().any(|f| f == feature) {
                let feature = feature.to_string();
                if !reasons.iter().any(|r| matches!(r, Reason::OsFeatureUnsupported { feature: f } if *f == feature)) {
                    reasons.push(Reason::OsFeatureUnsupported { feature });
                }
            }
        }
        position
    }

    fn vector_position(&self, p: &EntryPlatform<'_>) -> Option<usize> {
        let exact = self.vector.iter().position(|av| av.architecture == p.architecture && av.variant == p.variant);
        exact.or_else(|| {
            let (arch, variant) = normalize_arch(p.architecture, p.variant);
            self.vector.iter().position(|av| av.architecture == arch && av.variant == variant)
        })
    }
}

trait ShortArch {
    fn short_arch(&self) -> String;
}

impl ShortArch for crate::platform::Platform {
    fn short_arch(&self) -> String {
        if self.variant.is_empty() {
            self.architecture.clone()
        } else {
            format!("{}/{}", self.architecture, self.variant)
        }
    }
}

/// Feature names already looked up in this selection, per architecture:
/// real indexes repeat a handful of names thousands of times, and a hashed
/// hit costs a fraction of a table lookup.
#[derive(Default)]
struct Lookups<'a> {
    by_arch: Vec<(&'a str, NameCache<'a>)>,
}

type NameCache<'a> = HashMap<&'a str, Option<FeatureId>, BuildHasherDefault<Fnv>>;

/// Names in the cache per architecture: enough for every feature of the
/// biggest family, small enough that a hostile index cannot grow it.
const LOOKUP_CACHE: usize = 4096;

impl<'a> Lookups<'a> {
    fn canonical(&mut self, table: FeatureTable, architecture: &'a str, name: &'a str) -> Option<FeatureId> {
        let slot = match self.by_arch.iter().position(|(a, _)| *a == architecture) {
            Some(i) => i,
            None => {
                self.by_arch.push((architecture, HashMap::default()));
                self.by_arch.len() - 1
            }
        };
        let cache = &mut self.by_arch[slot].1;
        if let Some(id) = cache.get(name) {
            return *id;
        }
        let id = if Family::of(architecture).is_some() {
            table.canonical(architecture, name)
        } else {
            table.canonical(&normalize_arch(architecture, "").0, name)
        };
        if cache.len() < LOOKUP_CACHE {
            cache.insert(name, id);
        }
        id
    }
}

/// FNV-1a: feature names are short and not attacker-chosen keys for a
/// long-lived map (the cache lives for one selection and is bounded).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// §4.6: the CPU features of an entry, checked against the table for the
/// entry's architecture, and their closure against the target's set.
/// Returns the size of the closure (what §5.3 ranks by).
fn check_features<'a>(
    table: FeatureTable,
    lookups: &mut Lookups<'a>,
    entry: &EntryPlatform<'a>,
    target: &FeatureSet,
    reasons: &mut Vec<Reason>,
) -> usize {
    let mut seen = FeatureSet::new();
    let mut unknown: Vec<&str> = Vec::new();
    for name in entry.features() {
        match lookups.canonical(table, entry.architecture, name) {
            Some(id) => {
                if seen.insert(id) && !target.contains(id) {
                    reasons.push(Reason::FeatureUnsupported { feature: name.into(), implied_by: None });
                }
            }
            None => {
                // At most MAX_FEATURES_PER_ENTRY names, so this stays cheap.
                if !unknown.contains(&name) {
                    unknown.push(name);
                    let arch = normalize_arch(entry.architecture, "").0;
                    reasons
                        .push(Reason::FeatureUnknown { feature: name.into(), hint: unknown_hint(table, &arch, name) });
                }
            }
        }
    }
    let closure = seen.closure();
    let mut missing = closure;
    missing.subtract(&seen);
    missing.subtract(target);
    if !missing.is_empty() {
        // Name each implied feature once, after the first listed feature
        // implying it that the target has (a listed feature the target lacks
        // is reason enough, without what it implies).
        for name in entry.features() {
            let Some(id) = lookups.canonical(table, entry.architecture, name).filter(|id| target.contains(*id)) else {
                continue;
            };
            for implied in id.feature().implied {
                if missing.contains(*implied) {
                    missing.remove(*implied);
                    reasons.push(Reason::FeatureUnsupported {
                        feature: implied.feature().name.into(),
                        implied_by: Some(name.into()),
                    });
                }
            }
        }
    }
    closure.len()
}

/// §4.7: `algorithm:encoded` as the image-spec defines it: algorithm
/// `[a-z0-9]+([+._-][a-z0-9]+)*`, encoded `[a-zA-Z0-9=_-]+`, and for the
/// registered `sha256` and `sha512` exactly 64 or 128 lowercase hex digits.
pub fn digest_is_valid(digest: &str) -> bool {
    // The common case in one pass: a well-formed sha256 digest.
    if let Some(hex) = digest.strip_prefix("sha256:") {
        return hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    }
    digest_problem_of(digest).is_none()
}

fn digest_problem(digest: &str) -> &'static str {
    digest_problem_of(digest).unwrap_or("valid")
}

fn digest_problem_of(digest: &str) -> Option<&'static str> {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return Some("no ':' between algorithm and encoded");
    };
    let component = |c: &str| !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !algorithm.split(['+', '.', '_', '-']).all(component) {
        return Some("the algorithm is not lowercase letters and digits joined by + . _ -");
    }
    if encoded.is_empty() || !encoded.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-')) {
        return Some("the encoded part is empty or has characters outside a-z A-Z 0-9 = _ -");
    }
    let hex = |n: usize| encoded.len() == n && encoded.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match algorithm {
        "sha256" if !hex(64) => Some("sha256 needs exactly 64 lowercase hex digits"),
        "sha512" if !hex(128) => Some("sha512 needs exactly 128 lowercase hex digits"),
        _ => None,
    }
}

/// What an unknown name in an index probably meant: an alias, another
/// architecture's feature, or nothing ocifit knows.
pub fn unknown_hint(table: FeatureTable, architecture: &str, name: &str) -> Option<String> {
    if let Some(family) = Family::of(architecture) {
        if let Some(id) = table.resolve(family, name) {
            let f = id.feature();
            if f.valid_for(architecture) {
                return Some(format!("indexes must use the canonical name {:?}", f.name));
            }
            return Some(format!("{:?} is not valid on {architecture}", f.name));
        }
    }
    let families: Vec<Family> = table.resolve_anywhere(name).iter().map(|id| id.feature().family).collect();
    if let Some(first) = families.first() {
        let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
        return Some(format!("{} {} feature, not {architecture}", crate::target::article(*first), names.join("/")));
    }
    None
}

/// Whether CPU features take part in selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// §4–§5: what a features-aware runtime does.
    Features,
    /// §6: what a runtime that ignores `features` does.
    Legacy,
}

/// Every entry's verdict and the compatible entries ranked (§4, §5).
pub fn select<E: Entries + ?Sized>(index: &E, target: &Target, table: FeatureTable) -> Selection {
    select_with(index, target, table, Mode::Features)
}

/// §6: what a runtime that ignores `features` (containerd, CRI-O, podman,
/// skopeo today) picks: the best entry by platform alone.
pub fn legacy_select<E: Entries + ?Sized>(index: &E, target: &Target) -> Selection {
    select_with(index, target, FeatureTable::builtin(), Mode::Legacy)
}

pub fn select_with<E: Entries + ?Sized>(index: &E, target: &Target, table: FeatureTable, mode: Mode) -> Selection {
    let prepared = Prepared::new(target);
    let mut lookups = Lookups::default();
    let mut candidates = Vec::new();
    let mut rejected = Vec::new();
    for entry in (0..index.len()).filter_map(|i| index.entry(i)) {
        let mut reasons = Vec::new();
        let position = prepared.check_platform(&entry, &mut reasons);
        let feature_count = match (entry.platform, mode) {
            (Some(p), Mode::Features) => check_features(table, &mut lookups, &p, &target.features, &mut reasons),
            _ => 0,
        };
        if mode == Mode::Features && !digest_is_valid(entry.digest) {
            reasons.push(Reason::DigestInvalid { digest: entry.digest.into() });
        }
        let os_feature_count = entry.platform.map_or(0, |p| p.os_features().count());
        match position {
            Some(vector_position) if reasons.is_empty() => {
                candidates.push(Candidate { index: entry.index, vector_position, feature_count, os_feature_count })
            }
            _ => rejected.push(Rejection { index: entry.index, reasons }),
        }
    }
    rank(index, target, &mut candidates);
    Selection { candidates, rejected }
}

/// §5: vector position; for Windows the highest os.version; the most
/// features; the most os.features (containerd's tie-break, see
/// docs/semantics.md); the earliest position. A stable, total order.
/// In legacy mode the CPU feature count is zero, which leaves containerd's order.
fn rank<E: Entries + ?Sized>(index: &E, target: &Target, candidates: &mut [Candidate]) {
    let windows = target.platform.os == "windows";
    let os_version = |i: usize| index.entry(i).and_then(|e| e.platform).map_or("", |p| p.os_version);
    candidates.sort_by(|a, b| {
        a.vector_position
            .cmp(&b.vector_position)
            .then_with(|| {
                if windows { windows::compare(os_version(b.index), os_version(a.index)) } else { Ordering::Equal }
            })
            .then_with(|| Reverse(a.feature_count).cmp(&Reverse(b.feature_count)))
            .then_with(|| Reverse(a.os_feature_count).cmp(&Reverse(b.os_feature_count)))
            .then_with(|| a.index.cmp(&b.index))
    });
}

impl Selection {
    /// §8's `select --format json` shape, as a `Value`.
    pub fn to_json<E: Entries + ?Sized>(&self, index: &E, target: &Target) -> Value {
        serde_json::to_value(self.report(index, target)).expect("a report always serializes")
    }

    /// §8's `select --format json` shape, serialized straight from the
    /// index (a 20,000-entry report never exists as a `Value`).
    pub fn report<'s, E: Entries + ?Sized>(&'s self, index: &'s E, target: &'s Target) -> Report<'s, E> {
        Report { selection: self, index, target }
    }
}

/// See [`Selection::report`].
pub struct Report<'s, E: ?Sized> {
    selection: &'s Selection,
    index: &'s E,
    target: &'s Target,
}

impl<E: Entries + ?Sized> Serialize for Report<'_, E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entry = |i: usize| self.index.entry(i).expect("selection indexes come from the index");
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("target", &self.target.to_json())?;
        map.serialize_entry(
            "selected",
            &self.selection.selected().map(|i| Described { entry: entry(i), extra: None }),
        )?;
        map.serialize_entry(
            "candidates",
            &Each(
                self.selection
                    .candidates
                    .iter()
                    .map(|c| Described { entry: entry(c.index), extra: Some(Extra::Rank(c)) }),
            ),
        )?;
        map.serialize_entry(
            "rejected",
            &Each(
                self.selection
                    .rejected
                    .iter()
                    .map(|r| Described { entry: entry(r.index), extra: Some(Extra::Reasons(&r.reasons)) }),
            ),
        )?;
        map.end()
    }
}

/// A sequence written from an iterator (which `Serialize` needs to clone).
struct Each<I>(I);

impl<I: Iterator<Item = T> + Clone, T: Serialize> Serialize for Each<I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let items = self.0.clone();
        let mut seq = s.serialize_seq(None)?;
        for item in items {
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

/// A descriptor summary: the entry's own fields as written, then what the
/// selection says of it.
struct Described<'a, 's> {
    entry: Entry<'a>,
    extra: Option<Extra<'s>>,
}

enum Extra<'s> {
    Rank(&'s Candidate),
    Reasons(&'s [Reason]),
}

impl Serialize for Described<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = &self.entry;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("index", &e.index)?;
        map.serialize_entry("digest", e.digest)?;
        map.serialize_entry("mediaType", e.media_type)?;
        map.serialize_entry("size", &e.size)?;
        if let Some(p) = &e.platform {
            map.serialize_entry("platform", &p.raw)?;
        }
        match self.extra {
            None => {}
            Some(Extra::Rank(c)) => {
                map.serialize_entry("rank", &Rank(c))?;
            }
            Some(Extra::Reasons(reasons)) => map.serialize_entry("reasons", reasons)?,
        }
        map.end()
    }
}

struct Rank<'s>(&'s Candidate);

impl Serialize for Rank<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("vectorPosition", &self.0.vector_position)?;
        map.serialize_entry("features", &self.0.feature_count)?;
        map.end()
    }
}
