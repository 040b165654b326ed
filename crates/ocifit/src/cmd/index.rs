//! `ocifit index add|set-features|remove|fix-order`: edit an index's
//! entries without touching its images (docs/editing.md).
//!
//! The edits are `ocifit_lint::edit` (pure, on the JSON document, refused
//! when the result has a lint error the input has not); this file reads the
//! SOURCE, and writes the result where asked: stdout, `-o FILE`, a diff
//! (`--dry-run`), the OCI layout it came from (`--in-place`) or a registry
//! (`--push`). Exit codes (§8): 0 done; 1 refused (the result would be
//! worse than the input); 2 bad input or usage, unreachable registry,
//! missing manifests in the push target.

use std::io::Write as _;

use ocifit_lint::Linter;
use ocifit_lint::edit::{self, EditErrorKind, Edited, Op};
use ocifit_source::layout::write::{LayoutLock, write_index};
use ocifit_source::registry::push::{PushError, push_index};
use ocifit_source::{Digest, Loaded, Options, Reference, Source};
use serde_json::Value;

use crate::cli::{EditOutput, IndexCommand};
use crate::error::{Failure, Outcome};
use crate::output;

pub fn run(command: IndexCommand) -> Outcome {
    let (source, op, out) = match command {
        IndexCommand::Add(a) => {
            (a.source, Op::Add { digest: a.digest, features: a.features, variant: a.variant }, a.out)
        }
        IndexCommand::SetFeatures(a) => {
            let features = if a.clear { None } else { Some(a.features) };
            (a.source, Op::SetFeatures { entry: a.entry, features }, a.out)
        }
        IndexCommand::Remove(a) => (a.source, Op::Remove { entry: a.entry }, a.out),
        IndexCommand::FixOrder(a) => (a.source, Op::FixOrder, a.out),
    };
    let source = Source::parse(&source);
    let push = out.push.as_deref().map(push_target).transpose()?;
    if out.in_place && !matches!(source, Source::OciLayout { .. }) {
        return Err(Failure::bad(format!(
            "--in-place: {source} is not an OCI layout (oci:DIR[:TAG]); use -o FILE, or --push for a registry"
        )));
    }

    // --in-place: the layout is locked before the index to edit is read,
    // until the edit is in place (docs/editing.md).
    let lock = match &source {
        Source::OciLayout { dir, .. } if out.in_place => {
            Some(LayoutLock::acquire(dir).map_err(|e| Failure::bad(format!("{source}: --in-place: {e}")))?)
        }
        _ => None,
    };
    let loaded = source.load()?;
    if loaded.resolved.as_ref().is_some_and(|r| r.single_manifest) {
        return Err(Failure::bad(format!(
            "{source}: names a single image manifest, not an index: there are no entries to edit"
        )));
    }
    let input = loaded.index.document();
    let edited = edit::apply(&Linter::new(), input, &op).map_err(|e| Failure {
        code: if e.kind == EditErrorKind::Refused { 1 } else { 2 },
        message: format!("{source}: {}", e.message),
    })?;
    let bytes = if edited.changed { edit::render(&edited.document) } else { loaded.bytes.clone() };

    if out.dry_run {
        output::print(&diff(&source, input, &edited));
        report(&edited);
        return Ok(0);
    }
    if let Some(path) = &out.output {
        ocifit_source::localfs::replace_file(path, &bytes)
            .map_err(|e| Failure::bad(format!("-o {}: cannot write: {e}", path.display())))?;
    }
    if let Some(lock) = &lock {
        in_place(lock, &loaded, &bytes, edited.changed)?;
    }
    if let Some(reference) = &push {
        let media_type = media_type(&edited.document, &loaded);
        let digest = push_index(reference, &bytes, &media_type, &Options::current()).map_err(|e| match e {
            // Every missing digest is named (up to ten): longer than the usual one-line cut.
            PushError::Missing { .. } => Failure { code: 2, message: format!("--push {}: {e}", push_arg(&out)) },
            PushError::Other(_) => Failure::bad(format!("--push {}: {e}", push_arg(&out))),
        })?;
        output::print(&format!("{}@{digest}\n", reference.name()));
    }
    if out.output.is_none() && !out.in_place && push.is_none() {
        output::print(&String::from_utf8_lossy(&bytes));
    }
    report(&edited);
    Ok(0)
}

/// What changed, and any warning the edit added, on stderr (once the
/// result is where it was asked to go).
fn report(edited: &Edited) {
    let mut err = std::io::stderr().lock();
    for line in &edited.summary {
        let _ = writeln!(err, "ocifit: {line}");
    }
    for d in &edited.new_warnings {
        let _ = writeln!(err, "{}[{}] at {}: {}", d.severity, d.code, d.pointer, d.message);
    }
}

/// `--push docker://REF`: a reference with an explicit tag or digest.
fn push_target(arg: &str) -> Result<Reference, Failure> {
    let text = arg.strip_prefix("docker://").unwrap_or(arg);
    let shown = ocifit_source::reference::redact(arg);
    let reference = Reference::parse(text).map_err(|e| Failure::bad(format!("--push {shown}: {e}")))?;
    let last = text.rsplit('/').next().unwrap_or(text);
    if !last.contains(':') && !text.contains('@') {
        return Err(Failure::bad(format!(
            "--push {arg}: name a tag or digest (docker://{text}:TAG); ocifit does not push to `latest` implicitly"
        )));
    }
    Ok(reference)
}

fn push_arg(out: &EditOutput) -> &str {
    out.push.as_deref().unwrap_or_default()
}

/// The index's own `mediaType`, else what the source said it was, else OCI.
fn media_type(document: &Value, loaded: &Loaded) -> String {
    document
        .get("mediaType")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| loaded.resolved.as_ref().map(|r| r.media_type.clone()).filter(|m| !m.is_empty()))
        .unwrap_or_else(|| ocifit_core::index::OCI_INDEX.to_string())
}

fn in_place(lock: &LayoutLock, loaded: &Loaded, bytes: &[u8], changed: bool) -> Result<(), Failure> {
    let Source::OciLayout { dir, tag } = &loaded.source else { unreachable!("checked before loading") };
    let name = format!("oci:{}", dir.display());
    let old = loaded.resolved.as_ref().and_then(|r| r.digest.as_deref());
    if !changed {
        eprintln!("ocifit: nothing changed; {} was not written", loaded.source);
        if let Some(d) = old {
            output::print(&format!("{name}@{d}\n"));
        }
        return Ok(());
    }
    let old = old.map(Digest::parse).transpose().map_err(|e| Failure::bad(format!("{}: {e}", loaded.source)))?;
    let written = write_index(lock, tag.as_deref(), old.as_ref(), bytes)
        .map_err(|e| Failure::bad(format!("{}: --in-place: {e}", loaded.source)))?;
    match written {
        Some(d) => output::print(&format!("{name}@{d}\n")),
        None => eprintln!("ocifit: rewrote {}/index.json", dir.display()),
    }
    Ok(())
}

/// A unified diff (3 lines of context) between the input and the result,
/// both as ocifit prints an index, so that only the edit shows.
fn diff(source: &Source, input: &Value, edited: &Edited) -> String {
    if !edited.changed {
        return String::new();
    }
    let before = String::from_utf8_lossy(&edit::render(input)).into_owned();
    let after = String::from_utf8_lossy(&edit::render(&edited.document)).into_owned();
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(&source.to_string(), &format!("{source} (edited)"))
        .to_string()
}
