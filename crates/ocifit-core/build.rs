//! Compiles `data/*.toml` (the feature table) into static Rust tables.
//!
//! Every check a human reviewer would make on a new row is made here, so a
//! bad row is a build error that names the file and the row.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

const FAMILIES: &[(&str, &str)] = &[
    ("x86", "X86"),
    ("arm64", "Arm64"),
    ("arm", "Arm"),
    ("ppc64", "Ppc64"),
    ("s390x", "S390x"),
    ("riscv64", "Riscv64"),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    family: String,
    architectures: Vec<String>,
    #[serde(default)]
    non_isa_linux_flags: Vec<String>,
    #[serde(default)]
    level: Vec<Level>,
    #[serde(default)]
    feature: Vec<Row>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Level {
    architecture: String,
    variant: String,
    link: String,
    features: Vec<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    name: String,
    description: String,
    link: String,
    #[serde(default)]
    linux: Option<String>,
    since: String,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    cpuid: Option<Cpuid>,
    #[serde(default)]
    hwcap: Option<Hwcap>,
    #[serde(default)]
    hwprobe: Option<Hwprobe>,
    #[serde(default)]
    aliases: Aliases,
    /// Features this one implies (direct; the closure is computed here).
    #[serde(default)]
    implies: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cpuid {
    leaf: u32,
    #[serde(default)]
    subleaf: u32,
    reg: String,
    bit: u8,
    #[serde(default)]
    xcr0: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Hwcap {
    word: u8,
    bit: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Hwprobe {
    key: String,
    bit: u8,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Aliases {
    go: Option<String>,
    nfd: Option<String>,
    llvm: Option<String>,
    #[serde(default)]
    other: Vec<String>,
}

impl Aliases {
    fn all(&self) -> impl Iterator<Item = &String> {
        self.go.iter().chain(&self.nfd).chain(&self.llvm).chain(&self.other)
    }
}

fn main() {
    println!("cargo::rerun-if-env-changed=OCIFIT_DATA_DIR");
    let dir = match std::env::var_os("OCIFIT_DATA_DIR") {
        Some(d) => Path::new(&d).to_path_buf(),
        // Read when the script runs, not when it was compiled: a build
        // script binary reused from another checkout must not read that
        // checkout's data.
        None => Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("data"),
    };
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    for (family, _) in FAMILIES {
        let path = dir.join(format!("{family}.toml"));
        println!("cargo::rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file: File = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&file.family, family, "{}: family must be {family}", path.display());
        check(&path, &file);
        files.push(file);
    }
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("table.rs");
    std::fs::write(out, generate(&files)).unwrap();
}

fn check(path: &Path, file: &File) {
    let p = path.display();
    let mut names = BTreeSet::new();
    for row in &file.feature {
        let n = &row.name;
        assert!(
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'),
            "{p}: feature name {n:?} must be lowercase [a-z0-9_.]"
        );
        assert!(names.insert(n.clone()), "{p}: feature {n:?} appears twice");
        assert!(row.link.starts_with("https://"), "{p}: {n}: link must be https");
        assert!(!row.description.trim().is_empty(), "{p}: {n}: empty description");
        let detections = row.cpuid.is_some() as u8 + row.hwcap.is_some() as u8 + row.hwprobe.is_some() as u8;
        assert!(detections <= 1, "{p}: {n}: more than one detection table");
        if detections == 0 {
            assert!(row.note.is_some(), "{p}: {n}: a row without detection needs a note saying why");
        }
        if let Some(c) = &row.cpuid {
            assert!(["eax", "ebx", "ecx", "edx"].contains(&c.reg.as_str()), "{p}: {n}: cpuid.reg {:?}", c.reg);
            assert!(c.bit < 32, "{p}: {n}: cpuid.bit {}", c.bit);
            assert!(c.xcr0.iter().all(|b| *b < 64), "{p}: {n}: xcr0 bit out of range");
        }
        if let Some(h) = &row.hwcap {
            assert!((1..=3).contains(&h.word), "{p}: {n}: hwcap.word {}", h.word);
            assert!(h.bit < 64, "{p}: {n}: hwcap.bit {}", h.bit);
        }
        if let Some(h) = &row.hwprobe {
            assert!(hwprobe_key(&h.key).is_some(), "{p}: {n}: unknown hwprobe key {:?}", h.key);
            assert!(h.bit < 64, "{p}: {n}: hwprobe.bit {}", h.bit);
        }
        if let Some(archs) = &row.architectures {
            for a in archs {
                assert!(file.architectures.contains(a), "{p}: {n}: architecture {a} not in file");
            }
        }
    }
    // Aliases and Linux names resolve to exactly one row.
    let mut spelled: BTreeMap<String, String> = BTreeMap::new();
    for row in &file.feature {
        spelled.insert(row.name.clone(), row.name.clone());
    }
    for row in &file.feature {
        let mut own = BTreeSet::new();
        for alias in row.aliases.all().chain(row.linux.iter()) {
            let key = alias.to_ascii_lowercase();
            if key == row.name || !own.insert(key.clone()) {
                continue;
            }
            if let Some(other) = spelled.insert(key.clone(), row.name.clone()) {
                assert_eq!(other, row.name, "{p}: alias {alias:?} of {} already means {other}", row.name);
            }
        }
    }
    check_implies(&p.to_string(), file, &names);
    for level in &file.level {
        assert!(
            file.architectures.contains(&level.architecture),
            "{p}: level {}/{}: unknown architecture",
            level.architecture,
            level.variant
        );
        assert!(level.link.starts_with("https://"), "{p}: level link must be https");
        for f in &level.features {
            assert!(names.contains(f), "{p}: level {}/{}: unknown feature {f}", level.architecture, level.variant);
        }
    }
    for flag in &file.non_isa_linux_flags {
        assert!(
            !file.feature.iter().any(|r| r.linux.as_deref() == Some(flag)),
            "{p}: {flag} is both a feature's linux name and a non-ISA flag"
        );
    }
}

/// `implies` names rows of the family, never the row itself, and the
/// relation has no cycle.
fn check_implies(p: &str, file: &File, names: &BTreeSet<String>) {
    for row in &file.feature {
        for i in &row.implies {
            assert!(names.contains(i), "{p}: {}: implies unknown feature {i:?}", row.name);
            assert!(i != &row.name, "{p}: {}: implies itself", row.name);
        }
    }
    for row in &file.feature {
        let mut path = vec![row.name.as_str()];
        walk_implies(p, file, &mut path);
    }
}

fn walk_implies<'f>(p: &str, file: &'f File, path: &mut Vec<&'f str>) {
    let last = *path.last().unwrap();
    let row = file.feature.iter().find(|r| r.name == last).unwrap();
    for next in &row.implies {
        assert!(!path.contains(&next.as_str()), "{p}: implication cycle {} -> {next}", path.join(" -> "));
        path.push(next);
        walk_implies(p, file, path);
        path.pop();
    }
}

/// Every feature `name` implies, transitively, in file order.
fn closure<'f>(file: &'f File, name: &str) -> Vec<&'f str> {
    let mut out: Vec<&str> = Vec::new();
    let mut todo = vec![name];
    while let Some(n) = todo.pop() {
        let row = file.feature.iter().find(|r| r.name == n).unwrap();
        for i in &row.implies {
            if !out.contains(&i.as_str()) {
                out.push(i);
                todo.push(i);
            }
        }
    }
    let mut ordered: Vec<&str> = file.feature.iter().map(|r| r.name.as_str()).filter(|n| out.contains(n)).collect();
    ordered.dedup();
    ordered
}

fn hwprobe_key(name: &str) -> Option<u32> {
    match name {
        "BASE_BEHAVIOR" => Some(3),
        "IMA_EXT_0" => Some(4),
        "IMA_EXT_1" => Some(16),
        _ => None,
    }
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn opt(s: &Option<String>) -> String {
    match s {
        Some(s) => format!("Some({s:?})"),
        None => "None".into(),
    }
}

fn generate(files: &[File]) -> String {
    let mut out = String::new();
    let mut rows = Vec::new();
    for (file, (_, variant)) in files.iter().zip(FAMILIES) {
        for row in &file.feature {
            rows.push((file, *variant, row));
        }
    }
    writeln!(out, "/// Number of rows in the table.").unwrap();
    writeln!(out, "pub const FEATURE_COUNT: usize = {};", rows.len()).unwrap();
    writeln!(out, "pub(crate) const SET_WORDS: usize = {};", rows.len().div_ceil(64)).unwrap();
    writeln!(out, "pub(crate) static FEATURES: [Feature; {}] = [", rows.len()).unwrap();
    for (file, family, row) in &rows {
        let archs = row.architectures.as_ref().unwrap_or(&file.architectures);
        let detection = if let Some(c) = &row.cpuid {
            let mask: u64 = c.xcr0.iter().fold(0, |m, b| m | (1u64 << b));
            let reg = match c.reg.as_str() {
                "eax" => "Eax",
                "ebx" => "Ebx",
                "ecx" => "Ecx",
                _ => "Edx",
            };
            format!(
                "Detection::Cpuid {{ leaf: {:#x}, subleaf: {}, reg: Reg::{reg}, bit: {}, xcr0: {mask:#x} }}",
                c.leaf, c.subleaf, c.bit
            )
        } else if let Some(h) = &row.hwcap {
            format!("Detection::Hwcap {{ word: {}, bit: {} }}", h.word, h.bit)
        } else if let Some(h) = &row.hwprobe {
            format!(
                "Detection::Hwprobe {{ key: {}, key_name: {}, bit: {} }}",
                hwprobe_key(&h.key).unwrap(),
                lit(&h.key),
                h.bit
            )
        } else {
            "Detection::CpuinfoOnly".into()
        };
        let other: Vec<String> = row.aliases.other.iter().map(|s| lit(s)).collect();
        let id_of = |name: &str| {
            let id = rows.iter().position(|(fl, _, r)| std::ptr::eq(*fl, *file) && r.name == name).unwrap();
            format!("FeatureId({id})")
        };
        let implies: Vec<String> = row.implies.iter().map(|n| id_of(n)).collect();
        let implied: Vec<String> = closure(file, &row.name).into_iter().map(id_of).collect();
        writeln!(
            out,
            "    Feature {{ family: Family::{family}, name: {}, architectures: &[{}], description: {}, link: {}, linux: {}, since: {}, note: {}, detection: {detection}, aliases: Aliases {{ go: {}, nfd: {}, llvm: {}, other: &[{}] }}, implies: &[{}], implied: &[{}] }},",
            lit(&row.name),
            archs.iter().map(|a| lit(a)).collect::<Vec<_>>().join(", "),
            lit(row.description.trim()),
            lit(&row.link),
            opt(&row.linux),
            lit(&row.since),
            opt(&row.note),
            opt(&row.aliases.go),
            opt(&row.aliases.nfd),
            opt(&row.aliases.llvm),
            other.join(", "),
            implies.join(", "),
            implied.join(", "),
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();

    // Per row: the bit set of itself and everything it implies.
    let words = rows.len().div_ceil(64);
    writeln!(out, "pub(crate) static CLOSURES: [[u64; {words}]; {}] = [", rows.len()).unwrap();
    for (id, (file, _, row)) in rows.iter().enumerate() {
        let mut bits = vec![0u64; words];
        bits[id / 64] |= 1 << (id % 64);
        for name in closure(file, &row.name) {
            let i = rows.iter().position(|(fl, _, r)| std::ptr::eq(*fl, *file) && r.name == name).unwrap();
            bits[i / 64] |= 1 << (i % 64);
        }
        let words: Vec<String> = bits.iter().map(|w| format!("{w:#x}")).collect();
        writeln!(out, "    [{}],", words.join(", ")).unwrap();
    }
    writeln!(out, "];").unwrap();

    // (family, canonical name) -> id, sorted for binary search.
    let mut by_name: Vec<(usize, &str, usize)> =
        rows.iter().enumerate().map(|(id, (_, family, row))| (family_rank(family), row.name.as_str(), id)).collect();
    by_name.sort();
    writeln!(out, "pub(crate) static BY_NAME: [(Family, &str, FeatureId); {}] = [", by_name.len()).unwrap();
    for (f, name, id) in &by_name {
        writeln!(out, "    (Family::{}, {}, FeatureId({id})),", FAMILIES[*f].1, lit(name)).unwrap();
    }
    writeln!(out, "];").unwrap();

    // (family, lowercase spelling) -> id for every alias and Linux name.
    let mut spellings: BTreeSet<(usize, String, usize)> = BTreeSet::new();
    for (id, (_, family, row)) in rows.iter().enumerate() {
        for s in row.aliases.all().chain(row.linux.iter()).chain(std::iter::once(&row.name)) {
            spellings.insert((family_rank(family), s.to_ascii_lowercase(), id));
        }
    }
    writeln!(out, "pub(crate) static BY_SPELLING: [(Family, &str, FeatureId); {}] = [", spellings.len()).unwrap();
    for (f, s, id) in &spellings {
        writeln!(out, "    (Family::{}, {}, FeatureId({id})),", FAMILIES[*f].1, lit(s)).unwrap();
    }
    writeln!(out, "];").unwrap();

    let mut levels = Vec::new();
    for file in files {
        for level in &file.level {
            let ids: Vec<String> = level
                .features
                .iter()
                .map(|f| {
                    let id = rows.iter().position(|(fl, _, r)| std::ptr::eq(*fl, file) && &r.name == f).unwrap();
                    format!("FeatureId({id})")
                })
                .collect();
            levels.push(format!(
                "    Level {{ architecture: {}, variant: {}, link: {}, note: {}, features: &[{}] }},",
                lit(&level.architecture),
                lit(&level.variant),
                lit(&level.link),
                opt(&level.note),
                ids.join(", ")
            ));
        }
    }
    writeln!(out, "pub(crate) static LEVELS: [Level; {}] = [", levels.len()).unwrap();
    for l in levels {
        writeln!(out, "{l}").unwrap();
    }
    writeln!(out, "];").unwrap();

    let mut non_isa = Vec::new();
    for (file, (_, family)) in files.iter().zip(FAMILIES) {
        for flag in &file.non_isa_linux_flags {
            non_isa.push(format!("    (Family::{family}, {}),", lit(flag)));
        }
    }
    writeln!(out, "pub(crate) static NON_ISA_LINUX_FLAGS: [(Family, &str); {}] = [", non_isa.len()).unwrap();
    for l in non_isa {
        writeln!(out, "{l}").unwrap();
    }
    writeln!(out, "];").unwrap();
    out
}

fn family_rank(variant: &str) -> usize {
    FAMILIES.iter().position(|(_, v)| *v == variant).unwrap()
}
