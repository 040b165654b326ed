//! `ocifit lint`: the image-spec schema and the feature rules, reported as
//! text, JSON or SARIF; `--fix` writes the index with the safe fixes.
//! The rules live in `ocifit-lint`; this file reads, writes and picks the
//! exit code (§8: 0 no errors, 1 errors, 2 unreadable input).

use std::io::Write as _;

use ocifit_lint::render::path_uri;
use ocifit_lint::{Code, Diagnostic, Fix, Linter, Report, Severity};
use ocifit_source::{Options, Source};
use serde_json::{Value, json};

use crate::cli::{LintArgs, LintFormat, MinSeverity};
use crate::error::{Failure, Outcome};
use crate::output;

pub fn run(args: LintArgs) -> Outcome {
    if args.fix && args.output.is_none() && args.format != LintFormat::Text {
        return Err(Failure::bad(
            "--fix without -o writes the fixed index to stdout; give -o FILE to get a json or sarif report",
        ));
    }
    if let Some(path) = args.output.as_deref().filter(|p| args.format != LintFormat::Text && output::is_stdout(p)) {
        return Err(Failure::bad(format!(
            "-o {}: that is stdout, where the report goes; give -o FILE to get a json or sarif report",
            path.display()
        )));
    }
    let source = Source::parse(&args.source);
    let (bytes, resolved) = source.read_with(&Options::current())?;
    if resolved.as_ref().is_some_and(|r| r.single_manifest) {
        eprintln!(
            "ocifit: note: {source} is a single image manifest, not an index; linting the one-entry index \
             ocifit reads it as"
        );
    }
    let document = parse(&source, &bytes)?;
    let linter = Linter::new();
    if !args.fix {
        let (mut diagnostics, document) = linter.lint_keeping(document);
        keep_at_least(&mut diagnostics, args.min_severity);
        fix_order_hints(&source, &mut diagnostics);
        // The process ends right after printing: freeing a tree of tens of
        // thousands of maps would only delay that (a third of the time on
        // a 20,000-entry index).
        std::mem::forget(document);
        let report = Report::new(source.to_string(), uri(&source), &bytes, diagnostics);
        print(&report, args.format, &[]);
        return Ok(exit_code(&report.diagnostics, args.strict));
    }

    let fixed = ocifit_lint::fix(document, linter.table());
    let out_bytes = if fixed.changed() {
        // The output formatting rule `ocifit index` shares (docs/editing.md).
        ocifit_lint::edit::render(&fixed.document)
    } else {
        // Nothing to fix: the input, byte for byte.
        bytes.clone()
    };
    let mut remaining = linter.lint(fixed.document);
    keep_at_least(&mut remaining, args.min_severity);
    match &args.output {
        Some(path) => {
            ocifit_source::localfs::replace_file(path, &out_bytes)
                .map_err(|e| Failure::bad(format!("-o {}: cannot write: {e}", path.display())))?;
            let name = path.display().to_string();
            let report = Report::new(name.clone(), Some(path_uri(&name)), &out_bytes, remaining);
            print(&report, args.format, &fixed.fixes);
            Ok(exit_code(&report.diagnostics, args.strict))
        }
        None => {
            output::print(&String::from_utf8_lossy(&out_bytes));
            let report = Report::new("<fixed index>", None, &out_bytes, remaining);
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(fixes_text(&fixed.fixes).as_bytes());
            let _ = err.write_all(report.text().as_bytes());
            Ok(exit_code(&report.diagnostics, args.strict))
        }
    }
}

/// 1 when an error is reported (with `--strict`, a warning too), else 0.
fn exit_code(diagnostics: &[Diagnostic], strict: bool) -> i32 {
    let fails = if strict { Severity::Warning } else { Severity::Error };
    i32::from(diagnostics.iter().any(|d| d.severity <= fails))
}

/// `lint --fix` writes a file: for an index read from a layout or a registry, the `unsafe-order` hint names the command that writes the
/// fixed order back there instead.
fn fix_order_hints(source: &Source, diagnostics: &mut [Diagnostic]) {
    let command = match source {
        Source::OciLayout { .. } => format!("ocifit index fix-order {source} --in-place"),
        Source::Registry(_) => format!("ocifit index fix-order {source} --push {source}"),
        _ => return,
    };
    for d in diagnostics.iter_mut().filter(|d| d.code == Code::UnsafeOrder) {
        d.hint = d.hint.replace("`ocifit lint --fix` does", &format!("`{command}` does"));
    }
}

/// `--min-severity`: drop the findings less severe than `min`.
fn keep_at_least(diagnostics: &mut Vec<Diagnostic>, min: MinSeverity) {
    let min = match min {
        MinSeverity::Info => Severity::Info,
        MinSeverity::Warning => Severity::Warning,
        MinSeverity::Error => Severity::Error,
    };
    diagnostics.retain(|d| d.severity <= min);
}

/// Exit 2 for input that is not JSON at all: everything else is a diagnostic.
fn parse(source: &Source, bytes: &[u8]) -> Result<Value, Failure> {
    serde_json::from_slice(bytes).map_err(|e| {
        let what = if e.classify() == serde_json::error::Category::Eof { "truncated JSON" } else { "invalid JSON" };
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        Failure::bad(format!("{source}: {what} at line {} column {}: {msg}", e.line(), e.column()))
    })
}

fn uri(source: &Source) -> Option<String> {
    match source {
        Source::File(path) => Some(path_uri(&path.display().to_string())),
        _ => None,
    }
}

fn print(report: &Report<'_>, format: LintFormat, fixes: &[Fix]) {
    match format {
        LintFormat::Text => output::print(&(fixes_text(fixes) + &report.text())),
        LintFormat::Json => {
            let mut doc = report.json();
            if !fixes.is_empty() {
                doc["fixes"] = Value::Array(
                    fixes
                        .iter()
                        .map(|f| {
                            json!({"code": f.code.as_str(), "pointer": f.pointer, "applied": f.applied,
                                   "description": f.description})
                        })
                        .collect(),
                );
            }
            output::print_json(&doc);
        }
        LintFormat::Sarif => output::print_json(&report.sarif(env!("CARGO_PKG_VERSION"))),
    }
}

fn fixes_text(fixes: &[Fix]) -> String {
    let mut out = String::new();
    for f in fixes {
        let verb = if f.applied { "fixed" } else { "not fixed" };
        out.push_str(&format!("{verb}[{}]: {}: {}\n", f.code, f.pointer, f.description));
    }
    if !fixes.is_empty() {
        out.push('\n');
    }
    out
}
