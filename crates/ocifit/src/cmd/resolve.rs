//! `ocifit resolve`: the pinned reference of the best entry, for scripts
//! (`podman run "$(ocifit resolve IMAGE)"`).

use ocifit_source::Digest;

use crate::cli::{Format, ResolveArgs};
use crate::error::{Failure, Outcome};
use crate::output;

pub fn run(args: ResolveArgs) -> Outcome {
    let read = super::select::read(&args.choose)?;
    let (index, selection) = read.choose()?;
    let Some(entry) = selection.selected().and_then(|i| index.entry(i)) else {
        super::select::no_entry(&read.source, &read.target);
        return Ok(1);
    };
    let digest = Digest::parse(entry.digest)
        .map_err(|e| Failure::bad(format!("{}: entry {}: {e}", read.source, entry.index)))?
        .to_string();
    match args.format {
        Format::Json => {
            let mut doc = serde_json::Map::new();
            doc.insert("reference".into(), read.pin(&digest).into());
            if let serde_json::Value::Object(entry) = selection.to_json(&index, &read.target)["selected"].take() {
                doc.extend(entry);
            }
            doc.insert("source".into(), read.source_json());
            output::print_json(&serde_json::Value::Object(doc));
        }
        Format::Text => {
            // A file has nothing to pin to: the digest alone.
            let pinned = read.pin(&digest).unwrap_or(digest);
            output::print(&format!("{pinned}\n"));
        }
    }
    Ok(0)
}
