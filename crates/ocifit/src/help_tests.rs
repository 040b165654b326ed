//! `--help` at 80 columns. clap re-wraps every after-help line wider than
//! the terminal, which breaks the pre-formatted tables and splits examples
//! (`--push` on one line, its value on the next). These tests render the
//! help of every command, short (`-h`) and long (`--help`), as an
//! 80-column terminal gets it.

use clap::CommandFactory;

const COLUMNS: usize = 80;

/// Every command and subcommand (`ocifit`, `ocifit select`, `ocifit index
/// add`, …), built, with its full name.
fn every_command() -> Vec<(String, clap::Command)> {
    fn walk(name: String, cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
        out.push((name.clone(), cmd.clone()));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(format!("{name} {}", sub.get_name()), sub, out);
        }
    }
    let mut root = crate::cli::Cli::command().disable_help_subcommand(true);
    root.build();
    let mut out = Vec::new();
    walk("ocifit".into(), &root, &mut out);
    out
}

/// The help a terminal of [`COLUMNS`] columns shows: (short, long).
fn rendered(cmd: &clap::Command) -> [String; 2] {
    let mut cmd = cmd.clone().term_width(COLUMNS);
    [cmd.render_help().to_string(), cmd.render_long_help().to_string()]
}

#[test]
fn help_at_80_columns_keeps_every_after_help_line() {
    let mut checked = 0;
    for (name, cmd) in every_command() {
        let texts = [cmd.get_after_help(), cmd.get_after_long_help()];
        for (source, help) in texts.iter().zip(rendered(&cmd)) {
            let Some(source) = source else { continue };
            let lines: Vec<&str> = help.lines().collect();
            for line in source.to_string().lines() {
                assert!(
                    lines.contains(&line),
                    "`{name} --help` at {COLUMNS} columns re-wraps this after-help line \
                     ({} columns; keep after-help lines within {COLUMNS}, continue examples with \\):\n{line}",
                    line.chars().count()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} after-help lines found: is after_help still set?");
}

#[test]
fn help_at_80_columns_splits_no_example() {
    // The programs examples run. clap indents the pieces of a split line
    // like the line itself, so a line that starts with anything else is a
    // piece (unless the line before ends with `\`). An example of another
    // program needs its name here.
    const PROGRAMS: [&str; 16] = [
        "ocifit",
        "podman",
        "kubectl",
        "source",
        "skopeo",
        "docker",
        "ctr",
        "crictl",
        "nerdctl",
        "buildah",
        "crane",
        "regctl",
        "jq",
        "curl",
        "sudo",
        "systemctl",
    ];
    let mut examples = 0;
    for (name, cmd) in every_command() {
        for help in rendered(&cmd) {
            let Some((_, block)) = help.split_once("\nExamples:\n") else { continue };
            let mut continued = false;
            for line in block.lines().take_while(|l| !l.trim().is_empty()) {
                let example = line.trim_start();
                let whole = if continued {
                    line.starts_with("      ")
                } else {
                    let program = example.split_whitespace().next().unwrap_or_default();
                    line.starts_with("  ") && PROGRAMS.contains(&program)
                };
                assert!(whole, "`{name} --help` at {COLUMNS} columns splits an example; this line is a piece:\n{line}");
                assert!(line.chars().count() <= COLUMNS, "`{name} --help`: example wider than {COLUMNS}:\n{line}");
                continued = line.ends_with('\\');
                examples += 1;
            }
            assert!(!continued, "`{name} --help`: the last example ends with a continuation \\");
        }
    }
    assert!(examples > 40, "only {examples} example lines found");
}

#[test]
fn help_says_every_source_takes_a_bare_reference() {
    for (name, cmd) in every_command() {
        for arg in cmd.get_arguments().filter(|a| a.get_value_names().is_some_and(|v| v == ["SOURCE"])) {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            assert!(help.contains("bare reference"), "`{name}` SOURCE help omits bare references: {help}");
        }
    }
}
