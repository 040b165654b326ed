//! `ocifit index create|add|set-features|remove|fix-order|push`: make and
//! edit indexes (docs/editing.md, docs/authoring.md).
//!
//! `create` and `add --image` assemble indexes from separately built images
//! (`ocifit_author`: resolving images, copying them where the index goes).
//! The edits are `ocifit_lint::edit` (pure, on the JSON document, refused
//! when the result has a lint error the input has not); this file reads the
//! SOURCE, and writes the result where asked: stdout, `-o FILE`, a diff
//! (`--dry-run`), the OCI layout it came from (`--in-place`) or a registry
//! (`--push`). Exit codes (§8): 0 done; 1 refused (the result would be
//! worse than the input); 2 bad input or usage, unreachable registry,
//! missing manifests in the push target.

use std::io::Write as _;

use ocifit_author::image::Image;
use ocifit_author::transfer::{self, Destination};
use ocifit_core::{FeatureTable, Platform, Target};
use ocifit_lint::Linter;
use ocifit_lint::edit::{self, EditErrorKind, Edited, Op};
use ocifit_source::layout::write::{LayoutLock, write_index};
use ocifit_source::registry::push::PushError;
use ocifit_source::{Digest, Loaded, Options, Source};
use serde_json::Value;

use crate::cli::{EditOutput, IndexAddArgs, IndexCommand, IndexCreateArgs, IndexPushArgs};
use crate::error::{Failure, Outcome};
use crate::output;

pub fn run(command: IndexCommand) -> Outcome {
    let mut images = Vec::new();
    let (source, op, out) = match command {
        IndexCommand::Create(a) => return create(a),
        IndexCommand::Push(a) => return push(a),
        IndexCommand::Add(a) if a.image.is_some() => {
            let (image, op) = add_image(&a)?;
            images.push(image);
            (a.source, op, a.out)
        }
        IndexCommand::Add(a) => (
            a.source,
            Op::Add { digest: a.digest.unwrap_or_default(), features: a.features, variant: a.variant },
            a.out,
        ),
        IndexCommand::SetFeatures(a) => {
            let features = if a.clear { None } else { Some(a.features) };
            (a.source, Op::SetFeatures { entry: a.entry, features }, a.out)
        }
        IndexCommand::Remove(a) => (a.source, Op::Remove { entry: a.entry }, a.out),
        IndexCommand::FixOrder(a) => (a.source, Op::FixOrder, a.out),
    };
    let source = Source::parse(&source);
    let options = Options::current();
    let push = out.push.as_deref().map(|p| push_target(p, &options)).transpose()?;
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
    // A single image is shown as a one-entry index; adding to it makes a
    // new index (written elsewhere: the tag of a layout names a manifest,
    // and --in-place would leave its descriptor's media type wrong).
    let adding = matches!(op, Op::Add { .. } | Op::Insert { .. });
    let single = loaded.resolved.as_ref().is_some_and(|r| r.single_manifest);
    if single && (!adding || out.in_place) {
        let how = if adding { "; write the new index with -o or --push" } else { "" };
        return Err(Failure::bad(format!(
            "{source}: names a single image manifest, not an index: there are no entries to edit{how}"
        )));
    }
    // Where images given with --image must be copied to: the push target,
    // or the layout edited in place.
    let copy_to = match (&push, &loaded.source) {
        (Some(p), _) => Some(p.clone()),
        (None, Source::OciLayout { dir, tag }) if out.in_place => {
            Some(Destination::Layout { dir: dir.clone(), tag: tag.clone().unwrap_or_default() })
        }
        _ => None,
    };
    // `add --image`, and `add` to a single image, copy SOURCE's images to
    // the target too (the other edits push only the index).
    if copy_to.is_some()
        && adding
        && (single || !images.is_empty())
        && matches!(source, Source::Registry(_) | Source::OciLayout { .. })
    {
        images.insert(0, Image::resolve(&source.to_string(), &options).map_err(Failure::bad)?);
    }
    let input = loaded.index.document();
    let edited = edit::apply(&Linter::new(), input, &op, out.force).map_err(|e| Failure {
        code: if e.kind == EditErrorKind::Refused { 1 } else { 2 },
        message: format!("{source}: {}", e.message),
    })?;
    if !images.is_empty() {
        // Authoring writes indexes that lint clean of errors, whatever SOURCE had.
        ocifit_author::lint_clean(&Linter::new(), &edited.document)
            .map_err(|e| Failure { code: 1, message: format!("{source}: {e}") })?;
    }
    let bytes = if edited.changed { edit::render(&edited.document) } else { loaded.bytes.clone() };
    if out.dry_run {
        output::print(&diff(&source, input, &edited));
        if let Some(destination) = &copy_to {
            transfer::make_available(&images, destination, &options, true, &mut |l| note(&l)).map_err(Failure::bad)?;
        }
        if let Some(p) = &push {
            note(&format!("would push index {} as {}", Digest::sha256(&bytes), p.name()));
        } else if out.in_place && edited.changed {
            note(&format!("would store index {} in {}", Digest::sha256(&bytes), loaded.source));
        }
        report(&edited, true);
        return Ok(0);
    }
    if let Some(destination) = &copy_to {
        transfer::make_available(&images, destination, &options, false, &mut |l| note(&l)).map_err(Failure::bad)?;
    }
    if let Some(path) = &out.output {
        ocifit_source::localfs::replace_file(path, &bytes)
            .map_err(|e| Failure::bad(format!("-o {}: cannot write: {e}", path.display())))?;
    }
    if let Some(lock) = &lock {
        in_place(lock, &loaded, &bytes, edited.changed)?;
    }
    if let Some(destination) = &push {
        let media_type = media_type(&edited.document, &loaded);
        let pushed = write_to(destination, &bytes, &media_type, &options, &format!("--push {}", push_arg(&out)))?;
        output::print(&format!("{pushed}\n"));
    }
    if out.output.is_none() && !out.in_place && push.is_none() {
        output::print(&String::from_utf8_lossy(&bytes));
    }
    report(&edited, false);
    Ok(0)
}

/// `index add --image`: the new entry, from the image's config, with the
/// features asked for.
fn add_image(a: &IndexAddArgs) -> Result<(Image, Op), Failure> {
    let arg = a.image.as_deref().unwrap_or_default();
    let options = Options::current();
    let image = Image::resolve(arg, &options).map_err(Failure::bad)?;
    let mut entries = image.entries(&options).map_err(Failure::bad)?;
    if entries.len() != 1 {
        return Err(Failure::bad(format!(
            "--image {arg}: is an index with {} entries; name one image (its digest, or its own tag)",
            entries.len()
        )));
    }
    let mut entry = entries.remove(0);
    let platform = entry.get_mut("platform").and_then(Value::as_object_mut).expect("made from a config");
    if let Some(v) = &a.variant {
        platform.insert("variant".into(), Value::from(v.as_str()));
    }
    if !a.features.is_empty() {
        let names = entry_features(FeatureTable::builtin(), platform, &a.features)?;
        platform.insert("features".into(), Value::from(names));
    }
    Ok((image, Op::Insert { entry }))
}

/// The canonical names an entry of `platform` lists for `--features`:
/// parsed by the same parser as the target of `select` (so aliases and
/// level names work alike), minus what the architecture guarantees anyway.
fn entry_features(
    table: FeatureTable,
    platform: &serde_json::Map<String, Value>,
    names: &[String],
) -> Result<Vec<&'static str>, Failure> {
    let field = |k: &str| platform.get(k).and_then(Value::as_str).unwrap_or_default();
    let base = Target::guaranteed(&Platform::new(field("os"), field("architecture"), ""), table);
    let mut wanted = base.clone();
    wanted.add_named(table, names).map_err(|e| Failure::bad(format!("--features: {e}")))?;
    let added: Vec<&'static str> =
        wanted.features.iter().filter(|id| !base.features.contains(*id)).map(|id| id.feature().name).collect();
    if added.is_empty() {
        return Err(Failure::bad(format!(
            "--features {}: every {} machine has these; the entry would be a fallback (leave --features out for that)",
            names.join(","),
            field("architecture")
        )));
    }
    Ok(added)
}

/// `index create IMAGE... [OUTPUT]`.
fn create(a: IndexCreateArgs) -> Outcome {
    let options = Options::current();
    let push = a.out.push.as_deref().map(|p| push_target(p, &options)).transpose()?;
    // Every image is found before anything is written.
    let mut images = Vec::new();
    let mut entries = Vec::new();
    for arg in &a.images {
        let image = Image::resolve(arg, &options).map_err(Failure::bad)?;
        entries.extend(image.entries(&options).map_err(Failure::bad)?);
        images.push(image);
    }
    let created = ocifit_author::create(&Linter::new(), entries).map_err(|e| Failure {
        code: if e.starts_with("refused") { 1 } else { 2 },
        message: format!("index create: {e}"),
    })?;
    let bytes = edit::render(&created.document);
    let would = if a.out.dry_run { "would " } else { "" };
    if a.out.dry_run {
        output::print(&String::from_utf8_lossy(&bytes));
        if let Some(destination) = &push {
            transfer::make_available(&images, destination, &options, true, &mut |l| note(&l)).map_err(Failure::bad)?;
            note(&format!("would push index {} as {}", Digest::sha256(&bytes), destination.name()));
        }
    } else {
        if let Some(path) = &a.out.output {
            ocifit_source::localfs::replace_file(path, &bytes)
                .map_err(|e| Failure::bad(format!("-o {}: cannot write: {e}", path.display())))?;
        }
        if let Some(destination) = &push {
            transfer::make_available(&images, destination, &options, false, &mut |l| note(&l)).map_err(Failure::bad)?;
            let named = format!("--push {}", a.out.push.as_deref().unwrap_or_default());
            output::print(&format!(
                "{}\n",
                write_to(destination, &bytes, ocifit_core::index::OCI_INDEX, &options, &named)?
            ));
        } else if a.out.output.is_none() {
            output::print(&String::from_utf8_lossy(&bytes));
        }
    }
    for line in &created.summary {
        note(&format!("{would}{}", if would.is_empty() { line.clone() } else { format!("list {line}") }));
    }
    for d in &created.warnings {
        eprintln!("{}[{}] at {}: {}", d.severity, d.code, d.pointer, d.message);
    }
    Ok(0)
}

/// `index push FILE REF`.
fn push(a: IndexPushArgs) -> Outcome {
    let options = Options::current();
    let source = Source::parse(&a.file);
    let source = match source {
        Source::File(_) | Source::Stdin => source,
        _ => Source::File(a.file.clone().into()),
    };
    let loaded = source.load()?;
    let destination = push_target(&a.reference, &options)?;
    ocifit_author::lint_clean(&Linter::new(), loaded.index.document())
        .map_err(|e| Failure { code: 1, message: format!("{source}: {e}") })?;
    let media_type = media_type(loaded.index.document(), &loaded);
    if a.dry_run {
        let missing = transfer::missing_manifests(&destination, &loaded.bytes).map_err(Failure::bad)?;
        if !missing.is_empty() {
            return Err(Failure::bad(format!(
                "{}: {} lacks {}; nothing would be pushed",
                a.reference,
                destination.name(),
                missing.join(", ")
            )));
        }
        note(&format!("would push index {} as {}", Digest::sha256(&loaded.bytes), destination.name()));
        return Ok(0);
    }
    let pushed = write_to(&destination, &loaded.bytes, &media_type, &options, &a.reference)?;
    output::print(&format!("{pushed}\n"));
    Ok(0)
}

/// Store the index at the destination; `named` is how the user named it
/// (`--push REF`, or REF), for messages.
fn write_to(
    destination: &Destination,
    bytes: &[u8],
    media_type: &str,
    options: &Options,
    named: &str,
) -> Result<String, Failure> {
    transfer::write_index(destination, bytes, media_type, options).map_err(|e| match e {
        // Every missing digest is named (up to ten): longer than the usual one-line cut.
        PushError::Missing { .. } => Failure { code: 2, message: format!("{named}: {e}") },
        PushError::Other(_) => Failure::bad(format!("{named}: {e}")),
    })
}

fn note(line: &str) {
    eprintln!("ocifit: {line}");
}

/// What changed, and any warning the edit added, on stderr (once the
/// result is where it was asked to go); in a dry run, what would change.
fn report(edited: &Edited, dry_run: bool) {
    let mut err = std::io::stderr().lock();
    for line in &edited.summary {
        let line = if dry_run { would(line) } else { line.clone() };
        let _ = writeln!(err, "ocifit: {line}");
    }
    for d in &edited.new_warnings {
        let _ = writeln!(err, "{}[{}] at {}: {}", d.severity, d.code, d.pointer, d.message);
    }
}

/// A summary line of an edit, as what a dry run would do: `added entry 3:
/// …` becomes `would add entry 3: …`.
fn would(line: &str) -> String {
    for (done, to_do) in [("added ", "add "), ("removed ", "remove "), ("moved ", "move ")] {
        if let Some(rest) = line.strip_prefix(done) {
            return format!("would {to_do}{rest}");
        }
    }
    if let Some((what, names)) = line.split_once(": features set to ") {
        return format!("would set the features of {what} to {names}");
    }
    if let Some(what) = line.strip_suffix(": features removed") {
        return format!("would remove the features of {what}");
    }
    format!("would leave as is: {line}")
}

/// `--push docker://REF` (a reference with an explicit tag or digest) or
/// `--push oci:DIR:TAG`.
fn push_target(arg: &str, options: &Options) -> Result<Destination, Failure> {
    Destination::parse(arg, options).map_err(|e| Failure::bad(format!("--push {e}")))
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
