//! Node inputs, recognised by content, merged into a [`Fleet`].
//!
//! | input | how it is recognised | what it proves |
//! | --- | --- | --- |
//! | `kubectl get nodes -o json` (`List`/`NodeList`, or one `Node`) | items of kind `Node` (or with labels) | `kubernetes.io/os`, `kubernetes.io/arch`, NFD CPUID labels; with the labels of `ocifit host --format nfd`: exact |
//! | `kubectl get nodefeatures -A -o json` (`List`/`NodeFeatureList`, or one `NodeFeature`) | items of kind `NodeFeature` | every CPUID name NFD knows (`spec.features.flags["cpu.cpuid"]`) |
//! | a JSON array of host profiles | a top-level array | `ocifit host --format json` objects plus `name`: exact |
//! | a directory of `/proc/cpuinfo` captures or `ocifit host --dump-cpuid` files, or one such file | not JSON | one node per file, named after it: exact |
//!
//! A node may appear in several inputs; the most precise wins (a profile or
//! capture over ocifit's labels over a `NodeFeature` over NFD's labels), and a `NodeFeature` takes its
//! architecture from the node's labels when both are given. The same node
//! twice at the same precision is an error.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use ocifit_core::target::{resolve_for, resolve_word};
use ocifit_core::{FeatureSet, FeatureTable, Platform, Target};
use serde::Deserialize;

use crate::nfd;
use crate::profile::{NodeProfile, Published, rows_valid_for};

/// One node of the fleet.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    /// The input it came from (a path).
    pub origin: String,
    pub profile: NodeProfile,
}

/// Nodes with identical profiles.
#[derive(Debug, Clone)]
pub struct Group {
    pub profile: NodeProfile,
    /// Positions in [`Fleet::nodes`], in input order.
    pub members: Vec<usize>,
}

/// Every node, and the nodes grouped by profile (cost grows with groups).
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    pub nodes: Vec<Node>,
    pub groups: Vec<Group>,
    /// Position of each node's group.
    pub group_of: Vec<usize>,
}

/// A node input that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInputError {
    pub origin: String,
    pub problem: String,
}

impl fmt::Display for NodeInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.problem)
    }
}

impl std::error::Error for NodeInputError {}

/// What one input says about one node, before merging.
#[derive(Debug, Clone)]
pub struct NodeRecord {
    pub name: String,
    pub origin: String,
    evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Evidence {
    /// Node labels; `ocifit` is the target ocifit's own labels describe
    /// (complete), when the node has them.
    Labels { os: String, architecture: String, os_version: String, names: Names, ocifit: Option<Target> },
    /// A `NodeFeature`; the architecture guessed from its names, if possible.
    NodeFeature { architecture: Option<String>, names: Names },
    /// A profile or capture: every feature known, except `unknown`.
    Exact { target: Target, unknown: FeatureSet },
}

/// NFD CPUID names, sorted, in one string (one allocation per node).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Names(String);

impl Names {
    fn new<'a>(names: impl Iterator<Item = &'a str>) -> Names {
        let mut names: Vec<&str> = names.collect();
        names.sort_unstable();
        Names(names.join("\n"))
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split('\n').filter(|n| !n.is_empty())
    }
}

impl Evidence {
    fn precision(&self) -> u8 {
        match self {
            Evidence::Labels { ocifit: None, .. } => 1,
            Evidence::NodeFeature { .. } => 2,
            Evidence::Labels { ocifit: Some(_), .. } => 3,
            Evidence::Exact { .. } => 4,
        }
    }
}

/// Read one `--nodes` argument: a file or a directory of captures.
pub fn read_path(path: &Path) -> Result<Vec<NodeRecord>, NodeInputError> {
    let origin = path.display().to_string();
    let err = |problem: String| NodeInputError { origin: origin.clone(), problem };
    let meta = std::fs::metadata(path).map_err(|e| err(io_problem(&e)))?;
    if !meta.is_dir() {
        let bytes = std::fs::read(path).map_err(|e| err(io_problem(&e)))?;
        return parse(&bytes, &origin, &file_node_name(path));
    }
    let mut entries: Vec<_> = std::fs::read_dir(path)
        .map_err(|e| err(io_problem(&e)))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .collect();
    entries.sort();
    if entries.is_empty() {
        return Err(err("an empty directory (expected one /proc/cpuinfo capture or CPUID dump per node)".into()));
    }
    let mut records = Vec::with_capacity(entries.len());
    for file in entries {
        let origin = file.display().to_string();
        let bytes =
            std::fs::read(&file).map_err(|e| NodeInputError { origin: origin.clone(), problem: io_problem(&e) })?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| NodeInputError { origin: origin.clone(), problem: "not UTF-8 text".into() })?;
        records.push(capture_record(text, &origin, &file_node_name(&file))?);
    }
    Ok(records)
}

/// A node named after its capture file: the file name without a `.txt` or
/// `.cpuinfo` extension.
fn file_node_name(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "-".into());
    for ext in [".cpuinfo", ".txt"] {
        if let Some(stem) = name.strip_suffix(ext).filter(|s| !s.is_empty()) {
            return stem.to_string();
        }
    }
    name
}

fn io_problem(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Parse one input's bytes; `name` names a lone cpuinfo capture.
pub fn parse(bytes: &[u8], origin: &str, name: &str) -> Result<Vec<NodeRecord>, NodeInputError> {
    let err = |problem: String| NodeInputError { origin: origin.into(), problem };
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {
            let object: K8sObject<'_> = serde_json::from_slice(bytes).map_err(|e| err(format!("invalid JSON: {e}")))?;
            let mut records = Vec::new();
            object.collect(origin, &mut records).map_err(err)?;
            Ok(records)
        }
        Some(b'[') => {
            let profiles: Vec<ProfileJson> = serde_json::from_slice(bytes).map_err(|e| {
                err(format!("not an array of host profiles (ocifit host --format json plus \"name\"): {e}"))
            })?;
            profiles.into_iter().enumerate().map(|(i, p)| p.record(origin, i).map_err(&err)).collect()
        }
        None => Err(err("empty".into())),
        Some(_) => {
            let text = std::str::from_utf8(bytes).map_err(|_| err("not UTF-8 text".into()))?;
            Ok(vec![capture_record(text, origin, name)?])
        }
    }
}

/// A `/proc/cpuinfo` capture or an `ocifit host --dump-cpuid` file (CPUID
/// tells every x86 feature: exact).
fn capture_record(text: &str, origin: &str, name: &str) -> Result<NodeRecord, NodeInputError> {
    if let Ok(profile) = ocifit_host::from_cpuid_dump(text) {
        let evidence = Evidence::Exact { target: profile.target, unknown: FeatureSet::new() };
        return Ok(NodeRecord { name: name.into(), origin: origin.into(), evidence });
    }
    let profile = ocifit_host::from_cpuinfo(text, None).map_err(|e| NodeInputError {
        origin: origin.into(),
        problem: format!("not a /proc/cpuinfo capture, a CPUID dump, a node list, NodeFeatures or host profiles ({e})"),
    })?;
    let target = profile.target;
    // Rows Linux does not show in /proc/cpuinfo cannot be told from a capture.
    let arch = target.platform.architecture.clone();
    let mut unknown: FeatureSet = rows_valid_for(&arch).iter().filter(|id| id.feature().linux.is_none()).collect();
    unknown.subtract(&target.features);
    Ok(NodeRecord { name: name.into(), origin: origin.into(), evidence: Evidence::Exact { target, unknown } })
}

/// The fields of Kubernetes objects ocifit reads; everything else is skipped.
#[derive(Deserialize)]
struct K8sObject<'a> {
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    metadata: Metadata<'a>,
    #[serde(default)]
    spec: Option<NodeFeatureSpec<'a>>,
    #[serde(default)]
    items: Option<Vec<K8sObject<'a>>>,
}

#[derive(Deserialize, Default)]
struct Metadata<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    labels: Option<Labels<'a>>,
}

/// A label map, kept as the pairs it is written as (no hashing: a node has
/// dozens of labels and a fleet thousands of nodes).
#[derive(Default)]
struct Labels<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl Labels<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Labels<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Labels<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of label names to strings")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Labels<'a>, M::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some((k, v)) = map.next_entry::<Cow<'de, str>, Cow<'de, str>>()? {
                    pairs.push((k, v));
                }
                Ok(Labels(pairs))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct NodeFeatureSpec<'a> {
    #[serde(borrow, default)]
    features: Option<NodeFeatureFeatures<'a>>,
}

#[derive(Deserialize)]
struct NodeFeatureFeatures<'a> {
    #[serde(borrow, default)]
    flags: Option<HashMap<Cow<'a, str>, FlagSet<'a>>>,
}

#[derive(Deserialize)]
struct FlagSet<'a> {
    #[serde(borrow, default)]
    elements: HashMap<Cow<'a, str>, serde::de::IgnoredAny>,
}

impl K8sObject<'_> {
    fn collect(self, origin: &str, out: &mut Vec<NodeRecord>) -> Result<(), String> {
        let kind = self.kind.as_deref().unwrap_or("");
        match kind {
            "List" | "NodeList" | "NodeFeatureList" => {
                let Some(items) = self.items else { return Err(format!("a {kind} without items")) };
                for (i, item) in items.into_iter().enumerate() {
                    item.record(origin).map(|r| out.push(r)).map_err(|p| format!("items[{i}]: {p}"))?;
                }
                Ok(())
            }
            _ if self.items.is_some() => {
                Err(format!("a list of kind {kind:?} (expected List, NodeList or NodeFeatureList)"))
            }
            _ => self.record(origin).map(|r| out.push(r)),
        }
    }

    fn record(self, origin: &str) -> Result<NodeRecord, String> {
        let kind = self.kind.as_deref().unwrap_or("");
        let labels = self.metadata.labels.unwrap_or_default();
        let label = |key: &str| labels.get(key).map(str::to_string);
        match kind {
            "NodeFeature" => {
                let name = label(nfd::NODE_NAME_LABEL)
                    .or_else(|| self.metadata.name.map(|n| n.into_owned()))
                    .ok_or("a NodeFeature without metadata.name or the nfd.node.kubernetes.io/node-name label")?;
                let flags = self.spec.and_then(|s| s.features).and_then(|f| f.flags);
                let cpuid = flags.as_ref().and_then(|flags| flags.get(nfd::CPUID_FEATURE));
                let names = Names::new(cpuid.into_iter().flat_map(|set| set.elements.keys().map(|k| k.as_ref())));
                let architecture = guess_architecture(&names).map(str::to_string);
                Ok(NodeRecord { name, origin: origin.into(), evidence: Evidence::NodeFeature { architecture, names } })
            }
            "Node" | "" => {
                let name = self.metadata.name.map(Cow::into_owned).ok_or("a Node without metadata.name")?;
                let os = label(nfd::OS_LABEL)
                    .or_else(|| label("beta.kubernetes.io/os"))
                    .ok_or_else(|| format!("node {name:?} has no {} label", nfd::OS_LABEL))?;
                let architecture = label(nfd::ARCH_LABEL)
                    .or_else(|| label("beta.kubernetes.io/arch"))
                    .ok_or_else(|| format!("node {name:?} has no {} label", nfd::ARCH_LABEL))?;
                let os_version = label(nfd::WINDOWS_BUILD_LABEL).unwrap_or_default();
                let names = Names::new(
                    labels
                        .0
                        .iter()
                        .filter(|(_, v)| v.as_ref() == "true")
                        .filter_map(|(k, _)| k.strip_prefix(nfd::CPUID_LABEL_PREFIX)),
                );
                let ocifit = ocifit_target(&labels, &os, &architecture, &os_version)
                    .map_err(|problem| format!("node {name:?}: {problem}"))?;
                Ok(NodeRecord {
                    name,
                    origin: origin.into(),
                    evidence: Evidence::Labels { os, architecture, os_version, names, ocifit },
                })
            }
            other => Err(format!("an object of kind {other:?} (expected Node or NodeFeature)")),
        }
    }
}

/// The target `ocifit host --format nfd`'s labels describe, if the node has
/// them: its platform and every feature (names ocifit does not know, from a
/// newer ocifit, are skipped).
fn ocifit_target(
    labels: &Labels<'_>,
    os: &str,
    architecture: &str,
    os_version: &str,
) -> Result<Option<Target>, String> {
    let ocifit: Vec<(&str, &str)> = labels
        .0
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(nfd::OCIFIT_LABEL_PREFIX).map(|k| (k, v.as_ref())))
        .collect();
    if ocifit.is_empty() {
        return Ok(None);
    }
    let get = |key: &str| ocifit.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let os = get("os").unwrap_or(os);
    let labelled = Platform::new(os, architecture, "").normalized().architecture;
    let architecture = get("architecture").unwrap_or(&labelled);
    let mut platform = Platform::new(os, architecture, get("variant").unwrap_or("")).normalized();
    if platform.architecture != labelled {
        return Err(format!("its ocifit labels say {} but {} says {labelled}", platform.architecture, nfd::ARCH_LABEL));
    }
    platform.os_version = os_version.to_string();
    let table = FeatureTable::builtin();
    let mut features = ocifit_core::target::guaranteed_features(table, &platform.architecture, &platform.variant);
    for (key, value) in &ocifit {
        if let Some(name) = key.strip_prefix("feature.").filter(|_| *value == "true")
            && let Ok(id) = resolve_for(table, &platform.architecture, name)
        {
            features.insert(id);
        }
    }
    Ok(Some(Target { platform, features }))
}

/// The architecture a `NodeFeature`'s CPUID names come from (it carries no
/// architecture of its own): names only one family of NFD's tables has.
fn guess_architecture(names: &Names) -> Option<&'static str> {
    let has = |n: &str| names.iter().any(|x| x == n);
    if has("X86_64_V1") || has("SSE2") || has("CMOV") || has("X87") {
        Some("amd64")
    } else if has("ASIMD") || has("FP") {
        Some("arm64")
    } else if has("THUMB") || has("HALF") || has("VFP") {
        Some("arm")
    } else if has("PPC64") || has("PPCLE") || has("ALTIVEC") {
        Some("ppc64le")
    } else if has("ZARCH") {
        Some("s390x")
    } else {
        None
    }
}

/// `ocifit host --format json` output plus a `name`.
#[derive(Deserialize)]
struct ProfileJson {
    name: Option<String>,
    os: String,
    architecture: String,
    #[serde(default)]
    variant: String,
    #[serde(default, rename = "os.version")]
    os_version: String,
    #[serde(default, rename = "os.features")]
    os_features: Vec<String>,
    #[serde(default)]
    features: Vec<String>,
}

impl ProfileJson {
    fn record(self, origin: &str, i: usize) -> Result<NodeRecord, String> {
        let name = self.name.clone().filter(|n| !n.is_empty()).ok_or_else(|| format!("[{i}] has no \"name\""))?;
        let target = self.target().map_err(|e| format!("node {name:?}: {e}"))?;
        Ok(NodeRecord { name, origin: origin.into(), evidence: Evidence::Exact { target, unknown: FeatureSet::new() } })
    }

    fn target(self) -> Result<Target, String> {
        let mut platform = Platform::new(&self.os, &self.architecture, &self.variant);
        platform.os_version = self.os_version;
        platform.os_features = self.os_features;
        let mut target = Target::new(&platform, FeatureSet::new());
        let table = FeatureTable::builtin();
        for f in &self.features {
            // A feature name or a level name (x86-64-v3: its whole set).
            let ids = resolve_word(table, &target.platform.architecture, f).map_err(|e| e.to_string())?;
            target.features.extend(ids);
        }
        Ok(target)
    }
}

/// The target one `ocifit host --format json` object describes (a node's
/// profile, `"name"` optional): what `select --profile FILE` selects for.
pub fn profile_target(bytes: &[u8]) -> Result<Target, String> {
    let profile: ProfileJson =
        serde_json::from_slice(bytes).map_err(|e| format!("not a host profile (ocifit host --format json): {e}"))?;
    profile.target()
}

impl Fleet {
    /// Merge records by node name and group identical profiles.
    pub fn from_records(records: Vec<NodeRecord>) -> Result<Fleet, NodeInputError> {
        let mut order: Vec<String> = Vec::new();
        let mut by_name: HashMap<String, Vec<NodeRecord>> = HashMap::new();
        for r in records {
            let slot = by_name.entry(r.name.clone()).or_default();
            if slot.is_empty() {
                order.push(r.name.clone());
            }
            slot.push(r);
        }
        let mut fleet = Fleet::default();
        let mut group_index: HashMap<NodeProfile, usize> = HashMap::new();
        // Nodes described once, by identical evidence, have identical profiles.
        let mut known: HashMap<Evidence, NodeProfile> = HashMap::new();
        for name in order {
            let records = by_name.remove(&name).unwrap_or_default();
            let (origin, profile) = match records.as_slice() {
                [one] => match known.get(&one.evidence) {
                    Some(p) => (one.origin.clone(), p.clone()),
                    None => {
                        let evidence = one.evidence.clone();
                        let (origin, p) = merge(&name, records)?;
                        known.insert(evidence, p.clone());
                        (origin, p)
                    }
                },
                _ => merge(&name, records)?,
            };
            let group = *group_index.entry(profile.clone()).or_insert_with(|| {
                fleet.groups.push(Group { profile: profile.clone(), members: Vec::new() });
                fleet.groups.len() - 1
            });
            fleet.groups[group].members.push(fleet.nodes.len());
            fleet.group_of.push(group);
            fleet.nodes.push(Node { name, origin, profile });
        }
        Ok(fleet)
    }
}

fn merge(name: &str, mut records: Vec<NodeRecord>) -> Result<(String, NodeProfile), NodeInputError> {
    records.sort_by_key(|r| std::cmp::Reverse(r.evidence.precision()));
    let best = &records[0];
    if let Some(twin) = records.get(1).filter(|r| r.evidence.precision() == best.evidence.precision()) {
        return Err(NodeInputError {
            origin: twin.origin.clone(),
            problem: format!(
                "node {name:?} is also described in {} (give each node once per kind of input)",
                best.origin
            ),
        });
    }
    let labels = records.iter().find_map(|r| match &r.evidence {
        Evidence::Labels { os, architecture, os_version, .. } => Some((os, architecture, os_version)),
        _ => None,
    });
    let profile = match &best.evidence {
        Evidence::Labels { ocifit: Some(target), .. } => NodeProfile::exact(target.clone()),
        Evidence::Labels { os, architecture, os_version, names, ocifit: None } => {
            let mut p = NodeProfile::from_nfd(os, architecture, names.iter(), Published::Labels);
            p.min.platform.os_version.clone_from(os_version);
            p.max.platform.os_version.clone_from(os_version);
            p
        }
        Evidence::NodeFeature { architecture, names } => {
            let arch = labels.map(|(_, a, _)| a.as_str()).or(architecture.as_deref()).ok_or_else(|| NodeInputError {
                origin: best.origin.clone(),
                problem: format!(
                    "cannot tell the architecture of node {name:?} from its NodeFeature; give its Node too (kubectl get nodes -o json)"
                ),
            })?;
            let os = labels.map_or("linux", |(os, _, _)| os.as_str());
            NodeProfile::from_nfd(os, arch, names.iter(), Published::NodeFeature)
        }
        Evidence::Exact { target, unknown } => {
            if unknown.is_empty() {
                NodeProfile::exact(target.clone())
            } else {
                let mut max = target.features;
                max.union(unknown);
                NodeProfile { min: target.clone(), max: Target { platform: target.platform.clone(), features: max } }
            }
        }
    };
    if let Some((_, architecture, _)) = labels {
        let labelled = Platform::new("linux", architecture, "").normalized().architecture;
        if labelled != profile.min.platform.architecture {
            return Err(NodeInputError {
                origin: best.origin.clone(),
                problem: format!(
                    "node {name:?} is {} here but {labelled} in its labels",
                    profile.min.platform.architecture
                ),
            });
        }
    }
    Ok((best.origin.clone(), profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_name_nodes() {
        assert_eq!(file_node_name(Path::new("/x/node-1.cpuinfo")), "node-1");
        assert_eq!(file_node_name(Path::new("/x/node-2.txt")), "node-2");
        assert_eq!(file_node_name(Path::new("/x/node-3")), "node-3");
    }

    /// docs/fleet.md, "Implied features": an input that cannot see some
    /// features (NFD labels, a `NodeFeature`) knows the hidden ones its
    /// visible features imply; a visible feature's absence stays absence;
    /// complete inputs (ocifit's labels, profiles, captures) stay exactly as
    /// detected — a detected host is not closed (docs/semantics.md §5).
    #[test]
    fn s4_6_nfd_hidden_features_implied_by_visible_ones_are_known() {
        let node = |labels: &str| {
            format!(
                r#"{{"kind":"Node","metadata":{{"name":"n","labels":{{"kubernetes.io/os":"linux","kubernetes.io/arch":"amd64"{labels}}}}}}}"#
            )
        };
        let node_feature = |names: &str| {
            format!(
                r#"{{"kind":"NodeFeature","metadata":{{"name":"n"}},"spec":{{"features":{{"flags":{{"cpu.cpuid":{{"elements":{{{names}}}}}}}}}}}}}"#
            )
        };
        let cpuid = |n: &str| format!(r#","feature.node.kubernetes.io/cpu-cpuid.{n}":"true""#);
        let flags = "fpu cx8 cmov mmx fxsr sse sse2 avx avx2";
        // (input, feature, known present at min, possibly present at max)
        let cases: &[(String, &str, bool, bool)] = &[
            (node(&(cpuid("AVX") + &cpuid("AVX2"))), "sse4_2", true, true),
            (node(&(cpuid("AVX") + &cpuid("AVX2"))), "ssse3", true, true),
            (node(&(cpuid("AVX") + &cpuid("AVX2"))), "bmi2", false, true),
            (node(&(cpuid("AVX") + &cpuid("AVX2"))), "popcnt", false, true),
            (node(&cpuid("AVX512F")), "f16c", true, true),
            (node(&cpuid("AVX512F")), "fma", false, false),
            (node(&cpuid("AVX512F")), "avx2", false, false),
            (node(&cpuid("VPCLMULQDQ")), "pclmulqdq", true, true),
            (node(&cpuid("FMA3")), "pclmulqdq", false, true),
            (node(""), "sse4_2", false, true),
            (node_feature(r#""SSE2":{},"AVX":{},"AVX2":{}"#), "sse4_2", false, false),
            (node_feature(r#""SSE2":{},"AVX":{},"AVX2":{},"SSE42":{}"#), "sse4_2", true, true),
            (
                node(
                    r#","feature.node.kubernetes.io/ocifit-feature.avx":"true","feature.node.kubernetes.io/ocifit-feature.avx2":"true""#,
                ),
                "sse4_2",
                false,
                false,
            ),
            (
                r#"[{"name":"n","os":"linux","architecture":"amd64","features":["avx","avx2"]}]"#.into(),
                "sse4_2",
                false,
                false,
            ),
            (format!("processor\t: 0\nflags\t\t: {flags}\n"), "sse4_2", false, false),
        ];
        for (input, feature, at_min, at_max) in cases {
            let records = parse(input.as_bytes(), "input", "n").unwrap_or_else(|e| panic!("{input}: {e}"));
            let fleet = Fleet::from_records(records).unwrap();
            let profile = &fleet.nodes[0].profile;
            let id = FeatureTable::builtin().resolve(ocifit_core::Family::X86, feature).unwrap();
            let got = (profile.min.features.contains(id), profile.max.features.contains(id));
            assert_eq!(got, (*at_min, *at_max), "{feature} on {input}");
        }
    }

    #[test]
    fn architecture_of_a_node_feature() {
        let v = |names: &[&str]| guess_architecture(&Names::new(names.iter().copied()));
        assert_eq!(v(&["AVX2", "SSE2"]), Some("amd64"));
        assert_eq!(v(&["FP", "ASIMD", "AES"]), Some("arm64"));
        assert_eq!(v(&["AES"]), None);
    }
}
