//! `ocifit select`: the best entry for a target, and why every other lost.

use ocifit_core::select::{Mode, select_with};
use ocifit_core::{FeatureTable, Index, Selection, Target};
use ocifit_source::{Digest, Loaded, Source};
use serde_json::json;

use crate::cli::{ChooseArgs, Format, SelectArgs};
use crate::error::{Failure, Outcome};
use crate::output;

/// What `select` and `resolve` both do: build the target, read the index,
/// select.
pub struct Chosen {
    pub source: Source,
    pub loaded: Loaded,
    pub target: Target,
    pub selection: Selection,
}

pub fn choose(args: &ChooseArgs) -> Result<Chosen, Failure> {
    let table = FeatureTable::builtin();
    let target = super::target::build(&args.target, table)?;
    let source = Source::parse(&args.source);
    let loaded = source.load()?;
    let mode = if args.legacy { Mode::Legacy } else { Mode::Features };
    let selection = select_with(&loaded.index, &target, table, mode);
    Ok(Chosen { source, loaded, target, selection })
}

/// The one line both commands print when nothing runs on the target.
pub fn no_entry(source: &Source, target: &Target) {
    eprintln!("ocifit: {source}: no entry runs on {}", describe(target));
}

pub fn run(args: SelectArgs) -> Outcome {
    let Chosen { source, loaded, target, selection } = choose(&args.choose)?;
    match args.format {
        Format::Json => {
            let mut doc = selection.to_json(&loaded.index, &target);
            doc["mode"] = json!(if args.choose.legacy { "legacy" } else { "features" });
            doc["source"] = match &loaded.resolved {
                Some(r) => r.to_json(&source),
                None => json!({"input": source.to_string(), "digest": Digest::sha256(&loaded.bytes).to_string()}),
            };
            output::print_json(&doc);
        }
        Format::Text => {
            let pinned = loaded.resolved.as_ref().and_then(|r| Some(format!("{}@{}", r.name, r.digest.as_ref()?)));
            let mut out = text(&source, &loaded.index, &target, &selection, args.choose.legacy);
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
                no_entry(&source, &target);
            }
            Ok(1)
        }
    }
}

fn describe(target: &Target) -> String {
    format!("{} ({} features)", target.platform, target.features.len())
}

fn text(source: &Source, index: &Index, target: &Target, selection: &Selection, legacy: bool) -> String {
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
    let rank: std::collections::HashMap<usize, usize> =
        selection.candidates.iter().enumerate().map(|(r, c)| (c.index, r + 1)).collect();
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
                let reasons = selection
                    .rejected
                    .iter()
                    .find(|r| r.index == e.index)
                    .map(|r| r.reasons.iter().map(|x| format!("{}: {x}", x.code())).collect::<Vec<_>>().join("; "))
                    .unwrap_or_default();
                format!("rejected: {reasons}")
            };
            vec![e.index.to_string(), platform, features, verdict]
        })
        .collect();
    out.push_str(&output::table(&["#", "platform", "features", "verdict"], &rows));
    out
}
