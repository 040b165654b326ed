//! Any bytes through lint: never panics; every diagnostic's pointer maps to
//! a position in the input; fixing never adds errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocifit_lint::{Linter, Severity};

/// Compiling the image-spec schemas is the slow part: do it once.
static LINTER: std::sync::OnceLock<Linter> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let linter = LINTER.get_or_init(Linter::new);
    let Ok(found) = linter.lint_bytes(data) else { return };
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let map = ocifit_lint::SourceMap::new(data);
    for d in &found {
        assert!(d.pointer.is_empty() || d.pointer.starts_with('/'), "{}", d.pointer);
        let _ = map.locate(&d.pointer);
    }
    let errors = found.iter().filter(|d| d.severity == Severity::Error).count();
    let fixed = ocifit_lint::fix(doc, ocifit_core::FeatureTable::builtin());
    let after = linter.lint(fixed.document);
    assert!(after.iter().filter(|d| d.severity == Severity::Error).count() <= errors);
});
