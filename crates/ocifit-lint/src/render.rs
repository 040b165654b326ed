//! The three output formats of `ocifit lint`: compiler-style text, §8 JSON
//! and SARIF 2.1.0. Pure: each returns a string or a JSON value.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::diagnostic::{Code, Diagnostic, Summary};
use crate::locate::{Position, SourceMap};

/// SARIF's schema, as `$schema` of the log.
pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Diagnostics of one input, each with where its pointer lands in the text.
#[derive(Debug)]
pub struct Report<'a> {
    /// The input as the user named it (`index.json`, `<stdin>`).
    pub name: String,
    /// For SARIF: a URI reference to the file, `None` for standard input.
    pub uri: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
    positions: Vec<Option<Position>>,
    map: SourceMap<'a>,
}

impl<'a> Report<'a> {
    pub fn new(name: impl Into<String>, uri: Option<String>, bytes: &'a [u8], diagnostics: Vec<Diagnostic>) -> Self {
        let map = SourceMap::new(bytes);
        let pointers: Vec<&str> = diagnostics.iter().map(|d| d.pointer.as_str()).collect();
        let positions = map.locate_all(&pointers);
        Report { name: name.into(), uri, diagnostics, positions, map }
    }

    pub fn summary(&self) -> Summary {
        Summary::of(&self.diagnostics)
    }

    pub fn position(&self, i: usize) -> Option<Position> {
        self.positions.get(i).copied().flatten()
    }

    /// Compiler-style text, one block per diagnostic, then a summary line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let width = self.positions.iter().flatten().map(|p| p.line).max().unwrap_or(1).to_string().len();
        let pad = " ".repeat(width);
        for (i, d) in self.diagnostics.iter().enumerate() {
            let _ = writeln!(out, "{}[{}]: {}", d.severity, d.code, d.message);
            let pointer = if d.pointer.is_empty() { "(the whole document)".to_string() } else { d.pointer.clone() };
            match self.position(i) {
                Some(p) => {
                    let _ = writeln!(out, "{pad}--> {}:{}:{} at {pointer}", self.name, p.line, p.column);
                    let (text, caret) = self.map.excerpt(p.offset, 40, 60);
                    let _ = writeln!(out, "{pad} |");
                    let _ = writeln!(out, "{:>width$} | {text}", p.line);
                    let _ = writeln!(out, "{pad} | {}^", " ".repeat(caret));
                }
                None => {
                    let _ = writeln!(out, "{pad}--> {} at {pointer}", self.name);
                }
            }
            let _ = writeln!(out, "{pad} = hint: {}", d.hint);
            out.push('\n');
        }
        let _ = writeln!(out, "{}: {}", self.name, self.summary());
        out
    }

    /// §8: `{"diagnostics":[{"code","severity","pointer","message","hint","line","column"}], "summary":{...}}`.
    pub fn json(&self) -> Value {
        let diagnostics: Vec<Value> = self
            .diagnostics
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut obj = d.to_json();
                if let Some(p) = self.position(i) {
                    obj.insert("line".into(), json!(p.line));
                    obj.insert("column".into(), json!(p.column));
                }
                Value::Object(obj)
            })
            .collect();
        let s = self.summary();
        json!({
            "source": self.name,
            "diagnostics": diagnostics,
            "summary": {"errors": s.errors, "warnings": s.warnings, "infos": s.infos},
        })
    }

    /// A SARIF 2.1.0 log: one run, every rule in `tool.driver.rules`, one
    /// result per diagnostic with its region in the input.
    pub fn sarif(&self, tool_version: &str) -> Value {
        let rules: Vec<Value> = Code::ALL
            .iter()
            .map(|c| {
                json!({
                    "id": c.as_str(),
                    "name": rule_name(*c),
                    "shortDescription": {"text": c.summary()},
                    "defaultConfiguration": {"level": c.severity().sarif_level()},
                    "properties": {"fixable": c.fixable()},
                })
            })
            .collect();
        let artifact_location = || match &self.uri {
            Some(uri) => json!({"uri": uri, "index": 0}),
            None => json!({"description": {"text": self.name}}),
        };
        let results: Vec<Value> = self
            .diagnostics
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut physical = Map::new();
                physical.insert("artifactLocation".into(), artifact_location());
                if let Some(p) = self.position(i) {
                    physical.insert("region".into(), json!({"startLine": p.line, "startColumn": p.column}));
                }
                let mut location = Map::new();
                location.insert("physicalLocation".into(), Value::Object(physical));
                location
                    .insert("logicalLocations".into(), json!([{"fullyQualifiedName": d.pointer, "kind": "element"}]));
                json!({
                    "ruleId": d.code.as_str(),
                    "ruleIndex": Code::ALL.iter().position(|c| *c == d.code).unwrap_or(0),
                    "level": d.severity.sarif_level(),
                    "message": {"text": format!("{} ({})", d.message, d.hint)},
                    "locations": [Value::Object(location)],
                    "properties": {"pointer": d.pointer, "severity": d.severity.as_str(), "hint": d.hint},
                })
            })
            .collect();
        let mut run = Map::new();
        run.insert(
            "tool".into(),
            json!({"driver": {"name": "ocifit", "semanticVersion": tool_version, "version": tool_version, "rules": rules}}),
        );
        if let Some(uri) = &self.uri {
            run.insert("artifacts".into(), json!([{"location": {"uri": uri}, "mimeType": "application/json"}]));
        }
        run.insert("columnKind".into(), json!("unicodeCodePoints"));
        run.insert("results".into(), Value::Array(results));
        json!({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [Value::Object(run)]})
    }
}

/// `unsafe-order` -> `UnsafeOrder` (SARIF's rule `name`).
fn rule_name(code: Code) -> String {
    code.as_str()
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// A relative or absolute path as a SARIF `uri` (RFC 3986 reference):
/// separators become `/`, and everything but unreserved characters is
/// percent-encoded. Absolute paths get a `file://` prefix.
pub fn path_uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut out = String::new();
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(path_uri("index.json"), "index.json");
        assert_eq!(path_uri("my dir/a#b.json"), "my%20dir/a%23b.json");
        assert_eq!(path_uri("/tmp/x.json"), "file:///tmp/x.json");
    }

    #[test]
    fn rule_names() {
        assert_eq!(rule_name(Code::UnsafeOrder), "UnsafeOrder");
        assert_eq!(rule_name(Code::Schema), "Schema");
    }
}
