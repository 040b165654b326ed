//! `ocifit resolve`: the pinned reference of the best entry, for scripts
//! (`podman run "$(ocifit resolve IMAGE)"`).

use ocifit_source::Digest;

use crate::cli::ResolveArgs;
use crate::error::{Failure, Outcome};
use crate::output;

pub fn run(args: ResolveArgs) -> Outcome {
    let super::select::Chosen { source, loaded, target, selection } = super::select::choose(&args.choose)?;
    let Some(entry) = selection.selected().and_then(|i| loaded.index.entry(i)) else {
        super::select::no_entry(&source, &target);
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
