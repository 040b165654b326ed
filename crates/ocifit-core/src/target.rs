//! Targets: what ocifit selects for (§1). One type for the host, a profile,
//! a cpuinfo capture, a node's labels and a `--platform` flag.

use serde_json::{Map, Value, json};

use crate::platform::Platform;
use crate::table::{Family, FeatureId, FeatureSet, FeatureTable};
use crate::vector::fallback_vector;

/// A platform (normalized) and the CPU features it supports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub platform: Platform,
    pub features: FeatureSet,
}

/// A feature name given on the command line that the table does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFeature {
    pub name: String,
    pub architecture: String,
    /// Families where the name does mean something.
    pub elsewhere: Vec<Family>,
}

impl std::fmt::Display for UnknownFeature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "feature {:?} is not known on {}", self.name, self.architecture)?;
        if !self.elsewhere.is_empty() {
            let names: Vec<&str> = self.elsewhere.iter().map(|f| f.name()).collect();
            write!(f, " (it is a {} feature)", names.join("/"))?;
        }
        f.write_str("; `ocifit features` lists the known ones")
    }
}

impl std::error::Error for UnknownFeature {}

impl Target {
    /// A target with exactly these features.
    pub fn new(platform: &Platform, features: FeatureSet) -> Target {
        Target { platform: platform.normalized(), features }
    }

    /// A target that supports exactly what its variant guarantees (§8).
    pub fn guaranteed(platform: &Platform, table: FeatureTable) -> Target {
        let platform = platform.normalized();
        let features = guaranteed_features(table, &platform.architecture, &platform.variant);
        Target { platform, features }
    }

    /// Add features named on the command line (aliases allowed).
    pub fn add_named<S: AsRef<str>>(&mut self, table: FeatureTable, names: &[S]) -> Result<(), UnknownFeature> {
        for name in names {
            let id = resolve_for(table, &self.platform.architecture, name.as_ref())?;
            self.features.insert(id);
        }
        Ok(())
    }

    /// §8's platform object with `features` (sorted canonical names).
    pub fn to_json(&self) -> Value {
        let mut obj = platform_json(&self.platform);
        obj.insert("features".into(), json!(self.features.sorted_names()));
        Value::Object(obj)
    }
}

/// A command-line spelling -> row valid on `architecture`.
pub fn resolve_for(table: FeatureTable, architecture: &str, name: &str) -> Result<FeatureId, UnknownFeature> {
    let unknown = || UnknownFeature {
        name: name.into(),
        architecture: architecture.into(),
        elsewhere: table.resolve_anywhere(name).into_iter().map(|id| id.feature().family).collect(),
    };
    let family = Family::of(architecture).ok_or_else(unknown)?;
    let id = table.resolve(family, name.trim()).ok_or_else(unknown)?;
    if id.feature().valid_for(architecture) { Ok(id) } else { Err(unknown()) }
}

/// The union of the levels of `architecture` in its fallback vector.
pub fn guaranteed_features(table: FeatureTable, architecture: &str, variant: &str) -> FeatureSet {
    let mut set = FeatureSet::new();
    for av in fallback_vector(architecture, variant) {
        if av.architecture != architecture {
            continue;
        }
        if let Some(level) = table.level(architecture, &av.variant) {
            set.extend(level.features.iter().copied());
        }
    }
    set
}

impl Extend<FeatureId> for FeatureSet {
    fn extend<I: IntoIterator<Item = FeatureId>>(&mut self, iter: I) {
        for id in iter {
            self.insert(id);
        }
    }
}

/// An OCI platform object, empty fields omitted.
pub fn platform_json(p: &Platform) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("os".into(), json!(p.os));
    obj.insert("architecture".into(), json!(p.architecture));
    if !p.variant.is_empty() {
        obj.insert("variant".into(), json!(p.variant));
    }
    if !p.os_version.is_empty() {
        obj.insert("os.version".into(), json!(p.os_version));
    }
    if !p.os_features.is_empty() {
        obj.insert("os.features".into(), json!(p.os_features));
    }
    obj
}
