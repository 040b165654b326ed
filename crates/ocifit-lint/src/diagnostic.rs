//! One diagnostic type for every rule: a stable code, a severity, an RFC 6901
//! JSON Pointer into the index, a message and a hint.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value, json};

/// How bad a finding is. `Error`s make `ocifit lint` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    /// `error`, `warning` or `info`: the word JSON output uses (§8).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// SARIF's `level`: `error`, `warning` or `note`.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "note",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every rule, by its stable code. Codes are relied on by users' scripts and
/// code-scanning dashboards: add new ones, never rename or reuse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// The image-spec JSON schema (image index, descriptor) rejects a value.
    Schema,
    /// Not an index ocifit can read (an image manifest, a wrong media type,
    /// a wrong type the schema does not cover).
    IndexInvalid,
    /// `platform.features` is not an array of strings.
    FeaturesType,
    /// An empty string in `platform.features`.
    FeatureEmpty,
    /// A `sha256`/`sha512` digest whose encoded part is not 64/128 lowercase hex characters.
    DigestEncoding,
    /// A feature name the table does not know for the entry's architecture
    /// (including aliases: an index must use canonical names).
    FeatureUnknown,
    /// A feature listed twice in one entry.
    FeatureDuplicate,
    /// An entry that needs CPU features comes before the fallback entry of its
    /// platform, so runtimes that ignore features pick it (§6).
    UnsafeOrder,
    /// A platform has only entries that need CPU features.
    NoFallback,
    /// An entry that no target can ever select.
    UnreachableEntry,
    /// A feature the entry's variant already guarantees.
    FeatureRedundant,
    /// A level target (`amd64/v4`) would be given an entry meant for a lower
    /// level although an entry meant for it is compatible.
    LevelOutranked,
    /// An entry's features name part of a level: the level name is probably meant.
    LevelPartial,
    /// A descriptor's `data` is not RFC 4648 base64, or not the content its
    /// `size` and `digest` name.
    DataInvalid,
}

impl Code {
    pub const ALL: [Code; 14] = [
        Code::Schema,
        Code::IndexInvalid,
        Code::FeaturesType,
        Code::FeatureEmpty,
        Code::DigestEncoding,
        Code::FeatureUnknown,
        Code::FeatureDuplicate,
        Code::UnsafeOrder,
        Code::NoFallback,
        Code::UnreachableEntry,
        Code::FeatureRedundant,
        Code::LevelOutranked,
        Code::LevelPartial,
        Code::DataInvalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::Schema => "schema",
            Code::IndexInvalid => "index-invalid",
            Code::FeaturesType => "features-type",
            Code::FeatureEmpty => "feature-empty",
            Code::DigestEncoding => "digest-encoding",
            Code::FeatureUnknown => "feature-unknown",
            Code::FeatureDuplicate => "feature-duplicate",
            Code::UnsafeOrder => "unsafe-order",
            Code::NoFallback => "no-fallback",
            Code::UnreachableEntry => "unreachable-entry",
            Code::FeatureRedundant => "feature-redundant",
            Code::LevelOutranked => "level-outranked",
            Code::LevelPartial => "level-partial",
            Code::DataInvalid => "data-invalid",
        }
    }

    /// Every code has one severity.
    pub fn severity(self) -> Severity {
        match self {
            Code::Schema
            | Code::IndexInvalid
            | Code::FeaturesType
            | Code::FeatureEmpty
            | Code::DigestEncoding
            | Code::FeatureUnknown
            | Code::UnsafeOrder
            | Code::DataInvalid => Severity::Error,
            Code::FeatureDuplicate | Code::NoFallback | Code::UnreachableEntry | Code::LevelOutranked => {
                Severity::Warning
            }
            Code::FeatureRedundant | Code::LevelPartial => Severity::Info,
        }
    }

    /// One line on what the rule checks (SARIF `shortDescription`, docs).
    pub fn summary(self) -> &'static str {
        match self {
            Code::Schema => "The OCI image-spec JSON schema for image indexes rejects a value.",
            Code::IndexInvalid => "The document is not an image index ocifit can read.",
            Code::FeaturesType => "platform.features must be an array of strings.",
            Code::FeatureEmpty => "platform.features must not contain an empty string.",
            Code::DigestEncoding => "A sha256 digest has 64 and a sha512 digest 128 lowercase hex characters.",
            Code::FeatureUnknown => "A feature name that is not a canonical name for the entry's architecture.",
            Code::FeatureDuplicate => "A feature listed more than once in one entry.",
            Code::UnsafeOrder => {
                "An entry that needs CPU features comes before the fallback entry of its platform, so \
                 runtimes that ignore features pick it."
            }
            Code::NoFallback => "A platform has only entries that need CPU features.",
            Code::UnreachableEntry => "An entry that no target can ever select.",
            Code::FeatureRedundant => "A feature the entry's variant already guarantees.",
            Code::LevelOutranked => {
                "A level's machines (amd64/v4, arm64/v8.2) are given an entry meant for a lower level, \
                 although an entry meant for theirs is compatible."
            }
            Code::LevelPartial => "An entry's features name part of a level; the level name is probably meant.",
            Code::DataInvalid => {
                "A descriptor's data is not RFC 4648 base64, or does not decode to the content its size and \
                 digest name."
            }
        }
    }

    /// Whether `ocifit lint --fix` can repair it without changing what a
    /// features-aware runtime selects (beyond what the author meant).
    pub fn fixable(self) -> bool {
        matches!(self, Code::FeatureUnknown | Code::FeatureDuplicate | Code::UnsafeOrder)
    }

    pub fn parse(code: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// RFC 6901 JSON Pointer to the offending value (`""` is the whole document).
    pub pointer: String,
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl Diagnostic {
    pub fn new(code: Code, pointer: impl Into<String>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            pointer: pointer.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// §8's shape: `code`, `severity`, `pointer`, `message`, plus `hint`.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut obj = Map::new();
        obj.insert("code".into(), json!(self.code.as_str()));
        obj.insert("severity".into(), json!(self.severity.as_str()));
        obj.insert("pointer".into(), json!(self.pointer));
        obj.insert("message".into(), json!(self.message));
        obj.insert("hint".into(), json!(self.hint));
        obj
    }
}

/// Counts by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Summary {
    pub fn of(diagnostics: &[Diagnostic]) -> Summary {
        let mut s = Summary::default();
        for d in diagnostics {
            match d.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.infos += 1,
            }
        }
        s
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, word: &str| if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") };
        write!(
            f,
            "{}, {}, {}",
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            plural(self.infos, "info")
        )
    }
}

/// Document order for pointers: token by token, array indexes compared as
/// numbers (`/manifests/2` before `/manifests/10`).
pub fn pointer_order(a: &str, b: &str) -> Ordering {
    let mut x = a.split('/');
    let mut y = b.split('/');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let ord = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => p.cmp(q),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

/// Sort diagnostics into a stable, reader-friendly order: by pointer, then
/// severity, then code, then message. Exact duplicates are dropped.
pub fn sort(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        pointer_order(&a.pointer, &b.pointer)
            .then(a.severity.cmp(&b.severity))
            .then(a.code.cmp(&b.code))
            .then_with(|| a.message.cmp(&b.message))
    });
    diagnostics.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(Code::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn pointers_sort_numerically() {
        let mut v = vec!["/manifests/10", "/manifests/2/platform", "", "/manifests/2"];
        v.sort_by(|a, b| pointer_order(a, b));
        assert_eq!(v, ["", "/manifests/2", "/manifests/2/platform", "/manifests/10"]);
    }
}
