//! `ocifit`: the command-line tool. Only flag parsing and wiring live here;
//! the rules are in `ocifit-core`, detection in `ocifit-host`, sources in
//! `ocifit-source`.

mod cli;
mod cmd;
mod error;
#[cfg(test)]
mod help_tests;
#[cfg(test)]
mod man;
mod output;
mod sources;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::error::Failure;

fn main() {
    let cli = cli::Cli::parse_args();
    let stdin_is_source = matches!(&cli.command,
        cli::Command::Select(cli::SelectArgs { choose: cli::ChooseArgs { source, .. }, .. })
        | cli::Command::Resolve(cli::ResolveArgs { choose: cli::ChooseArgs { source, .. }, .. })
            | cli::Command::K8s(cli::K8sCommand::Affinity(cli::AffinityArgs { source, .. }))
            if source == "-");
    let stdin_is_source = stdin_is_source || matches!(&cli.command, cli::Command::Index(c) if c.source() == "-");
    let stdin_is_source = stdin_is_source
        || matches!(&cli.command, cli::Command::Fleet(a) if a.nodes.iter().chain(&a.image).any(|s| s == "-"));
    let stdin_is_source = stdin_is_source || matches!(&cli.command, cli::Command::Lint(a) if a.source == "-");
    let registry = cli.command.registry_args().map_or_else(|| cli.registry.clone(), |r| r.over(&cli.registry));
    if let Err(Failure { code, message }) = sources::install(&registry, &cli.command, stdin_is_source) {
        eprintln!("ocifit: {message}");
        std::process::exit(code);
    }
    let result = match cli.command {
        cli::Command::Select(args) => cmd::select::run(args),
        cli::Command::Resolve(args) => cmd::resolve::run(args),
        cli::Command::Features(args) => cmd::features::run(args),
        cli::Command::Explain(args) => cmd::explain::run(args),
        cli::Command::Lint(args) => cmd::lint::run(args),
        cli::Command::Host(args) => cmd::host::run(args),
        cli::Command::Index(command) => cmd::index::run(command),
        cli::Command::Fleet(args) => cmd::fleet::run(args),
        cli::Command::K8s(cli::K8sCommand::Affinity(args)) => cmd::k8s::affinity(args),
        cli::Command::Mirror(args) => cmd::mirror::run(args),
        cli::Command::Completions(args) => cmd::completions::run(args),
    };
    let code = match result {
        Ok(code) => code,
        Err(Failure { code, message }) => {
            eprintln!("ocifit: {message}");
            code
        }
    };
    std::process::exit(code);
}
