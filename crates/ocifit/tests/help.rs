//! Help, shell completions and manual pages, as a user meets them: the real
//! binary at an 80-column terminal, the completion scripts loaded into real
//! shells (bash, zsh, fish), the pages of `docs/man/` rendered by `man` and
//! `groff`. The shells and groff are test packages (scripts/test.sh); a
//! missing one fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const OCIFIT: &str = env!("CARGO_BIN_EXE_ocifit");
const MAN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/man");

/// Run `program` with `args` and `env`, killed after 60 s (coreutils
/// `timeout`), with `PATH` starting at the directory of the ocifit binary.
fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let bin_dir = Path::new(OCIFIT).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new("timeout");
    command.arg("60").arg(program).args(args).env("PATH", path);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap_or_else(|e| panic!("{program}: cannot run it ({e}); scripts/test.sh installs it"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A tool the tests need, or a failure saying how to get it.
fn require(tool: &str, package: &str) {
    let found =
        std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
    assert!(found, "{tool} is not installed: apt-get install {package} (scripts/test.sh does)");
}

#[test]
fn help_index_add_at_80_columns_keeps_push_with_its_value() {
    let out = run(OCIFIT, &["index", "add", "--help"], &[("COLUMNS", "80")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let help = text(&out.stdout);
    assert!(
        help.lines().any(|l| l.trim_start().starts_with("--push docker://registry.example.com/app:1.4-fixed")),
        "the --push example is split from its value at 80 columns:\n{help}"
    );
    let wide: Vec<&str> = help.lines().filter(|l| l.chars().count() > 80).collect();
    assert!(wide.is_empty(), "lines wider than 80 columns: {wide:#?}");
}

#[test]
fn help_top_level_at_80_columns_lists_completions_and_bare_references() {
    let out = run(OCIFIT, &["--help"], &[("COLUMNS", "80")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let help = text(&out.stdout);
    assert!(help.contains("\n  completions "), "{help}");
    assert!(help.contains("bare reference (registry/repo:tag, repo@sha256:…) when no such file exists"), "{help}");
}

/// What bash offers after the words typed so far (the last may be empty).
fn bash_completions(words: &[&str]) -> Vec<String> {
    require("bash", "bash");
    let script = r#"
        source <(ocifit completions bash) || exit 3
        spec=$(complete -p ocifit) || exit 4
        function=$(sed -n 's/.* -F \([^ ]*\) .*/\1/p' <<<"$spec")
        read -r -a COMP_WORDS <<<"$WORDS"
        [ -n "$LAST_EMPTY" ] && COMP_WORDS+=("")
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        COMP_LINE="$WORDS"
        COMP_POINT=${#COMP_LINE}
        "$function" ocifit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let typed = words.join(" ");
    let last_empty = if words.last() == Some(&"") { "1" } else { "" };
    let out = run("bash", &["--norc", "--noprofile", "-c", script], &[("WORDS", &typed), ("LAST_EMPTY", last_empty)]);
    assert!(out.status.success(), "bash completion of {words:?} failed: {}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.stderr.is_empty(), "bash printed errors loading the completions: {}", text(&out.stderr));
    text(&out.stdout).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn completions_bash_loads_and_completes() {
    // (words typed, what must be offered, what must not)
    let cases: &[(&[&str], &[&str], &[&str])] = &[
        (&["ocifit", "sel"], &["select"], &["lint"]),
        (&["ocifit", ""], &["select", "resolve", "lint", "host", "index", "fleet", "k8s", "completions"], &[]),
        (&["ocifit", "index", "a"], &["add"], &["remove"]),
        (&["ocifit", "k8s", ""], &["affinity"], &[]),
        (&["ocifit", "select", "--for"], &["--format"], &["--features"]),
        (&["ocifit", "select", "x.json", "--format", ""], &["text", "json"], &[]),
        (&["ocifit", "completions", ""], &["bash", "zsh", "fish", "powershell"], &[]),
    ];
    for (words, offered, not_offered) in cases {
        let got = bash_completions(words);
        for want in *offered {
            assert!(got.iter().any(|g| g == want), "bash after {words:?}: {want} not offered; got {got:?}");
        }
        for unwanted in *not_offered {
            assert!(!got.iter().any(|g| g == unwanted), "bash after {words:?}: {unwanted} offered; got {got:?}");
        }
    }
}

#[test]
fn completions_zsh_loads_and_defines_the_completer() {
    require("zsh", "zsh");
    let script = r#"
        autoload -Uz compinit && compinit -u -D || exit 3
        source <(ocifit completions zsh) || exit 4
        (( $+functions[_ocifit] )) || exit 5
        [[ $_comps[ocifit] == _ocifit ]] || exit 6
    "#;
    let out = run("zsh", &["-f", "-c", script], &[]);
    assert!(out.status.success(), "zsh: exit {:?}: {}{}", out.status.code(), text(&out.stdout), text(&out.stderr));
    assert!(out.stderr.is_empty(), "zsh printed errors loading the completions: {}", text(&out.stderr));
}

#[test]
fn completions_fish_completes_subcommands_and_values() {
    require("fish", "fish");
    let cases: &[(&str, &[&str])] = &[
        ("ocifit sel", &["select"]),
        ("ocifit index ", &["add", "set-features", "remove", "fix-order"]),
        ("ocifit lint x.json --format ", &["text", "json", "sarif"]),
    ];
    for (typed, offered) in cases {
        let script = format!("ocifit completions fish | source; or exit 3; complete -C '{typed}'");
        let out = run("fish", &["--no-config", "-c", &script], &[]);
        assert!(out.status.success(), "fish after {typed:?}: {}", text(&out.stderr));
        let got: Vec<String> =
            text(&out.stdout).lines().map(|l| l.split('\t').next().unwrap_or_default().to_string()).collect();
        for want in *offered {
            assert!(got.iter().any(|g| g == want), "fish after {typed:?}: {want} not offered; got {got:?}");
        }
    }
}

#[test]
fn completions_powershell_registers_a_completer_for_every_subcommand() {
    // No PowerShell on Debian: check the script's content instead.
    let out = run(OCIFIT, &["completions", "powershell"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    assert!(script.contains("Register-ArgumentCompleter -Native -CommandName 'ocifit'"), "{script}");
    for sub in ["select", "resolve", "lint", "host", "fleet", "completions", "ocifit;index;add", "ocifit;k8s;affinity"]
    {
        assert!(script.contains(sub), "the powershell script does not know {sub}");
    }
}

#[test]
fn completions_unknown_shell_exits_2() {
    let out = run(OCIFIT, &["completions", "tcsh"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("tcsh"), "{}", text(&out.stderr));
}

fn man_pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(MAN_DIR)
        .unwrap_or_else(|e| panic!("{MAN_DIR}: {e} (scripts/gen-docs.sh writes docs/man/)"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    pages.sort();
    assert!(pages.len() >= 10, "only {} pages in docs/man/", pages.len());
    pages
}

#[test]
fn man_pages_parse_with_groff_without_warnings() {
    require("groff", "groff-base");
    for page in man_pages() {
        let out = run("groff", &["-man", "-Tutf8", "-ww", "-z", page.to_str().unwrap()], &[]);
        assert!(out.status.success() && out.stderr.is_empty(), "{}: {}", page.display(), text(&out.stderr));
    }
}

#[test]
fn man_pages_render_with_man() {
    require("man", "man-db");
    for page in man_pages() {
        let name = page.file_stem().unwrap().to_str().unwrap();
        let out =
            run("man", &["-l", "-P", "cat", page.to_str().unwrap()], &[("MANWIDTH", "80"), ("LC_ALL", "C.UTF-8")]);
        assert!(out.status.success(), "man -l {}: {}", page.display(), text(&out.stderr));
        let shown = text(&out.stdout);
        for section in ["NAME", "SYNOPSIS", "SEE ALSO"] {
            assert!(shown.contains(&format!("\n{section}\n")), "{name}: no {section} section:\n{shown}");
        }
        assert!(shown.contains(&name.replace('-', " ")) || shown.contains(name), "{name}:\n{shown}");
    }
    let add = run("man", &["-l", "-P", "cat", &format!("{MAN_DIR}/ocifit-index-add.1")], &[("MANWIDTH", "80")]);
    let shown = text(&add.stdout);
    assert!(
        shown.lines().any(|l| l.trim_start().starts_with("--push docker://registry.example.com/app:1.4-fixed")),
        "ocifit-index-add(1) splits the --push example:\n{shown}"
    );
}
