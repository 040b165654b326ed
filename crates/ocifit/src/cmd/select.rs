//! `ocifit select`: the best entry for a target, and why every other lost.

use std::collections::HashMap;

use ocifit_core::select::{Mode, select_with};
use ocifit_core::{FeatureTable, IndexView, Selection, Target};
use ocifit_source::{Digest, Options, Resolved, Source};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{ChooseArgs, Format, SelectArgs, TargetArgs};
use crate::error::{Failure, Outcome};
use crate::output;

/// What `select` and `resolve` both read: the target and the index bytes.
pub struct Read {
    pub source: Source,
    pub bytes: Vec<u8>,
    pub resolved: Option<Resolved>,
    pub target: Target,
    /// Whose target it is, when not only the flags': `this host`, or the
    /// node data file it was read from.
    pub about: Option<String>,
    pub mode: Mode,
}

/// Build the target, then fetch the bytes (a bad target fails before any
/// network request).
pub fn read(args: &ChooseArgs) -> Result<Read, Failure> {
    let (target, about) = match node_data_target(&args.target)? {
        Some(found) => found,
        None => {
            let t = &args.target;
            let host = t.host || (t.platform.is_none() && t.features.is_empty());
            (super::target::build(t, FeatureTable::builtin())?, host.then(|| "this host".to_string()))
        }
    };
    let source = Source::parse(&args.source);
    let (bytes, resolved) = source.read_with(&Options::current())?;
    let mode = if args.legacy { Mode::Legacy } else { Mode::Features };
    Ok(Read { source, bytes, resolved, target, about, mode })
}

/// The target of another node, from its data: `--cpuinfo`, `--cpuid` or
/// `--profile` (with `--os-version`/`--os-features` on top, if given).
pub(crate) fn node_data_target(args: &TargetArgs) -> Result<Option<(Target, Option<String>)>, Failure> {
    let (flag, path) = match (&args.cpuinfo, &args.cpuid, &args.profile) {
        (Some(p), _, _) => ("--cpuinfo", p),
        (_, Some(p), _) => ("--cpuid", p),
        (_, _, Some(p)) => ("--profile", p),
        _ => return Ok(None),
    };
    let text = super::host::read_input(path)?;
    let bad = |e: String| Failure::bad(format!("{flag} {path}: {e}"));
    let mut target = match flag {
        "--cpuinfo" => ocifit_host::from_cpuinfo(&text, None).map_err(|e| bad(e.to_string()))?.target,
        "--cpuid" => ocifit_host::from_cpuid_dump(&text).map_err(|e| bad(e.to_string()))?.target,
        _ => ocifit_fleet::nodes::profile_target(text.as_bytes()).map_err(bad)?,
    };
    if let Some(v) = &args.os_version {
        target.platform.os_version = v.clone();
    }
    if !args.os_features.is_empty() {
        target.platform.os_features.extend(args.os_features.iter().filter(|f| !f.is_empty()).cloned());
        target.platform = target.platform.normalized();
    }
    Ok(Some((target, Some(format!("from {path}")))))
}

impl Read {
    /// Check the bytes as an index (read-only, see `IndexView`) and select.
    pub fn choose(&self) -> Result<(IndexView<'_>, Selection), Failure> {
        let index = IndexView::parse(&self.bytes).map_err(|e| self.source.index_error(e))?;
        let selection = select_with(&index, &self.target, FeatureTable::builtin(), self.mode);
        Ok((index, selection))
    }

    /// The pinned reference of an entry: `host/repo@digest` for a registry,
    /// `oci:DIR@digest` for a layout, `None` for files.
    pub fn pin(&self, entry_digest: &str) -> Option<String> {
        self.resolved.as_ref().map(|r| r.pin(entry_digest))
    }

    /// The `source` object of `--format json`: where the index came from.
    pub fn source_json(&self) -> Value {
        match &self.resolved {
            Some(r) => r.to_json(&self.source),
            None => json!({"input": self.source.to_string(), "digest": Digest::sha256(&self.bytes).to_string()}),
        }
    }
}

/// The one line both commands print when nothing runs on the target.
pub fn no_entry(source: &Source, target: &Target) {
    eprintln!("ocifit: {source}: no entry runs on {}", describe(target));
}

/// §8's shape plus where the index came from and how it was chosen.
#[derive(Serialize)]
struct Report<R: Serialize> {
    #[serde(flatten)]
    selection: R,
    mode: &'static str,
    source: Value,
}

pub fn run(args: SelectArgs) -> Outcome {
    let read = read(&args.choose)?;
    let (index, selection) = read.choose()?;
    let Read { source, target, resolved, .. } = &read;
    match args.format {
        Format::Json => {
            let report = Report {
                selection: selection.report(&index, target),
                mode: if args.choose.legacy { "legacy" } else { "features" },
                source: read.source_json(),
            };
            output::write_json(&report);
        }
        Format::Text => {
            let pinned = resolved.as_ref().and_then(|r| Some(r.pin(r.digest.as_ref()?)));
            let mut out = text(source, &index, target, read.about.as_deref(), &selection, args.choose.legacy);
            if let Some(p) = pinned {
                // Where a tag pointed when it was read: `index:` then this line.
                let at = out.find('\n').map_or(0, |i| i + 1);
                out.insert_str(at, &format!("pinned:   {p}\n"));
            }
            output::print(&out)
        }
    }
    match selection.selected() {
        Some(_) => Ok(0),
        None => {
            if args.format == Format::Text {
                no_entry(source, target);
            }
            Ok(1)
        }
    }
}

fn describe(target: &Target) -> String {
    format!("{} ({} features)", target.platform, target.features.len())
}

fn text(
    source: &Source,
    index: &IndexView<'_>,
    target: &Target,
    about: Option<&str>,
    selection: &Selection,
    legacy: bool,
) -> String {
    let mut out = String::new();
    out.push_str(&format!("index:    {source} ({} entries)\n", index.len()));
    let about = about.map(|a| format!(" ({a})")).unwrap_or_default();
    out.push_str(&format!("target:   {}{about}\n", describe(target)));
    let chosen = selection.selected();
    match chosen.and_then(|i| index.entry(i)) {
        Some(e) => out.push_str(&format!(
            "selected: #{} {}{}\n",
            e.index,
            e.digest,
            if legacy { "  (legacy: features ignored)" } else { "" }
        )),
        None => out.push_str("selected: none\n"),
    }
    out.push('\n');
    let rank: HashMap<usize, usize> = selection.candidates.iter().enumerate().map(|(r, c)| (c.index, r + 1)).collect();
    let reasons: HashMap<usize, &[ocifit_core::Reason]> =
        selection.rejected.iter().map(|r| (r.index, r.reasons.as_slice())).collect();
    let rows: Vec<Vec<String>> = index
        .entries()
        .map(|e| {
            let (platform, features) = match e.platform {
                Some(p) => {
                    let mut s = format!("{}/{}", p.os, p.architecture);
                    if !p.variant.is_empty() {
                        s.push('/');
                        s.push_str(p.variant);
                    }
                    if !p.os_version.is_empty() {
                        s.push_str(&format!(" ({})", p.os_version));
                    }
                    let f: Vec<&str> = p.features().collect();
                    (s, if f.is_empty() { "-".to_string() } else { f.join(" ") })
                }
                None => ("(none)".to_string(), "-".to_string()),
            };
            let verdict = if Some(e.index) == chosen {
                "selected".to_string()
            } else if let Some(r) = rank.get(&e.index) {
                format!("compatible (rank {r})")
            } else {
                let why = reasons.get(&e.index).copied().unwrap_or_default();
                format!("rejected: {}", ocifit_fleet::report::brief_reasons(why))
            };
            vec![e.index.to_string(), platform, features, verdict]
        })
        .collect();
    out.push_str(&output::table(&["#", "platform", "features", "verdict"], &rows));
    out
}
