//! The manual pages in `docs/man/`, generated from the clap definition:
//! one page per command (`ocifit.1`, `ocifit-select.1`,
//! `ocifit-index-add.1`, …). A test, not a subcommand, writes them, so the
//! binary carries no man-page generator: `scripts/gen-docs.sh` runs
//! `OCIFIT_WRITE_MAN=1 cargo test -p ocifit --bin ocifit man::`, and
//! `man_pages_in_docs_man_are_current` fails when a checked-in page differs
//! from what the CLI generates.
//!
//! clap_mangen renders each page; the after-help text (tables, examples) is
//! written as its own section in no-fill mode, because it is pre-formatted
//! and roff would otherwise join its lines into paragraphs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

fn man_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/man")
}

/// Every page: file name → roff source.
fn pages() -> BTreeMap<String, String> {
    fn walk(cmd: &clap::Command, parent: Option<&clap::Command>, out: &mut BTreeMap<String, String>) {
        let (name, text) = page(cmd, parent);
        out.insert(name, text);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, Some(cmd), out);
        }
    }
    let mut root = crate::cli::Cli::command().disable_help_subcommand(true);
    root.build();
    let mut out = BTreeMap::new();
    walk(&root, None, &mut out);
    out
}

fn page_name(cmd: &clap::Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

fn page(cmd: &clap::Command, parent: Option<&clap::Command>) -> (String, String) {
    let man = Man::new(cmd.clone()).source(format!("ocifit {}", env!("CARGO_PKG_VERSION"))).manual("ocifit manual");
    let mut out = Vec::new();
    let rendered = (|| -> std::io::Result<()> {
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut out)?;
        }
        if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
            man.render_subcommands_section(&mut out)?;
        }
        let mut roff = Roff::new();
        if let Some(after) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
            roff.control("SH", ["DETAILS"]);
            details(&mut roff, &after.to_string());
        }
        let related: Vec<&clap::Command> =
            parent.into_iter().chain(cmd.get_subcommands().filter(|s| !s.is_hide_set())).collect();
        roff.control("SH", ["SEE ALSO"]);
        let mut see_also = Vec::new();
        for (i, other) in related.iter().enumerate() {
            see_also.push(bold(page_name(other)));
            see_also.push(roman(if i + 1 < related.len() { "(1), " } else { "(1). " }));
        }
        see_also.push(roman(
            "The rules ocifit follows are docs/semantics.md in its source repository; \
             every command is described in docs/.",
        ));
        roff.text(see_also);
        roff.to_writer(&mut out)?;
        if cmd.get_version().is_some() {
            man.render_version_section(&mut out)?;
        }
        Ok(())
    })();
    rendered.expect("rendering into a Vec cannot fail");
    (man.get_filename(), ascii_roff(&String::from_utf8(out).expect("clap_mangen writes UTF-8")))
}

/// The after-help text, laid out as `--help` shows it: two columns from the
/// margin (so that its lines fit 80 columns here too), prose filled into
/// paragraphs, indented lines (tables, examples) kept as they are.
fn details(roff: &mut Roff, text: &str) {
    roff.control("RS", ["-5n"]);
    let mut preformatted = false;
    for line in text.lines() {
        let indented = line.starts_with(' ');
        if indented != preformatted {
            roff.control(if indented { "nf" } else { "fi" }, []);
            preformatted = indented;
        }
        if line.trim().is_empty() {
            roff.control("PP", []);
        } else {
            roff.text([roman(line)]);
        }
    }
    if preformatted {
        roff.control("fi", []);
    }
    roff.control("RE", []);
}

/// Characters outside ASCII as roff escapes (`…` is `\[u2026]`): groff
/// reads its input as Latin-1 unless told otherwise.
fn ascii_roff(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out
}

/// `OCIFIT_WRITE_MAN=1`: write the pages and remove pages of commands that
/// no longer exist, instead of checking them.
#[test]
fn man_pages_in_docs_man_are_current() {
    let dir = man_dir();
    let pages = pages();
    assert!(pages.contains_key("ocifit.1") && pages.contains_key("ocifit-index-add.1"), "{:?}", pages.keys());
    let on_disk: BTreeMap<String, String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".1"))
                .map(|name| {
                    let text = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
                    (name, text)
                })
                .collect()
        })
        .unwrap_or_default();
    if std::env::var_os("OCIFIT_WRITE_MAN").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for name in on_disk.keys().filter(|name| !pages.contains_key(*name)) {
            std::fs::remove_file(dir.join(name)).unwrap();
        }
        for (name, text) in &pages {
            if on_disk.get(name) != Some(text) {
                std::fs::write(dir.join(name), text).unwrap();
            }
        }
        return;
    }
    let stale: Vec<&String> = pages
        .iter()
        .filter(|(name, text)| on_disk.get(*name) != Some(*text))
        .map(|(name, _)| name)
        .chain(on_disk.keys().filter(|name| !pages.contains_key(*name)))
        .collect();
    assert!(
        stale.is_empty(),
        "docs/man/ is stale ({stale:?} differ from what the CLI generates, are missing or are extra): \
         run scripts/gen-docs.sh (or OCIFIT_WRITE_MAN=1 cargo test -p ocifit --bin ocifit man::) and commit docs/man/"
    );
}
