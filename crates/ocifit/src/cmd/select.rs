//! `ocifit select`: the best entry for a target, and why every other lost.

use std::collections::HashMap;

use ocifit_core::select::{Mode, select_with};
use ocifit_core::{FeatureTable, IndexView, Selection, Target};
use ocifit_source::{Digest, Options, Resolved, Source};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{ChooseArgs, Format, SelectArgs};
use crate::error::{Failure, Outcome};
use crate::output;

/// What `select` and `resolve` both read: the target and the index bytes.
pub struct Read {
    pub source: Source,
    pub bytes: Vec<u8>,
    pub resolved: Option<Resolved>,
    pub target: Target,
    pub mode: Mode,
}

/// Build the target, then fetch the bytes (a bad target fails before any
/// network request).
pub fn read(args: &ChooseArgs) -> Result<Read, Failure> {
    let target = super::target::build(&args.target, FeatureTable::builtin())?;
    let source = Source::parse(&args.source);
    let (bytes, resolved) = source.read_with(&Options::current())?;
    let mode = if args.legacy { Mode::Legacy } else { Mode::Features };
    Ok(Read { source, bytes, resolved, target, mode })
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
    let Read { source, target, resolved, bytes, .. } = &read;
    match args.format {
        Format::Json => {
            let report = Report {
                selection: selection.report(&index, target),
                mode: if args.choose.legacy { "legacy" } else { "features" },
                source: match resolved {
                    Some(r) => r.to_json(source),
                    None => json!({"input": source.to_string(), "digest": Digest::sha256(bytes).to_string()}),
                },
            };
            output::write_json(&report);
        }
        Format::Text => {
            let pinned = resolved.as_ref().and_then(|r| Some(r.pin(r.digest.as_ref()?)));
            let mut out = text(source, &index, target, &selection, args.choose.legacy);
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

fn text(source: &Source, index: &IndexView<'_>, target: &Target, selection: &Selection, legacy: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!("index:    {source} ({} entries)\n", index.len()));
    out.push_str(&format!("target:   {}\n", describe(target)));
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
                let why: Vec<String> = why.iter().map(|x| format!("{}: {x}", x.code())).collect();
                format!("rejected: {}", why.join("; "))
            };
            vec![e.index.to_string(), platform, features, verdict]
        })
        .collect();
    out.push_str(&output::table(&["#", "platform", "features", "verdict"], &rows));
    out
}
