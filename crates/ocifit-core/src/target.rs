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

impl UnknownFeature {
    fn new(table: FeatureTable, architecture: &str, name: &str) -> Self {
        let mut elsewhere: Vec<Family> =
            table.resolve_anywhere(name.trim()).into_iter().map(|id| id.feature().family).collect();
        if let Some((arch, _)) = level_by_name(name.trim()) {
            elsewhere.extend(Family::of(arch));
        }
        elsewhere.dedup();
        UnknownFeature { name: name.into(), architecture: architecture.into(), elsewhere }
    }

    /// Canonical names valid on the architecture close to the name ("did you mean").
    pub fn suggestions(&self) -> Vec<&'static str> {
        let table = FeatureTable::builtin();
        let Some(family) = Family::of(&self.architecture) else { return Vec::new() };
        crate::docs::suggest(table, Some(family), self.name.trim())
            .into_iter()
            .filter(|n| table.canonical(&self.architecture, n).is_some())
            .collect()
    }

    /// The words of a value like `"avx2 bmi2"` when each is a name on the
    /// architecture: the user separated names with spaces, not commas.
    fn spaced_words(&self) -> Option<Vec<&str>> {
        let words: Vec<&str> = self.name.split_whitespace().collect();
        let known = |w: &&str| {
            resolve_for(FeatureTable::builtin(), &self.architecture, w).is_ok() || level_by_name(w).is_some()
        };
        (words.len() > 1 && words.iter().all(known)).then_some(words)
    }
}

/// "a" or "an", as the family's name is said (an x86, an arm64, a ppc64).
pub fn article(family: Family) -> &'static str {
    match family {
        Family::X86 | Family::Arm64 | Family::Arm | Family::S390x => "an",
        Family::Ppc64 | Family::Riscv64 => "a",
    }
}

impl std::fmt::Display for UnknownFeature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(words) = self.spaced_words() {
            return write!(
                f,
                "{:?} is several names: separate them with commas, not spaces ({})",
                self.name,
                words.join(",")
            );
        }
        write!(f, "feature {:?} is not known on {}", self.name, self.architecture)?;
        let level = level_by_name(self.name.trim()).is_some();
        if let Some(first) = self.elsewhere.first() {
            let names: Vec<&str> = self.elsewhere.iter().map(|f| f.name()).collect();
            let what = if level { "level" } else { "feature" };
            write!(f, " (it is {} {} {what})", article(*first), names.join("/"))?;
        } else {
            let close = self.suggestions();
            if !close.is_empty() {
                write!(f, "; did you mean {}?", close.join(" or "))?;
                return Ok(());
            }
        }
        f.write_str("; `ocifit features` lists the known ones")
    }
}

impl std::error::Error for UnknownFeature {}

impl Target {
    /// A target with exactly these features (a detected host: not closed, §5).
    pub fn new(platform: &Platform, features: FeatureSet) -> Target {
        Target { platform: platform.normalized(), features }
    }

    /// A target that supports exactly what its variant guarantees (§8), closed.
    pub fn guaranteed(platform: &Platform, table: FeatureTable) -> Target {
        let platform = platform.normalized();
        let features = guaranteed_features(table, &platform.architecture, &platform.variant).closure();
        Target { platform, features }
    }

    /// Add features named on the command line (aliases and level names
    /// allowed), with everything they imply: a target built from the command
    /// line supports the closure of what was named (§5).
    pub fn add_named<S: AsRef<str>>(&mut self, table: FeatureTable, names: &[S]) -> Result<(), UnknownFeature> {
        for name in names {
            for id in resolve_word(table, &self.platform.architecture, name.as_ref())? {
                self.features.insert(id);
                self.features.extend(id.feature().implied.iter().copied());
            }
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
    let unknown = || UnknownFeature::new(table, architecture, name);
    let family = Family::of(architecture).ok_or_else(unknown)?;
    let id = table.resolve(family, name.trim()).ok_or_else(unknown)?;
    if id.feature().valid_for(architecture) { Ok(id) } else { Err(unknown()) }
}

/// One word of a command-line feature list: a feature spelling (one row)
/// or a level name (its whole guaranteed set, in table order), valid on
/// `architecture`. The parser every command's `--features` goes through.
pub fn resolve_word(table: FeatureTable, architecture: &str, word: &str) -> Result<Vec<FeatureId>, UnknownFeature> {
    match level_features(table, architecture, word) {
        Some(set) => set.map(|s| s.iter().collect()),
        None => resolve_for(table, architecture, word).map(|id| vec![id]),
    }
}

/// When `word` is a level name (`x86-64-v3`, `armv8.2-a`): the features it
/// stands for (the union of the levels along its fallback vector, §2), or
/// the error when that level is not of `architecture`'s family.
pub fn level_features(
    table: FeatureTable,
    architecture: &str,
    word: &str,
) -> Option<Result<FeatureSet, UnknownFeature>> {
    let (level_arch, variant) = level_by_name(word.trim())?;
    let set = guaranteed_features(table, level_arch, &variant);
    let fits =
        Family::of(level_arch) == Family::of(architecture) && set.iter().all(|id| id.feature().valid_for(architecture));
    Some(if fits { Ok(set) } else { Err(UnknownFeature::new(table, architecture, word)) })
}

/// The level a name stands for: (architecture, variant). `x86-64` (also
/// `x86-64-v1`), `x86-64-v2` .. `x86-64-v4`; `armv8-a`, `armv8.1-a` ..,
/// `armv9-a`, `armv9.1-a` .. for the arm64 levels the table defines.
/// Case-insensitive.
pub fn level_by_name(name: &str) -> Option<(&'static str, String)> {
    let lower = name.to_ascii_lowercase();
    let table = FeatureTable::builtin();
    if let Some(rest) = lower.strip_prefix("x86-64") {
        let variant = match rest {
            "" | "-v1" => "",
            "-v2" => "v2",
            "-v3" => "v3",
            "-v4" => "v4",
            _ => return None,
        };
        return table.level("amd64", variant).map(|l| (l.architecture, variant.to_string()));
    }
    let version = lower.strip_prefix("armv")?.strip_suffix("-a")?;
    let variant = match version {
        "8" | "8.0" => String::new(),
        "9" | "9.0" => "v9".to_string(),
        v if v.starts_with("8.") || v.starts_with("9.") => format!("v{v}"),
        _ => return None,
    };
    table.level("arm64", &variant).map(|l| (l.architecture, variant))
}

/// The command-line name of a level (`x86-64-v3`, `armv8.2-a`), for the
/// architectures whose levels have names.
pub fn level_name(architecture: &str, variant: &str) -> Option<String> {
    match (architecture, variant) {
        ("amd64", "") => Some("x86-64".into()),
        ("amd64", v) => Some(format!("x86-64-{v}")),
        ("arm64", "") => Some("armv8-a".into()),
        ("arm64", v) => Some(format!("arm{v}-a")),
        _ => None,
    }
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
