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
//!
//! With `--format json` the notes on stderr and the lines on stdout give
//! way to one [`Report`] object on stdout (docs/editing.md, "JSON output").

use std::collections::{HashMap, VecDeque};

use ocifit_author::image::Image;
use ocifit_author::transfer::{self, Destination, Upload};
use ocifit_core::{FeatureTable, Platform, Target};
use ocifit_lint::Linter;
use ocifit_lint::diagnostic::Diagnostic;
use ocifit_lint::edit::{self, EditErrorKind, Edited, Op};
use ocifit_source::layout::write::{LayoutLock, write_index};
use ocifit_source::registry::push::PushError;
use ocifit_source::{Digest, Loaded, Options, Source};
use serde_json::{Map, Value, json};

use crate::cli::{EditOutput, Format, IndexAddArgs, IndexCommand, IndexCreateArgs, IndexPushArgs};
use crate::error::{Failure, Outcome};
use crate::output;

pub fn run(command: IndexCommand) -> Outcome {
    if let Some((path, format)) = command.output() {
        output_apart_from_report(path, format)?;
    }
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
    let mut report = Report::new(out.format, out.dry_run, edited.changed);
    report.changes = changes(&op, input, &edited);
    report.warnings = edited.new_warnings.clone();
    if out.dry_run {
        if report.json {
            if push.is_none() && !out.in_place {
                report.output(&bytes, "stdout", None, false);
            }
        } else {
            output::print(&diff(&source, input, &edited));
        }
        if let Some(destination) = &copy_to {
            transfer::make_available(&images, destination, &options, true, &mut |u| report.upload(u))
                .map_err(Failure::bad)?;
        }
        if let Some(p) = &push {
            report.note(&format!("would push index {} as {}", Digest::sha256(&bytes), p.name()));
            report.output(&bytes, p.kind(), Some(p.name()), false);
        }
        if out.in_place {
            if edited.changed {
                report.note(&format!("would store index {} in {}", Digest::sha256(&bytes), loaded.source));
            }
            report.output(&bytes, "layout", Some(loaded.source.to_string()), false);
        }
        report.edits(&edited);
        return report.finish();
    }
    if let Some(destination) = &copy_to {
        transfer::make_available(&images, destination, &options, false, &mut |u| report.upload(u))
            .map_err(Failure::bad)?;
    }
    if let Some(path) = &out.output {
        ocifit_source::localfs::replace_file(path, &bytes)
            .map_err(|e| Failure::bad(format!("-o {}: cannot write: {e}", path.display())))?;
        report.output(&bytes, "file", Some(path.display().to_string()), true);
    }
    if let Some(lock) = &lock {
        in_place(lock, &loaded, &bytes, edited.changed, &mut report)?;
    }
    if let Some(destination) = &push {
        let media_type = media_type(&edited.document, &loaded);
        let pushed = write_to(destination, &bytes, &media_type, &options, &format!("--push {}", push_arg(&out)))?;
        report.print(&format!("{pushed}\n"));
        report.output(&bytes, destination.kind(), Some(destination.name()), true);
    }
    if out.output.is_none() && !out.in_place && push.is_none() {
        report.print(&String::from_utf8_lossy(&bytes));
        report.output(&bytes, "stdout", None, true);
    }
    report.edits(&edited);
    report.finish()
}

/// `-o` naming stdout with `--format json` would mix the index into the
/// report; without `-o` the report carries the index as `document`.
fn output_apart_from_report(path: &std::path::Path, format: Format) -> Result<(), Failure> {
    if format == Format::Json && crate::output::is_stdout(path) {
        return Err(Failure::bad(format!(
            "-o {}: that is stdout, where the --format json report goes; leave out -o to get the index \
             in the report (\"document\"), or give -o FILE",
            path.display()
        )));
    }
    Ok(())
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
    let mut report = Report::new(a.out.format, a.out.dry_run, true);
    report.changes = created.document["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, entry)| change("add", i, entry))
        .collect();
    report.warnings = created.warnings.clone();
    if a.out.dry_run {
        report.print(&String::from_utf8_lossy(&bytes));
        if let Some(destination) = &push {
            transfer::make_available(&images, destination, &options, true, &mut |u| report.upload(u))
                .map_err(Failure::bad)?;
            report.note(&format!("would push index {} as {}", Digest::sha256(&bytes), destination.name()));
            report.output(&bytes, destination.kind(), Some(destination.name()), false);
        } else {
            report.output(&bytes, "stdout", None, false);
        }
    } else {
        if let Some(path) = &a.out.output {
            ocifit_source::localfs::replace_file(path, &bytes)
                .map_err(|e| Failure::bad(format!("-o {}: cannot write: {e}", path.display())))?;
            report.output(&bytes, "file", Some(path.display().to_string()), true);
        }
        if let Some(destination) = &push {
            transfer::make_available(&images, destination, &options, false, &mut |u| report.upload(u))
                .map_err(Failure::bad)?;
            let named = format!("--push {}", a.out.push.as_deref().unwrap_or_default());
            let pushed = write_to(destination, &bytes, ocifit_core::index::OCI_INDEX, &options, &named)?;
            report.print(&format!("{pushed}\n"));
            report.output(&bytes, destination.kind(), Some(destination.name()), true);
        } else if a.out.output.is_none() {
            report.print(&String::from_utf8_lossy(&bytes));
            report.output(&bytes, "stdout", None, true);
        }
    }
    for change in &created.summary {
        report.note(if a.out.dry_run { &change.planned } else { &change.done });
    }
    report.print_warnings();
    report.finish()
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
    let mut report = Report::new(a.format, a.dry_run, false);
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
        report.note(&format!("would push index {} as {}", Digest::sha256(&loaded.bytes), destination.name()));
        report.output(&loaded.bytes, destination.kind(), Some(destination.name()), false);
        return report.finish();
    }
    let pushed = write_to(&destination, &loaded.bytes, &media_type, &options, &a.reference)?;
    report.print(&format!("{pushed}\n"));
    report.output(&loaded.bytes, destination.kind(), Some(destination.name()), true);
    report.finish()
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

/// What an index command did (or, in a dry run, would do): printed as it
/// happens on stderr in text mode, gathered into one JSON object on stdout
/// with `--format json` (docs/editing.md, "JSON output").
struct Report {
    json: bool,
    dry_run: bool,
    /// Whether the index differs from the input (`create`: always).
    changed: bool,
    changes: Vec<Value>,
    uploads: Vec<Value>,
    /// Every place the index went (or would go), in the order written.
    outputs: Vec<Value>,
    /// Lint warnings the index has (for an edit: that the input had not).
    warnings: Vec<Diagnostic>,
    /// The index itself, when it goes to stdout.
    document: Option<Value>,
}

impl Report {
    fn new(format: Format, dry_run: bool, changed: bool) -> Report {
        Report {
            json: format == Format::Json,
            dry_run,
            changed,
            changes: Vec::new(),
            uploads: Vec::new(),
            outputs: Vec::new(),
            warnings: Vec::new(),
            document: None,
        }
    }

    /// A line on stderr, in text mode.
    fn note(&self, line: &str) {
        if !self.json {
            eprintln!("ocifit: {line}");
        }
    }

    /// Text on stdout, in text mode.
    fn print(&self, text: &str) {
        if !self.json {
            output::print(text);
        }
    }

    fn upload(&mut self, upload: Upload) {
        if !self.json {
            return self.note(&upload.to_string());
        }
        self.uploads.push(json!({
            "action": upload.action.as_str(),
            "kind": upload.kind(),
            "digest": upload.digest.to_string(),
            "size": upload.size,
            "from": upload.from,
            "to": upload.to,
        }));
    }

    /// `bytes` went (or would go) to a place of `kind`: `stdout`, `file`,
    /// `layout` or `registry`; on stdout the document is part of the report.
    fn output(&mut self, bytes: &[u8], kind: &str, reference: Option<String>, written: bool) {
        let mut place = Map::new();
        place.insert("kind".into(), kind.into());
        if let Some(reference) = reference {
            place.insert("reference".into(), reference.into());
        }
        place.insert("digest".into(), Digest::sha256(bytes).to_string().into());
        place.insert("size".into(), bytes.len().into());
        place.insert("written".into(), written.into());
        self.outputs.push(Value::Object(place));
        if kind == "stdout" && self.json {
            // ocifit wrote these bytes, or checked them as an index: JSON.
            self.document = serde_json::from_slice(bytes).ok();
        }
    }

    /// What changed, and any warning the edit added, on stderr (once the
    /// result is where it was asked to go); in a dry run, what would change.
    fn edits(&self, edited: &Edited) {
        for change in &edited.summary {
            self.note(if self.dry_run { &change.planned } else { &change.done });
        }
        self.print_warnings();
    }

    fn print_warnings(&self) {
        if self.json {
            return;
        }
        for d in &self.warnings {
            eprintln!("{}[{}] at {}: {}", d.severity, d.code, d.pointer, d.message);
        }
    }

    /// In JSON mode, print the report; exit 0 either way.
    fn finish(self) -> Outcome {
        if self.json {
            let mut report = json!({
                "dryRun": self.dry_run,
                "changed": self.changed,
                "changes": self.changes,
                "uploads": self.uploads,
                "outputs": self.outputs,
                "warnings": self.warnings.iter().map(|d| Value::Object(d.to_json())).collect::<Vec<_>>(),
            });
            if let Some(document) = self.document {
                report["document"] = document;
            }
            output::print_json(&report);
        }
        Ok(0)
    }
}

/// A change to entry `index`, as `--format json` lists it.
fn change(action: &str, index: usize, entry: &Value) -> Value {
    let mut change = json!({"action": action, "index": index, "digest": entry["digest"]});
    if let Some(platform) = entry.get("platform") {
        change["platform"] = platform.clone();
    }
    change
}

/// The entries `op` added, set, removed or moved, read off the input and
/// the result (the edit's summary is text for people): for `fix-order`
/// every entry that changed places, with `from`, its place in the input.
fn changes(op: &Op, input: &Value, edited: &Edited) -> Vec<Value> {
    if !edited.changed {
        return Vec::new();
    }
    fn entries(doc: &Value) -> &[Value] {
        doc["manifests"].as_array().map_or(&[], Vec::as_slice)
    }
    let (before, after) = (entries(input), entries(&edited.document));
    match op {
        Op::Add { .. } | Op::Insert { .. } => {
            let at = before.iter().zip(after).position(|(b, a)| b != a).unwrap_or(before.len());
            after.get(at).map(|e| change("add", at, e)).into_iter().collect()
        }
        Op::SetFeatures { entry, .. } => after.get(*entry).map(|e| change("set", *entry, e)).into_iter().collect(),
        Op::Remove { entry } => before.get(*entry).map(|e| change("remove", *entry, e)).into_iter().collect(),
        Op::FixOrder => {
            // The input positions of each digest, in order: equal entries
            // are told apart by order (the first not yet placed), and a
            // 20,000-entry index costs one pass, not a search per entry.
            let mut places: HashMap<&str, VecDeque<usize>> = HashMap::new();
            for (j, entry) in before.iter().enumerate() {
                places.entry(entry["digest"].as_str().unwrap_or_default()).or_default().push_back(j);
            }
            let mut moves = Vec::new();
            for (at, entry) in after.iter().enumerate() {
                let Some(queue) = places.get_mut(entry["digest"].as_str().unwrap_or_default()) else { continue };
                let Some(k) = queue.iter().position(|&j| before[j] == *entry) else { continue };
                let from = queue.remove(k).expect("a position found in the queue");
                if from != at {
                    let mut moved = change("move", at, entry);
                    moved["from"] = from.into();
                    moves.push(moved);
                }
            }
            moves
        }
    }
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

fn in_place(
    lock: &LayoutLock,
    loaded: &Loaded,
    bytes: &[u8],
    changed: bool,
    report: &mut Report,
) -> Result<(), Failure> {
    let Source::OciLayout { dir, tag } = &loaded.source else { unreachable!("checked before loading") };
    let name = format!("oci:{}", dir.display());
    let old = loaded.resolved.as_ref().and_then(|r| r.digest.as_deref());
    report.output(bytes, "layout", Some(loaded.source.to_string()), changed);
    if !changed {
        report.note(&format!("nothing changed; {} was not written", loaded.source));
        if let Some(d) = old {
            report.print(&format!("{name}@{d}\n"));
        }
        return Ok(());
    }
    let old = old.map(Digest::parse).transpose().map_err(|e| Failure::bad(format!("{}: {e}", loaded.source)))?;
    let written = write_index(lock, tag.as_deref(), old.as_ref(), bytes)
        .map_err(|e| Failure::bad(format!("{}: --in-place: {e}", loaded.source)))?;
    match written {
        Some(d) => report.print(&format!("{name}@{d}\n")),
        None => report.note(&format!("rewrote {}/index.json", dir.display())),
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
