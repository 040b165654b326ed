//! The matcher: compatibility of one entry (§4), ranking (§5) and the
//! legacy choice (§6). Pure functions of (index, target, table).

use std::cmp::{Ordering, Reverse};
use std::fmt;

use serde_json::{Map, Value, json};

use crate::index::{Entry, EntryPlatform, Index};
use crate::platform::{normalize_arch, normalize_os};
use crate::table::{Family, FeatureId, FeatureSet, FeatureTable};
use crate::target::Target;
use crate::vector::{ArchVariant, fallback_vector};
use crate::windows;

/// Why an entry cannot run on the target. Each has a stable code (§4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    NoPlatform,
    OsMismatch { entry: String, target: String },
    ArchMismatch { entry: String, target: String },
    VariantUnsupported { entry: String, target: String },
    OsVersionMismatch { entry: String, target: String },
    OsFeatureUnsupported { feature: String },
    FeatureUnknown { feature: String, hint: Option<String> },
    FeatureUnsupported { feature: String },
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
        }
    }

    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("code".into(), json!(self.code()));
        obj.insert("message".into(), json!(self.to_string()));
        match self {
            Reason::NoPlatform => {}
            Reason::OsMismatch { entry, target }
            | Reason::ArchMismatch { entry, target }
            | Reason::VariantUnsupported { entry, target }
            | Reason::OsVersionMismatch { entry, target } => {
                obj.insert("entry".into(), json!(entry));
                obj.insert("target".into(), json!(target));
            }
            Reason::OsFeatureUnsupported { feature } | Reason::FeatureUnsupported { feature } => {
                obj.insert("feature".into(), json!(feature));
            }
            Reason::FeatureUnknown { feature, hint } => {
                obj.insert("feature".into(), json!(feature));
                if let Some(h) = hint {
                    obj.insert("hint".into(), json!(h));
                }
            }
        }
        Value::Object(obj)
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
            Reason::FeatureUnsupported { feature } => write!(f, "needs {feature}, which the target lacks"),
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
    /// Distinct CPU features it requires (all supported).
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
/// real indexes repeat a handful of names thousands of times.
#[derive(Default)]
struct Lookups<'a> {
    seen: Vec<(&'a str, &'a str, Option<FeatureId>)>,
}

impl<'a> Lookups<'a> {
    fn canonical(&mut self, table: FeatureTable, architecture: &'a str, name: &'a str) -> Option<FeatureId> {
        if let Some((_, _, id)) = self.seen.iter().find(|(a, n, _)| *a == architecture && *n == name) {
            return *id;
        }
        let id = if Family::of(architecture).is_some() {
            table.canonical(architecture, name)
        } else {
            table.canonical(&normalize_arch(architecture, "").0, name)
        };
        if self.seen.len() < 256 {
            self.seen.push((architecture, name, id));
        }
        id
    }
}

/// §4.6: the CPU features of an entry, checked against the table for the
/// entry's architecture and the target's set. Returns the distinct count.
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
                    reasons.push(Reason::FeatureUnsupported { feature: name.into() });
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
    seen.len()
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
    let elsewhere: Vec<&str> = table.resolve_anywhere(name).iter().map(|id| id.feature().family.name()).collect();
    if !elsewhere.is_empty() {
        return Some(format!("a {} feature, not {architecture}", elsewhere.join("/")));
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
pub fn select(index: &Index, target: &Target, table: FeatureTable) -> Selection {
    select_with(index, target, table, Mode::Features)
}

/// §6: what a runtime that ignores `features` (containerd, CRI-O, podman,
/// skopeo today) picks: the best entry by platform alone.
pub fn legacy_select(index: &Index, target: &Target) -> Selection {
    select_with(index, target, FeatureTable::builtin(), Mode::Legacy)
}

pub fn select_with(index: &Index, target: &Target, table: FeatureTable, mode: Mode) -> Selection {
    let prepared = Prepared::new(target);
    let mut lookups = Lookups::default();
    let mut candidates = Vec::new();
    let mut rejected = Vec::new();
    for entry in index.entries() {
        let mut reasons = Vec::new();
        let position = prepared.check_platform(&entry, &mut reasons);
        let feature_count = match (entry.platform, mode) {
            (Some(p), Mode::Features) => check_features(table, &mut lookups, &p, &target.features, &mut reasons),
            _ => 0,
        };
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
fn rank(index: &Index, target: &Target, candidates: &mut [Candidate]) {
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

/// A descriptor summary for JSON output: the entry's own fields, as written.
pub fn entry_json(entry: &Entry<'_>) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("index".into(), json!(entry.index));
    obj.insert("digest".into(), json!(entry.digest));
    obj.insert("mediaType".into(), json!(entry.media_type));
    obj.insert("size".into(), json!(entry.size));
    if let Some(p) = entry.platform {
        obj.insert("platform".into(), Value::Object(p.raw.clone()));
    }
    obj
}

impl Selection {
    /// §8's `select --format json` shape.
    pub fn to_json(&self, index: &Index, target: &Target) -> Value {
        let entry = |i: usize| index.entry(i).expect("selection indexes come from the index");
        let selected = match self.selected() {
            Some(i) => Value::Object(entry_json(&entry(i))),
            None => Value::Null,
        };
        let candidates: Vec<Value> = self
            .candidates
            .iter()
            .map(|c| {
                let mut obj = entry_json(&entry(c.index));
                obj.insert(
                    "rank".into(),
                    json!({
                        "vectorPosition": c.vector_position,
                        "features": c.feature_count,
                    }),
                );
                Value::Object(obj)
            })
            .collect();
        let rejected: Vec<Value> = self
            .rejected
            .iter()
            .map(|r| {
                let mut obj = entry_json(&entry(r.index));
                obj.insert("reasons".into(), Value::Array(r.reasons.iter().map(Reason::to_json).collect()));
                Value::Object(obj)
            })
            .collect();
        json!({
            "target": target.to_json(),
            "selected": selected,
            "candidates": candidates,
            "rejected": rejected,
        })
    }
}
