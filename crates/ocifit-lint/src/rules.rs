//! The feature rules (docs/semantics.md §2, §4–§6), on the checked typed view of
//! an index.
//!
//! Entries are grouped by their **platform key**: the normalized (§3) os,
//! architecture and variant, plus `os.version` and the sorted, de-duplicated
//! `os.features`. Entries of one key compete on equal terms: the matcher
//! ranks them by feature count and then position only, and a runtime that
//! ignores features takes the first of them. Entries of different keys are
//! never compared by these rules (a Windows image for another `os.version`,
//! or with other `os.features`, is not a fallback for this one).
//!
//! Throughout, a target is assumed to support every feature its variant
//! guarantees (§8; `ocifit host` never reports a variant the machine cannot
//! run), so a feature guaranteed by the entry's variant is not a requirement.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use ocifit_core::docs::suggest;
use ocifit_core::index::{Entries, Entry};
use ocifit_core::platform::normalize_arch;
use ocifit_core::select::unknown_hint;
use ocifit_core::target::{guaranteed_features, level_name};
use ocifit_core::vector::fallback_vector;
use ocifit_core::{Family, FeatureId, FeatureSet, FeatureTable, Index, Platform, Target, legacy_select, select};
use serde_json::Value;

use crate::diagnostic::{Code, Diagnostic};

/// Above this many subset comparisons in one platform group (distinct
/// feature sets × those with redundant features), the unreachable-entry rule
/// only looks for entries with identical sets.
pub const MAX_SUBSET_COMPARISONS: usize = 1 << 24;

/// The os or architecture of entries that are not runnable images
/// (attestations): left out of the platform groups.
pub const UNKNOWN: &str = "unknown";

/// What the rules need to know about one entry with a platform.
#[derive(Debug, Clone)]
pub(crate) struct Analysed {
    pub index: usize,
    /// The platform key (normalized), shared by every entry of the group:
    /// equal keys are the same allocation.
    pub key: Rc<Platform>,
    /// Distinct canonical features listed.
    pub known: FeatureSet,
    /// `known` with everything it implies: what the entry requires and what
    /// ranks it (§4.6, §5.3).
    pub closure: FeatureSet,
    /// Whether any listed name is unknown or empty: then no target selects it.
    pub unknown: bool,
    /// Required features (the closure) the variant does not guarantee.
    pub needs: FeatureSet,
    /// `closure` plus what the variant guarantees.
    pub effective: FeatureSet,
}

impl Analysed {
    /// Whether a host of this platform may lack something the entry needs.
    pub fn needs_features(&self) -> bool {
        self.unknown || !self.needs.is_empty()
    }
}

pub(crate) fn platform_key(entry: &Entry<'_>) -> Option<Platform> {
    let p = entry.platform?;
    Some(
        Platform {
            os: p.os.into(),
            architecture: p.architecture.into(),
            variant: p.variant.into(),
            os_version: p.os_version.into(),
            os_features: p.os_features().map(String::from).collect(),
        }
        .normalized(),
    )
}

/// What one architecture/variant spelling means, computed once per spelling.
pub(crate) struct ArchInfo {
    /// Normalized architecture.
    pub arch: String,
    /// `amd64/v3`, for messages.
    pub shown: String,
    pub family: Option<Family>,
    pub guaranteed: FeatureSet,
}

/// [`ArchInfo`] by the (architecture, variant) strings as written.
pub(crate) struct ArchCache<'a> {
    table: FeatureTable,
    seen: HashMap<(&'a str, &'a str), ArchInfo>,
}

impl<'a> ArchCache<'a> {
    pub fn new(table: FeatureTable) -> Self {
        ArchCache { table, seen: HashMap::new() }
    }

    pub fn get(&mut self, architecture: &'a str, variant: &'a str) -> &ArchInfo {
        let table = self.table;
        self.seen.entry((architecture, variant)).or_insert_with(|| {
            let (arch, variant) = normalize_arch(architecture, variant);
            let guaranteed = guaranteed_features(table, &arch, &variant);
            let shown = if variant.is_empty() { arch.clone() } else { format!("{arch}/{variant}") };
            ArchInfo { family: Family::of(&arch), arch, shown, guaranteed }
        })
    }
}

/// os, architecture, variant, os.version and os.features as written.
type Spelling<'a> = (&'a str, &'a str, &'a str, &'a str, Vec<&'a str>);

/// The platform keys of an index, interned: by the strings as written (no
/// allocation for a spelling seen before), then by the normalized key.
#[derive(Default)]
struct Keys<'a> {
    by_spelling: HashMap<Spelling<'a>, Rc<Platform>>,
    by_key: HashMap<Platform, Rc<Platform>>,
}

impl<'a> Keys<'a> {
    fn get(&mut self, entry: &Entry<'a>) -> Option<Rc<Platform>> {
        let p = entry.platform?;
        let spelling = (p.os, p.architecture, p.variant, p.os_version, p.os_features().collect::<Vec<_>>());
        if let Some(key) = self.by_spelling.get(&spelling) {
            return Some(Rc::clone(key));
        }
        let key = platform_key(entry)?;
        let key = Rc::clone(self.by_key.entry(key.clone()).or_insert_with(|| Rc::new(key)));
        self.by_spelling.insert(spelling, Rc::clone(&key));
        Some(key)
    }
}

pub(crate) fn analyse(index: &Index, table: FeatureTable) -> Vec<Analysed> {
    let mut archs = ArchCache::new(table);
    let mut keys = Keys::default();
    index
        .entries()
        .filter_map(|entry| {
            let key = keys.get(&entry)?;
            // `unknown/unknown`: what BuildKit gives attestation manifests.
            // No target runs them, and they are not images to order.
            if key.os == UNKNOWN || key.architecture == UNKNOWN {
                return None;
            }
            let p = entry.platform?;
            let guaranteed = archs.get(p.architecture, p.variant).guaranteed;
            let mut known = FeatureSet::new();
            let mut unknown = false;
            for name in p.features() {
                match table.canonical(&key.architecture, name) {
                    Some(id) => {
                        known.insert(id);
                    }
                    None => unknown = true,
                }
            }
            let closure = known.closure();
            let mut needs = closure;
            needs.subtract(&guaranteed);
            let mut effective = closure;
            effective.union(&guaranteed);
            Some(Analysed { index: entry.index, key, known, closure, unknown, needs, effective })
        })
        .collect()
}

/// Entries grouped by platform key, each group in index order; groups in
/// order of their first entry.
pub(crate) fn groups(analysed: &[Analysed]) -> Vec<Vec<&Analysed>> {
    // Keys are interned, so the allocation identifies the group.
    let mut by_key: HashMap<*const Platform, usize> = HashMap::new();
    let mut out: Vec<Vec<&Analysed>> = Vec::new();
    for a in analysed {
        let slot = *by_key.entry(Rc::as_ptr(&a.key)).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[slot].push(a);
    }
    out
}

/// Spellings that mean different rows to different people. In an index
/// they are reported with every candidate and never rewritten by `--fix`.
pub const AMBIGUOUS: &[(Family, &str, &[&str])] = &[(Family::X86, "sse4", &["sse4_1", "sse4_2"])];

/// The candidates of an ambiguous spelling (case-insensitive), if it is one.
pub fn ambiguous(family: Family, name: &str) -> Option<&'static [&'static str]> {
    let lower = name.trim().to_ascii_lowercase();
    AMBIGUOUS.iter().find(|(f, n, _)| *f == family && *n == lower).map(|(_, _, c)| *c)
}

/// `linux/amd64/v3`, with `(os.version+os.features)` when present.
pub(crate) fn describe(key: &Platform) -> String {
    key.to_string()
}

fn names(set: &FeatureSet) -> String {
    set.sorted_names().join(", ")
}

fn entry_pointer(i: usize) -> String {
    format!("/manifests/{i}")
}

pub fn check(index: &Index, table: FeatureTable, out: &mut Vec<Diagnostic>) {
    let mut unknowns = UnknownCache::default();
    let mut archs = ArchCache::new(table);
    for entry in index.entries() {
        check_names(&entry, table, &mut archs, &mut unknowns, out);
    }
    let analysed = analyse(index, table);
    for group in groups(&analysed) {
        check_order(index, table, &group, out);
        let parts = by_compression(index, &group);
        if let [_, zstd] = parts.as_slice() {
            check_zstd_order(index, table, zstd, out);
        }
        for part in &parts {
            check_unreachable(part, out);
        }
    }
    check_level_partial(&analysed, table, out);
    check_level_outranked(index, table, &analysed, out);
}

/// The named levels of an architecture (`x86-64` .. `x86-64-v4`,
/// `armv8-a` ..), each with the set it guarantees, lowest first; a level
/// whose set equals an earlier one's (`armv9-a` = `armv8.5-a`) is left out.
fn named_levels(table: FeatureTable, architecture: &str) -> Vec<(String, &'static str, FeatureSet)> {
    let mut out: Vec<(String, &'static str, FeatureSet)> = Vec::new();
    for level in table.levels(architecture) {
        let Some(name) = level_name(level.architecture, level.variant) else { continue };
        let set = guaranteed_features(table, architecture, level.variant);
        if !out.iter().any(|(_, _, s)| *s == set) {
            out.push((name, level.variant, set));
        }
    }
    out
}

/// The position in `levels` of the lowest level whose set holds `effective`.
fn level_of(levels: &[(String, &'static str, FeatureSet)], effective: &FeatureSet) -> Option<usize> {
    levels.iter().position(|(_, _, set)| effective.is_subset(set))
}

/// `level-partial`: an entry whose requirements reach a level (need
/// something it adds) but name only part of it. Authors who write
/// `["avx512f"]` for "x86-64-v4 machines" rank below a `["avx2", "bmi2",
/// ...]` build on those machines, and run on machines without avx512bw.
fn check_level_partial(analysed: &[Analysed], table: FeatureTable, out: &mut Vec<Diagnostic>) {
    let mut cache: HashMap<&str, Vec<(String, &'static str, FeatureSet)>> = HashMap::new();
    for a in analysed.iter().filter(|a| !a.unknown && !a.needs.is_empty()) {
        let levels =
            cache.entry(a.key.architecture.as_str()).or_insert_with(|| named_levels(table, &a.key.architecture));
        let Some(l) = level_of(levels, &a.effective) else { continue };
        let (name, _, set) = &levels[l];
        if l == 0 || a.effective == *set {
            continue;
        }
        let mut missing = *set;
        missing.subtract(&a.effective);
        let shown: Vec<&str> = missing.sorted_names();
        let more = if shown.len() > 8 {
            format!("{} and {} more", shown[..8].join(", "), shown.len() - 8)
        } else {
            shown.join(", ")
        };
        out.push(Diagnostic::new(
            Code::LevelPartial,
            format!("/manifests/{}/platform/features", a.index),
            format!(
                "entry {} names part of {name} (not {more}): it also runs on machines below {name} that have what \
                 it names, and ranks below builds whose features imply more",
                a.index
            ),
            format!(
                "if the build targets {name}, list the whole level: `ocifit index set-features SOURCE --entry {} \
                 --features {name}` writes its canonical names",
                a.index
            ),
        ));
    }
}

/// Above this many entry checks (level targets × entries), `level-outranked`
/// is skipped: each level target is one selection over the whole index.
pub const MAX_LEVEL_CHECKS: usize = 1 << 22;

/// `level-outranked`: for every named level of each architecture in the
/// index (per os, os.version and os.features), select as a machine of that
/// level would, and warn when an entry meant for the level (its
/// requirements reach it) is compatible but the choice is an entry meant
/// for a lower level.
fn check_level_outranked(index: &Index, table: FeatureTable, analysed: &[Analysed], out: &mut Vec<Diagnostic>) {
    let mut targets: Vec<Platform> = Vec::new();
    // Keys are interned: each distinct one is looked at once, not per entry.
    let mut seen: HashSet<*const Platform> = HashSet::new();
    for a in analysed.iter().filter(|a| seen.insert(Rc::as_ptr(&a.key))) {
        let mut p = Platform::clone(&a.key);
        p.variant = String::new();
        if !targets.contains(&p) && level_name(&p.architecture, "").is_some() {
            targets.push(p);
        }
    }
    let mut reported: BTreeMap<usize, ()> = BTreeMap::new();
    for base in targets {
        let levels = named_levels(table, &base.architecture);
        if levels.len().saturating_mul(index.len()) > MAX_LEVEL_CHECKS {
            continue;
        }
        // Each entry's level, by position: one pass, not a search per candidate.
        let mut entry_levels: Vec<Option<usize>> = vec![None; index.len()];
        for a in analysed.iter().filter(|a| !a.unknown) {
            entry_levels[a.index] = level_of(&levels, &a.effective);
        }
        let level_of_entry = |i: usize| entry_levels.get(i).copied().flatten();
        // Selection reads only the entries a machine of some level of this
        // base could run (its os, the architectures of the levels' fallback
        // vectors): the rest of a large multi-architecture index is never
        // a candidate, and need not be checked once per level.
        let runnable: Vec<String> = levels
            .iter()
            .flat_map(|(_, variant, _)| fallback_vector(&base.architecture, variant))
            .map(|av| av.architecture)
            .collect();
        let members: Vec<usize> = analysed
            .iter()
            .filter(|a| !a.unknown && a.key.os == base.os && runnable.contains(&a.key.architecture))
            .map(|a| a.index)
            .collect();
        let sub = Members { index, members: &members };
        for (l, (name, variant, _)) in levels.iter().enumerate().skip(1) {
            // Only an entry meant for this level can be reported: without
            // one, the selection (a pass over the whole index) is not made.
            if !entry_levels.contains(&Some(l)) {
                continue;
            }
            let mut platform = base.clone();
            platform.variant = variant.to_string();
            let target = Target::guaranteed(&platform, table);
            let mut selection = select(&sub, &target, table);
            for c in &mut selection.candidates {
                c.index = members[c.index];
            }
            let Some(chosen) = selection.selected() else { continue };
            let Some(chosen_level) = level_of_entry(chosen) else { continue };
            if chosen_level >= l {
                continue;
            }
            for c in &selection.candidates {
                if level_of_entry(c.index) != Some(l) || reported.insert(c.index, ()).is_some() {
                    continue;
                }
                let shown = platform.short();
                out.push(Diagnostic::new(
                    Code::LevelOutranked,
                    entry_pointer(c.index),
                    format!(
                        "entry {} is meant for {name} machines ({shown}) and runs on them, but they are given \
                         entry {chosen}, meant for {}: its features imply more ({} against {}), so it ranks higher",
                        c.index, levels[chosen_level].0, selection.candidates[0].feature_count, c.feature_count
                    ),
                    format!(
                        "list the whole level in entry {}: `ocifit index set-features SOURCE --entry {} --features \
                         {name}`, so it ranks above entry {chosen} on {name} machines",
                        c.index, c.index
                    ),
                ));
            }
        }
    }
}

/// `unsafe-order` and `no-fallback` among a group's zstd copies, when it
/// has others too: containers/image (podman, CRI-O, skopeo) prefers the
/// zstd copies and takes the first of them, so their order matters on its
/// own (containerd's pick, the group's first entry, is checked by
/// [`check_order`]).
fn check_zstd_order(index: &Index, table: FeatureTable, zstd: &[&Analysed], out: &mut Vec<Diagnostic>) {
    let mut found = Vec::new();
    check_order(index, table, zstd, &mut found);
    for mut d in found {
        if out.iter().any(|o| o.code == d.code && o.pointer == d.pointer) {
            continue;
        }
        d.message = format!(
            "among the zstd copies ({ZSTD_ANNOTATION}), which containers/image (podman, CRI-O, skopeo) prefers: {}",
            d.message
        );
        d.hint = d.hint.replace(" (`ocifit lint --fix` does, when that changes no features-aware choice)", "");
        d.hint.push_str(" among the zstd copies, as among the others");
        out.push(d);
    }
}

/// The annotation `podman manifest push --add-compression zstd` puts on the
/// zstd copy of each image (containers/image's
/// `OCI1InstanceAnnotationCompressionZSTD`, value `"true"`).
pub const ZSTD_ANNOTATION: &str = "io.github.containers.compression.zstd";

/// A platform group split by layer compression. Copies of one image in
/// another compression are not rivals: containers/image picks the zstd copy
/// when it can use zstd and the other one otherwise (docs/lint.md), so
/// `unreachable-entry` compares entries only within one compression.
fn by_compression<'g>(index: &Index, group: &[&'g Analysed]) -> Vec<Vec<&'g Analysed>> {
    let zstd = |a: &Analysed| {
        index.raw_entry(a.index).and_then(|e| e.get("annotations")).and_then(|a| a.get(ZSTD_ANNOTATION))
            == Some(&Value::String("true".into()))
    };
    let (zstd, other): (Vec<&Analysed>, Vec<&Analysed>) = group.iter().copied().partition(|a| zstd(a));
    [other, zstd].into_iter().filter(|part| !part.is_empty()).collect()
}

/// Per name: unknown, duplicate, redundant. (Empty names are `feature-empty`,
/// reported on the raw document.)
fn check_names<'a>(
    entry: &Entry<'a>,
    table: FeatureTable,
    archs: &mut ArchCache<'a>,
    unknowns: &mut UnknownCache,
    out: &mut Vec<Diagnostic>,
) {
    let Some(p) = entry.platform else { return };
    if p.features().len() == 0 {
        return;
    }
    let info = archs.get(p.architecture, p.variant);
    let at = |j: usize| format!("/manifests/{}/platform/features/{j}", entry.index);
    // Names seen so far and where: a short list is faster than a map for
    // the handful of names an entry usually has; a map keeps a hostile
    // 1,024-name entry linear.
    let many = p.features().len() > 16;
    let mut seen_list: Vec<(&str, usize)> = Vec::new();
    let mut seen_map: HashMap<&str, usize> = HashMap::new();
    for (j, name) in p.features().enumerate() {
        if name.is_empty() {
            continue;
        }
        let earlier = if many {
            seen_map.get(name).copied()
        } else {
            seen_list.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
        };
        if let Some(k) = earlier {
            out.push(Diagnostic::new(
                Code::FeatureDuplicate,
                at(j),
                format!("{name:?} is listed twice (first at features/{k})"),
                "remove the second one; `ocifit lint --fix` does",
            ));
            continue;
        }
        if many {
            seen_map.insert(name, j);
        } else {
            seen_list.push((name, j));
        }
        match table.canonical(&info.arch, name) {
            Some(id) => {
                if info.guaranteed.contains(id) {
                    out.push(Diagnostic::new(
                        Code::FeatureRedundant,
                        at(j),
                        format!("{name:?} is guaranteed by {}: every host that runs this variant has it", info.shown),
                        "remove it, unless it is there to rank this entry above another of the same platform",
                    ));
                }
            }
            None => out.push(unknowns.diagnostic(at(j), &info.arch, info.family, name, table)),
        }
    }
}

/// Messages for unknown names, computed once per (architecture, name): an
/// index may repeat one unknown name in thousands of entries. Past
/// [`MAX_SUGGESTIONS`] distinct names, "did you mean" (an edit-distance scan
/// of the table) is skipped, so hostile input stays linear.
#[derive(Default)]
struct UnknownCache {
    seen: HashMap<(String, String), (String, String)>,
}

/// Distinct unknown names that get "did you mean" suggestions.
pub const MAX_SUGGESTIONS: usize = 1000;

impl UnknownCache {
    fn diagnostic(
        &mut self,
        at: String,
        arch: &str,
        family: Option<Family>,
        name: &str,
        table: FeatureTable,
    ) -> Diagnostic {
        let key = (arch.to_string(), name.to_string());
        if let Some((message, hint)) = self.seen.get(&key) {
            return Diagnostic::new(Code::FeatureUnknown, at, message.clone(), hint.clone());
        }
        let d = unknown(at, arch, family, name, table, self.seen.len() < MAX_SUGGESTIONS);
        self.seen.insert(key, (d.message.clone(), d.hint.clone()));
        d
    }
}

fn unknown(
    at: String,
    arch: &str,
    family: Option<Family>,
    name: &str,
    table: FeatureTable,
    suggestions: bool,
) -> Diagnostic {
    let Some(family) = family else {
        return Diagnostic::new(
            Code::FeatureUnknown,
            at,
            format!("unknown feature {name:?}: ocifit has no feature table for architecture {arch:?}"),
            "no runtime can check CPU features there; remove platform.features from this entry",
        );
    };
    if let Some(candidates) = ambiguous(family, name) {
        let quoted: Vec<String> = candidates.iter().map(|c| format!("{c:?}")).collect();
        return Diagnostic::new(
            Code::FeatureUnknown,
            at,
            format!(
                "unknown feature {name:?} for {arch}: ambiguous, it could mean {} (node-feature-discovery's SSE4 is \
                 SSE4.1; Docker's old examples meant SSE4.2): no target selects this entry",
                quoted.join(" or ")
            ),
            format!(
                "write {} as the build needs; `ocifit lint --fix` does not guess (`ocifit explain {}` describes each)",
                quoted.join(" or "),
                candidates.join(" ")
            ),
        );
    }
    let mut message = format!("unknown feature {name:?} for {arch}");
    if let Some(h) = unknown_hint(table, arch, name) {
        message.push_str(&format!(" ({h})"));
    }
    message.push_str(": no target selects this entry");
    // An alias (or a wrong case) of a canonical name valid here: fixable.
    if let Some(id) = table.resolve(family, name.trim()).filter(|id| id.feature().valid_for(arch)) {
        return Diagnostic::new(
            Code::FeatureUnknown,
            at,
            message,
            format!(
                "{name:?} is another spelling of {:?}; indexes must use the canonical name (`ocifit lint --fix` rewrites it)",
                id.feature().name
            ),
        );
    }
    let elsewhere: Vec<&str> = table
        .resolve_anywhere(name)
        .iter()
        .map(|id| id.feature())
        .filter(|f| !f.valid_for(arch))
        .flat_map(|f| f.architectures.iter().copied())
        .collect();
    if !elsewhere.is_empty() {
        return Diagnostic::new(
            Code::FeatureUnknown,
            at,
            message,
            format!(
                "{name:?} is a feature of {}, not {arch}; remove it from this entry, or put it on an entry of that \
                 architecture",
                elsewhere.join("/")
            ),
        );
    }
    let close: Vec<&str> = if suggestions {
        suggest(table, Some(family), name).into_iter().filter(|n| table.canonical(arch, n).is_some()).collect()
    } else {
        Vec::new()
    };
    let hint = if close.is_empty() {
        format!("`ocifit features {arch}` lists the canonical names")
    } else {
        let quoted: Vec<String> = close.iter().map(|n| format!("{n:?}")).collect();
        format!("did you mean {}? (`ocifit features {arch}` lists the canonical names)", quoted.join(" or "))
    };
    Diagnostic::new(Code::FeatureUnknown, at, message, hint)
}

/// §6: what a runtime that ignores features picks among the group. Only the
/// group's own entries can be its choice: the target is exactly the group's
/// platform, so every other compatible entry has a later vector position,
/// an older os.version or fewer os.features and ranks below them.
///
/// Among those, legacy ranking (§5 with features ignored) ties on vector
/// position, os.version and os.features, so position decides: no entry after
/// the group's first fallback can be picked over it. The sub-index therefore
/// holds the group up to its first fallback (all of it when there is none),
/// read in place ([`Members`]).
pub(crate) fn legacy_pick(index: &Index, table: FeatureTable, group: &[&Analysed]) -> usize {
    let first = group[0].index;
    let upto = group.iter().position(|a| !a.needs_features()).map_or(group.len(), |f| f + 1);
    let members: Vec<usize> = group[..upto].iter().map(|a| a.index).collect();
    let sub = Members { index, members: &members };
    let target = Target::guaranteed(&group[0].key, table);
    legacy_select(&sub, &target).selected().map_or(first, |k| group[k].index)
}

/// The entries at `members` (ascending positions) of an index, read in
/// place: entry `k` of it is entry `members[k]` of `index`, and positions
/// keep their order, so selection ranks them as it would in the whole
/// index. Borrowed, so a selection over thousands of entries copies none.
struct Members<'a> {
    index: &'a Index,
    members: &'a [usize],
}

impl Entries for Members<'_> {
    fn len(&self) -> usize {
        self.members.len()
    }

    fn entry(&self, k: usize) -> Option<Entry<'_>> {
        let mut entry = self.index.entry(*self.members.get(k)?)?;
        entry.index = k;
        Some(entry)
    }
}

/// `unsafe-order` and `no-fallback`.
fn check_order(index: &Index, table: FeatureTable, group: &[&Analysed], out: &mut Vec<Diagnostic>) {
    let platform = describe(&group[0].key);
    let first_safe = group.iter().position(|a| !a.needs_features());
    let needy_before = match first_safe {
        Some(f) => f > 0,
        None => true,
    };
    if !needy_before {
        return;
    }
    let pick = legacy_pick(index, table, group);
    let picked = group.iter().find(|a| a.index == pick).expect("the pick is in the group");
    if !picked.needs_features() {
        return;
    }
    let needs = if picked.unknown && picked.needs.is_empty() {
        "features it names that ocifit does not know".to_string()
    } else {
        // The listed ones (what they imply follows from them).
        let mut listed = picked.known;
        listed.intersect(&picked.needs);
        names(if listed.is_empty() { &picked.needs } else { &listed })
    };
    let legacy = "runtimes that ignore features (containerd, CRI-O, podman, skopeo)";
    match first_safe {
        Some(f) => {
            let fallback = group[f].index;
            out.push(Diagnostic::new(
                Code::UnsafeOrder,
                entry_pointer(pick),
                format!(
                    "entry {pick} needs {needs} but comes before the fallback entry {fallback} of {platform}: \
                     {legacy} pick entry {pick} on every {platform} host, and hosts without those features \
                     may crash with SIGILL"
                ),
                format!(
                    "move entry {fallback} before every {platform} entry that needs features \
                     (`ocifit lint --fix` does, when that changes no features-aware choice)"
                ),
            ));
        }
        None => {
            let members: Vec<String> = group.iter().map(|a| a.index.to_string()).collect();
            let members = match members.len() {
                1 => format!("entry {} needs features", members[0]),
                _ => format!("entries {} all need features", members.join(", ")),
            };
            out.push(Diagnostic::new(
                Code::NoFallback,
                entry_pointer(group[0].index),
                format!(
                    "{platform} has no fallback entry (one without CPU features): {members}; \
                     {legacy} pick entry {pick} on every {platform} host, including hosts without {needs}"
                ),
                format!("add an entry for {platform} without platform.features, before the others"),
            ));
        }
    }
}

/// The possible dominators of a group, each filed under the feature of its
/// effective set that the fewest of the group's sets hold (those with an
/// empty set apart): an entry whose effective set holds `i`'s must hold that
/// feature, so finding its dominators reads only the buckets of features it
/// has, not every dominator (a group of thousands of distinct sets was
/// quadratic here). Bit tests only: no hashing per entry and feature.
struct DominatorBuckets<'a> {
    /// The feature (`None`: the empty set) and its dominators in index
    /// order; rarest feature first.
    buckets: Vec<(Option<FeatureId>, Vec<&'a Analysed>)>,
}

impl<'a> DominatorBuckets<'a> {
    /// `dominators` in index order; `reps` the group's distinct sets.
    fn new(reps: &[&Analysed], dominators: &[&'a Analysed]) -> Self {
        let mut all = FeatureSet::new();
        for a in reps {
            all.union(&a.effective);
        }
        let mut rarest_first: Vec<(usize, FeatureId)> =
            all.iter().map(|f| (reps.iter().filter(|a| a.effective.contains(f)).count(), f)).collect();
        rarest_first.sort_unstable();
        let mut buckets: Vec<(Option<FeatureId>, Vec<&'a Analysed>)> =
            rarest_first.iter().map(|&(_, f)| (Some(f), Vec::new())).chain([(None, Vec::new())]).collect();
        for &i in dominators {
            let slot = rarest_first.iter().position(|&(_, f)| i.effective.contains(f)).unwrap_or(rarest_first.len());
            buckets[slot].1.push(i);
        }
        buckets.retain(|(_, list)| !list.is_empty());
        DominatorBuckets { buckets }
    }

    /// The earliest dominator whose effective set is a subset of `j`'s and
    /// that `also` accepts: what a scan of every dominator in index order
    /// finds first.
    fn first(&self, j: &Analysed, also: impl Fn(&Analysed) -> bool) -> Option<&'a Analysed> {
        let mut best: Option<&'a Analysed> = None;
        for (feature, list) in &self.buckets {
            if feature.is_some_and(|f| !j.effective.contains(f)) {
                continue;
            }
            let found = list
                .iter()
                .take_while(|i| best.is_none_or(|b| i.index < b.index))
                .find(|i| i.effective.is_subset(&j.effective) && also(i));
            if let Some(&i) = found {
                best = Some(i);
            }
        }
        best
    }
}

/// `unreachable-entry`: entry j is never selected when another entry i of
/// its group is compatible whenever j is (i's effective set is a subset of
/// j's) and ranks above it (more listed features, or as many and earlier).
/// Entries with unknown features are left to `feature-unknown`.
fn check_unreachable(group: &[&Analysed], out: &mut Vec<Diagnostic>) {
    let usable: Vec<&Analysed> = group.iter().copied().filter(|a| !a.unknown).collect();
    if usable.len() < 2 {
        return;
    }
    // Better first: a larger closure (§5.3), then earlier.
    let beats = |i: &Analysed, j: &Analysed| {
        i.closure.len() > j.closure.len() || (i.closure.len() == j.closure.len() && i.index < j.index)
    };
    let mut best: HashMap<FeatureSet, &Analysed> = HashMap::new();
    for a in &usable {
        best.entry(a.effective)
            .and_modify(|b| {
                if beats(a, b) {
                    *b = a
                }
            })
            .or_insert(a);
    }
    let mut dominated: BTreeMap<usize, usize> = BTreeMap::new();
    for a in &usable {
        let b = best[&a.effective];
        if b.index != a.index {
            dominated.insert(a.index, b.index);
        }
    }
    let reps: Vec<&Analysed> = {
        let mut r: Vec<&Analysed> = best.values().copied().collect();
        r.sort_by_key(|a| a.index);
        r
    };
    // A distinct set can only be beaten by a strict subset with at least as
    // large a closure: with fewer real requirements, that closure holds
    // features the variant guarantees. Only such entries can dominate, so a
    // group without them costs nothing here.
    let dominators: Vec<&Analysed> = reps.iter().copied().filter(|a| a.closure != a.needs).collect();
    if !dominators.is_empty() && reps.len().saturating_mul(dominators.len()) <= MAX_SUBSET_COMPARISONS {
        let by_feature = DominatorBuckets::new(&reps, &dominators);
        for j in &reps {
            if let Some(i) = by_feature.first(j, |i| i.index != j.index && beats(i, j)) {
                dominated.insert(j.index, i.index);
            }
        }
    }
    let platform = describe(&group[0].key);
    for (j, i) in dominated {
        let a = usable.iter().find(|a| a.index == i).expect("dominator is usable");
        let b = usable.iter().find(|b| b.index == j).expect("dominated is usable");
        let more = a.closure.len() > b.closure.len();
        let why = match (a.effective == b.effective, more) {
            (true, false) => format!("entry {i} requires the same features and comes first"),
            (true, true) => format!("entry {i} requires the same features and names more of them, so it ranks higher"),
            (false, true) => {
                format!(
                    "entry {i} runs on every host entry {j} runs on and its features imply more, so it ranks higher"
                )
            }
            (false, false) => {
                format!("entry {i} runs on every host entry {j} runs on, its features imply as many and it comes first")
            }
        };
        out.push(Diagnostic::new(
            Code::UnreachableEntry,
            entry_pointer(j),
            format!("entry {j} ({platform}) can never be selected: {why}"),
            format!("remove entry {j}, or make its features differ from entry {i}'s"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `unreachable-entry`'s bucketed search finds, for every distinct set,
    /// the dominator a scan of every dominator in index order finds, on
    /// groups where most entries name guaranteed or implied features.
    #[test]
    fn unreachable_entry_dominator_buckets_find_what_a_full_scan_finds() {
        let table = FeatureTable::builtin();
        let beats = |i: &Analysed, j: &Analysed| {
            i.closure.len() > j.closure.len() || (i.closure.len() == j.closure.len() && i.index < j.index)
        };
        for (arch, variant) in [("amd64", ""), ("amd64", "v3"), ("arm64", "v8.2"), ("ppc64le", "")] {
            let family = Family::of(arch).expect("a family with a table");
            let pool: Vec<&str> = table.family(family).filter(|f| f.valid_for(arch)).map(|f| f.name).collect();
            let mut state = 0x5eed_u64;
            let mut next = || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 33) as usize
            };
            let manifests: Vec<Value> = (0..400)
                .map(|k| {
                    let features: Vec<&str> = (0..k % 5).map(|_| pool[next() % pool.len()]).collect();
                    json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                           "digest": format!("sha256:{k:064x}"),
                           "platform": {"os": "linux", "architecture": arch, "variant": variant, "features": features}})
                })
                .collect();
            let index = Index::from_value(json!({"schemaVersion": 2, "manifests": manifests})).expect("a valid index");
            let analysed = analyse(&index, table);
            let mut reps: Vec<&Analysed> = Vec::new();
            for a in analysed.iter().filter(|a| !a.unknown) {
                if !reps.iter().any(|r| r.effective == a.effective) {
                    reps.push(a);
                }
            }
            let dominators: Vec<&Analysed> = reps.iter().copied().filter(|a| a.closure != a.needs).collect();
            let buckets = DominatorBuckets::new(&reps, &dominators);
            let mut found = 0;
            for j in &reps {
                let scanned = dominators
                    .iter()
                    .find(|i| i.index != j.index && i.effective.is_subset(&j.effective) && beats(i, j))
                    .map(|i| i.index);
                let bucketed = buckets.first(j, |i| i.index != j.index && beats(i, j)).map(|i| i.index);
                assert_eq!(bucketed, scanned, "{arch}/{variant}: entry {}", j.index);
                found += usize::from(scanned.is_some());
            }
            assert!(found > 0, "{arch}/{variant}: the group has dominated sets to find");
        }
    }
}
