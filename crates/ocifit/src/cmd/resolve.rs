//! `ocifit resolve`: the pinned reference of the best entry, for scripts
//! (`podman run "$(ocifit resolve IMAGE)"`).

use ocifit_core::FeatureTable;
use ocifit_core::select::{Mode, select_with};
use ocifit_source::{Digest, Source};

use crate::cli::ResolveArgs;
use crate::error::{Failure, Outcome};
use crate::output;

pub fn run(args: ResolveArgs) -> Outcome {
    let table = FeatureTable::builtin();
    let target = super::target::build(&args.target, table)?;
    let source = Source::parse(&args.source);
    let loaded = source.load()?;
    let mode = if args.legacy { Mode::Legacy } else { Mode::Features };
    let selection = select_with(&loaded.index, &target, table, mode);
    let Some(entry) = selection.selected().and_then(|i| loaded.index.entry(i)) else {
        eprintln!("ocifit: {source}: no entry runs on {} ({} features)", target.platform, target.features.len());
        return Ok(1);
    };
    let digest = Digest::parse(entry.digest)
        .map_err(|e| Failure::bad(format!("{source}: entry {}: {e}", entry.index)))?
        .to_string();
    // A file has nothing to pin to: the digest alone.
    let pinned = loaded.pin(&digest).unwrap_or(digest);
    output::print(&format!("{pinned}\n"));
    Ok(0)
}
