//! `ocifit completions SHELL`: a completion script generated from the same
//! clap definition the parser uses, so it never lags behind a flag.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::Outcome;
use crate::output;

pub fn run(args: CompletionsArgs) -> Outcome {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "ocifit", &mut script);
    output::print(&String::from_utf8_lossy(&script));
    Ok(0)
}
