//! Lint for OCI image indexes that use `platform.features`: what
//! `ocifit lint` checks, how it says so, and how it fixes what it safely can.
//!
//! Three layers of checks run on the JSON document as read:
//!
//! 1. [`schema`]: the OCI image-spec's own JSON schemas (image index,
//!    content descriptor, `defs-descriptor.json`, `defs.json`; Draft 4),
//!    embedded, with every `$ref` resolved in memory;
//! 2. [`checks`]: what the schema misses (`platform.features` is an array of
//!    non-empty strings; digest lengths per algorithm);
//! 3. [`rules`]: the feature rules of docs/semantics.md §2 and §6 (unknown,
//!    duplicate and redundant features; unsafe order, no fallback,
//!    unreachable entries), on the typed view — only when
//!    [`ocifit_core::Index::from_value`] accepts the document; when it does
//!    not, its complaint is reported as [`Code::IndexInvalid`].
//!
//! Every finding is a [`Diagnostic`] with a stable [`Code`], a
//! [`Severity`], an RFC 6901 JSON Pointer, a message and a hint.
//! [`Report`] maps pointers back to lines and columns of the input and
//! renders text, JSON or SARIF 2.1.0; [`fix()`] applies the safe fixes to the
//! document; [`edit`] has the edits of `ocifit index` (add, set-features,
//! remove, fix-order), checked so they add no lint error.
//!
//! ```
//! use ocifit_lint::{Code, Linter};
//!
//! let doc = serde_json::json!({"schemaVersion": 2, "manifests": [
//!   {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
//!    "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
//!    "platform": {"os": "linux", "architecture": "amd64", "features": ["sse4.2"]}}]});
//! let found = Linter::new().lint(doc);
//! let codes: Vec<Code> = found.iter().map(|d| d.code).collect();
//! assert_eq!(codes, [Code::NoFallback, Code::FeatureUnknown]);
//! assert_eq!(found[1].pointer, "/manifests/0/platform/features/0");
//! assert!(found[1].hint.contains("\"sse4_2\""));
//! ```
//!
//! Pure: no I/O, no global state. Reading the input, writing the output and
//! choosing exit codes is the CLI's job (`crates/ocifit/src/cmd/lint.rs`).
//! Rules, codes and decisions: `docs/lint.md`.

#![forbid(unsafe_code)]

pub mod checks;
pub mod diagnostic;
pub mod edit;
pub mod fix;
pub mod locate;
pub mod render;
pub mod rules;
pub mod schema;

pub use diagnostic::{Code, Diagnostic, Severity, Summary};
pub use fix::{Fix, Fixed, fix};
pub use locate::{Position, SourceMap};
pub use render::Report;

use ocifit_core::{FeatureTable, Index};
use serde_json::Value;

use crate::schema::IndexSchema;

/// The compiled schema and the feature table: build once, lint many.
#[derive(Debug)]
pub struct Linter {
    schema: IndexSchema,
    table: FeatureTable,
}

impl Default for Linter {
    fn default() -> Self {
        Linter::new()
    }
}

impl Linter {
    /// Compile the embedded schemas. They are constants checked by this
    /// crate's tests, so this cannot fail in a tested build.
    pub fn new() -> Linter {
        Linter {
            schema: IndexSchema::compile().expect("the embedded image-spec schemas compile (tested)"),
            table: FeatureTable::builtin(),
        }
    }

    /// Every diagnostic for `document`, sorted by pointer.
    pub fn lint(&self, document: Value) -> Vec<Diagnostic> {
        self.lint_keeping(document).0
    }

    /// [`Linter::lint`], handing the document back when the typed view
    /// accepted it (a caller about to exit can skip freeing a large tree).
    pub fn lint_keeping(&self, document: Value) -> (Vec<Diagnostic>, Option<Value>) {
        let mut out = Vec::new();
        self.schema.check(&document, &mut out);
        checks::check(&document, &mut out);
        let kept = match Index::from_value(document) {
            Ok(index) => {
                rules::check(&index, self.table, &mut out);
                Some(index.into_document())
            }
            Err(e) => {
                // The schema or the raw checks usually said it already, and better.
                if !out.iter().any(|d| d.pointer == e.pointer && d.severity == Severity::Error) {
                    out.push(Diagnostic::new(
                        Code::IndexInvalid,
                        e.pointer.clone(),
                        e.problem.clone(),
                        "ocifit reads OCI image indexes and Docker manifest lists; the feature rules \
                         were not checked",
                    ));
                }
                None
            }
        };
        diagnostic::sort(&mut out);
        (out, kept)
    }

    /// Parse bytes and lint them. `Err` only when they are not JSON at all
    /// (exit 2 in the CLI); every other problem is a diagnostic.
    pub fn lint_bytes(&self, bytes: &[u8]) -> Result<Vec<Diagnostic>, serde_json::Error> {
        let document: Value = serde_json::from_slice(bytes)?;
        Ok(self.lint(document))
    }

    pub fn table(&self) -> FeatureTable {
        self.table
    }
}

/// Lint with a freshly built [`Linter`].
pub fn lint(document: Value) -> Vec<Diagnostic> {
    Linter::new().lint(document)
}

/// Whether any diagnostic is an error (`ocifit lint` exits 1).
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity == Severity::Error)
}
