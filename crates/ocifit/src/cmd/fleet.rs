//! `ocifit fleet`: every image against every node; the pairs that cannot run.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use ocifit_core::select::Reason;
use ocifit_core::{FeatureSet, Index, Rejection};
use ocifit_fleet::nodes::{self, Fleet, NodeRecord};
use ocifit_fleet::{ImageCheck, Outcome, Prepared, Verdict};
use ocifit_source::Source;
use serde_json::{Value, json};

use crate::cli::{FleetArgs, FleetFormat};
use crate::error::{Failure, Outcome as CommandOutcome};
use crate::output;

pub fn run(args: FleetArgs) -> CommandOutcome {
    if args.nodes.iter().chain(&args.image).filter(|a| *a == "-").count() > 1 {
        return Err(Failure::bad("standard input (-) can be only one of the --nodes and --image inputs"));
    }
    let fleet = read_fleet(&args.nodes)?;
    let mut images: Vec<String> = Vec::new();
    for image in &args.image {
        if !images.contains(image) {
            images.push(image.clone());
        }
    }
    let indexes = load_images(&images, usize::from(args.jobs))?;
    let refs: Vec<&Index> = indexes.iter().collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let checks = Prepared::new(&fleet).check_all(&refs, threads);
    let report = Report { fleet: &fleet, images: &images, indexes: &indexes, checks: &checks };
    let only = args.only_incompatible;
    // A closed pipe (`| head`) is not an error.
    let _ = match args.format {
        FleetFormat::Json => write_stdout(|out| report.json(out, only)),
        FleetFormat::Csv => write_stdout(|out| report.csv(out, only)),
        FleetFormat::Text => write_stdout(|out| out.write_all(report.text(only).as_bytes())),
    };
    Ok(if report.all_compatible() { 0 } else { 1 })
}

fn read_fleet(args: &[String]) -> Result<Fleet, Failure> {
    let mut records: Vec<NodeRecord> = Vec::new();
    for arg in args {
        let found = if arg == "-" {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
                .map_err(|e| Failure::bad(format!("-: cannot read standard input: {e}")))?;
            nodes::parse(&bytes, "-", "-")
        } else {
            nodes::read_path(Path::new(arg))
        };
        records.extend(found.map_err(|e| Failure::bad(format!("--nodes {e}")))?);
    }
    if records.is_empty() {
        return Err(Failure::bad(format!("--nodes {}: no nodes", args.join(" "))));
    }
    Fleet::from_records(records).map_err(|e| Failure::bad(format!("--nodes {e}")))
}

/// Load every image once, `jobs` at a time; progress on stderr when it is a
/// terminal and loading takes more than a second.
fn load_images(images: &[String], jobs: usize) -> Result<Vec<Index>, Failure> {
    let slots: Vec<Mutex<Option<Result<Index, String>>>> = images.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let (finished, events) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(images.len()) {
            let finished = finished.clone();
            let (next, slots) = (&next, &slots);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(arg) = images.get(i) else { break };
                    let loaded = Source::parse(arg).load().map(|l| l.index).map_err(|e| e.to_string());
                    *slots[i].lock().expect("no thread panics holding a slot") = Some(loaded);
                    let _ = finished.send(());
                }
            });
        }
        drop(finished);
        let mut progress = Progress::new(images.len());
        let mut done = 0;
        while done < images.len() {
            match events.recv_timeout(Duration::from_millis(100)) {
                Ok(()) => done += 1,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            progress.show(done);
        }
        progress.finish();
    });
    let mut indexes = Vec::with_capacity(images.len());
    for slot in slots {
        match slot.into_inner().expect("no thread panics holding a slot") {
            Some(Ok(index)) => indexes.push(index),
            Some(Err(message)) => return Err(Failure::bad(message)),
            None => unreachable!("every image is loaded"),
        }
    }
    Ok(indexes)
}

/// `loading images 12/500` on stderr, only on a terminal and after a second.
struct Progress {
    total: usize,
    start: Instant,
    last: Instant,
    shown: bool,
    tty: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        let now = Instant::now();
        Progress { total, start: now, last: now, shown: false, tty: std::io::stderr().is_terminal() }
    }

    fn show(&mut self, done: usize) {
        let now = Instant::now();
        if self.tty && now - self.start > Duration::from_secs(1) && now - self.last >= Duration::from_millis(100) {
            eprint!("\rocifit: loading images {done}/{}", self.total);
            self.shown = true;
            self.last = now;
        }
    }

    fn finish(&mut self) {
        if self.shown {
            eprint!("\r\x1b[K");
        }
    }
}

fn write_stdout(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    f(&mut out)?;
    out.flush()
}

struct Report<'a> {
    fleet: &'a Fleet,
    images: &'a [String],
    indexes: &'a [Index],
    checks: &'a [ImageCheck],
}

/// Node counts by verdict.
#[derive(Default, Clone, Copy)]
struct Counts {
    compatible: usize,
    incompatible: usize,
    unknown: usize,
}

impl Counts {
    fn add(&mut self, verdict: Verdict, n: usize) {
        match verdict {
            Verdict::Compatible => self.compatible += n,
            Verdict::Incompatible => self.incompatible += n,
            Verdict::Unknown => self.unknown += n,
        }
    }

    fn json(&self) -> Value {
        json!({"compatible": self.compatible, "incompatible": self.incompatible, "unknown": self.unknown})
    }
}

fn digest(index: &Index, entry: usize) -> &str {
    index.entry(entry).map_or("", |e| e.digest)
}

fn names(set: &FeatureSet) -> Vec<&'static str> {
    set.sorted_names()
}

fn reasons_json(rejected: &[Rejection]) -> Value {
    Value::Array(
        rejected
            .iter()
            .map(|r| json!({"index": r.index, "reasons": r.reasons.iter().map(|x| x.to_json()).collect::<Vec<_>>()}))
            .collect(),
    )
}

/// Why nothing runs, briefly: the entries for the node's platform and what
/// they lack (`#1 lacks avx512f avx512bw`); entries for other platforms only
/// as a list of those platforms.
fn reasons_text(index: &Index, rejected: &[Rejection]) -> String {
    let elsewhere =
        |r: &Rejection| r.reasons.iter().any(|x| matches!(x.code(), "no-platform" | "os-mismatch" | "arch-mismatch"));
    let mut parts: Vec<String> = Vec::new();
    for r in rejected.iter().filter(|r| !elsewhere(r)) {
        let lacks: Vec<String> = r
            .reasons
            .iter()
            .filter_map(|x| match x {
                Reason::FeatureUnsupported { feature, implied_by: None } => Some(feature.clone()),
                Reason::FeatureUnsupported { feature, implied_by: Some(by) } => {
                    Some(format!("{feature} (implied by {by})"))
                }
                _ => None,
            })
            .collect();
        let mut why: Vec<String> =
            r.reasons.iter().filter(|x| x.code() != "feature-unsupported").map(ToString::to_string).collect();
        if !lacks.is_empty() {
            why.push(format!("lacks {}", lacks.join(" ")));
        }
        parts.push(format!("#{} {}", r.index, why.join(", ")));
    }
    let mut others: Vec<String> = Vec::new();
    for r in rejected.iter().filter(|r| elsewhere(r)) {
        let shown = index.entry(r.index).and_then(|e| e.platform).map_or("(no platform)".to_string(), |p| {
            let mut s = format!("{}/{}", p.os, p.architecture);
            if !p.variant.is_empty() {
                s = format!("{s}/{}", p.variant);
            }
            s
        });
        if !others.contains(&shown) {
            others.push(shown);
        }
    }
    if parts.is_empty() {
        format!("no entry for this platform (the image has {})", others.join(", "))
    } else {
        parts.join("; ")
    }
}

impl Report<'_> {
    fn by_image(&self, image: usize) -> Counts {
        let mut counts = Counts::default();
        for (g, group) in self.fleet.groups.iter().enumerate() {
            counts.add(self.checks[image].outcome(g).verdict, group.members.len());
        }
        counts
    }

    fn by_group(&self, group: usize) -> Counts {
        let mut counts = Counts::default();
        for check in self.checks {
            counts.add(check.outcome(group).verdict, 1);
        }
        counts
    }

    fn totals(&self) -> Counts {
        let mut counts = Counts::default();
        for image in 0..self.checks.len() {
            let c = self.by_image(image);
            counts.compatible += c.compatible;
            counts.incompatible += c.incompatible;
            counts.unknown += c.unknown;
        }
        counts
    }

    fn all_compatible(&self) -> bool {
        self.checks.iter().all(|c| c.outcomes.iter().all(|o| o.verdict == Verdict::Compatible))
    }

    /// The part of a result every node of a group shares, as JSON members
    /// after `"node"`.
    fn outcome_json(&self, image: usize, outcome: &Outcome) -> String {
        let index = &self.indexes[image];
        let mut obj = serde_json::Map::new();
        obj.insert(
            "selected".into(),
            outcome.selected.map_or(Value::Null, |i| json!({"index": i, "digest": digest(index, i)})),
        );
        obj.insert("verdict".into(), json!(outcome.verdict.name()));
        if let Some(b) = outcome.better {
            obj.insert("better".into(), json!({"index": b, "digest": digest(index, b)}));
        }
        if !outcome.depends_on.is_empty() {
            obj.insert("dependsOn".into(), json!(names(&outcome.depends_on)));
        }
        if outcome.verdict != Verdict::Compatible {
            obj.insert("rejected".into(), reasons_json(&outcome.rejected));
        }
        let text = serde_json::to_string(&Value::Object(obj)).expect("a Value always serializes");
        text[1..].to_string()
    }

    fn json(&self, out: &mut dyn Write, only: bool) -> std::io::Result<()> {
        let node_names: Vec<String> =
            self.fleet.nodes.iter().map(|n| serde_json::to_string(&n.name).expect("strings serialize")).collect();
        out.write_all(b"{\"results\":[")?;
        let mut first = true;
        for (image, check) in self.checks.iter().enumerate() {
            let image_name = serde_json::to_string(&self.images[image]).expect("strings serialize");
            let shared: Vec<String> = check.outcomes.iter().map(|o| self.outcome_json(image, o)).collect();
            for (node, name) in node_names.iter().enumerate() {
                let k = check.by_group[self.fleet.group_of[node]] as usize;
                if only && check.outcomes[k].verdict == Verdict::Compatible {
                    continue;
                }
                out.write_all(if first { b"\n" } else { b",\n" })?;
                first = false;
                write!(out, "{{\"image\":{image_name},\"node\":{name},{}", shared[k])?;
            }
        }
        out.write_all(b"\n],\n\"summary\":")?;
        let totals = self.totals();
        let groups: Vec<Value> = self
            .fleet
            .groups
            .iter()
            .enumerate()
            .map(|(g, group)| {
                let mut obj = json!({
                    "group": g + 1,
                    "platform": group.profile.min.platform.short(),
                    "nodes": group.members.len(),
                    "examples": group.members.iter().take(3).map(|&n| &self.fleet.nodes[n].name).collect::<Vec<_>>(),
                    "images": self.by_group(g).json(),
                });
                let unknown = group.profile.unknown();
                if !unknown.is_empty() {
                    obj["inputCannotTell"] = json!(names(&unknown));
                }
                obj
            })
            .collect();
        let summary = json!({
            "images": self.images.len(),
            "nodes": self.fleet.nodes.len(),
            "groups": groups,
            "pairs": totals.json(),
            "byImage": (0..self.images.len())
                .map(|i| {
                    let mut c = self.by_image(i).json();
                    c["image"] = json!(self.images[i]);
                    c
                })
                .collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut *out, &summary)?;
        out.write_all(b"}\n")
    }

    fn csv(&self, out: &mut dyn Write, only: bool) -> std::io::Result<()> {
        out.write_all(b"image,node,group,verdict,selected_index,selected_digest,better_index,depends_on\n")?;
        // Cells shared by many rows are formatted once.
        let node_cells: Vec<String> = self
            .fleet
            .nodes
            .iter()
            .zip(&self.fleet.group_of)
            .map(|(n, g)| format!("{},{}", csv_cell(&n.name), g + 1))
            .collect();
        for (image, check) in self.checks.iter().enumerate() {
            let index = &self.indexes[image];
            let image_cell = csv_cell(&self.images[image]);
            let tails: Vec<String> = check
                .outcomes
                .iter()
                .map(|o| {
                    let cells = [
                        o.verdict.name().to_string(),
                        o.selected.map(|i| i.to_string()).unwrap_or_default(),
                        o.selected.map(|i| digest(index, i).to_string()).unwrap_or_default(),
                        o.better.map(|i| i.to_string()).unwrap_or_default(),
                        names(&o.depends_on).join(" "),
                    ];
                    cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",")
                })
                .collect();
            for (node, node_cell) in node_cells.iter().enumerate() {
                let k = check.by_group[self.fleet.group_of[node]] as usize;
                if only && check.outcomes[k].verdict == Verdict::Compatible {
                    continue;
                }
                writeln!(out, "{image_cell},{node_cell},{}", tails[k])?;
            }
        }
        Ok(())
    }

    /// `2 nodes: a, b` (at most three names).
    fn group_nodes(&self, g: usize) -> String {
        let members = &self.fleet.groups[g].members;
        let mut nodes: Vec<&str> = members.iter().take(3).map(|&n| self.fleet.nodes[n].name.as_str()).collect();
        if members.len() > 3 {
            nodes.push("…");
        }
        format!("{} node{}: {}", members.len(), plural(members.len()), nodes.join(", "))
    }

    fn group_label(&self, g: usize) -> String {
        let profile = &self.fleet.groups[g].profile;
        let (min, max) = (&profile.min.platform, &profile.max.platform);
        let mut platform = min.short();
        if max.variant != min.variant {
            let v = |s: &str| if s.is_empty() { "v1".to_string() } else { s.to_string() };
            platform = format!("{} ({}..{})", platform, v(&min.variant), v(&max.variant));
        }
        let unknown = profile.unknown().len();
        let unknown = if unknown > 0 { format!("  (input cannot tell {unknown} features)") } else { String::new() };
        format!("{platform}  {}{unknown}", self.group_nodes(g))
    }

    fn text(&self, only: bool) -> String {
        let mut out = String::new();
        let totals = self.totals();
        let groups = self.fleet.groups.len();
        out.push_str(&format!(
            "fleet: {} node{} in {groups} group{} of identical profiles, {} image{}: {} pairs compatible, {} incompatible, {} unknown\n",
            self.fleet.nodes.len(),
            plural(self.fleet.nodes.len()),
            plural(groups),
            self.images.len(),
            plural(self.images.len()),
            totals.compatible,
            totals.incompatible,
            totals.unknown
        ));
        if !only {
            out.push_str("\nnode groups:\n");
            for g in 0..groups {
                out.push_str(&format!("  G{:<4} {}\n", g + 1, self.group_label(g)));
            }
            out.push('\n');
            out.push_str(&self.matrix());
        }
        let problems = self.problems();
        if !problems.is_empty() {
            out.push_str("\nnot known to run:\n");
            out.push_str(&problems);
        }
        out
    }

    /// Images × groups: the entry each group selects (`#1`), `no`
    /// (incompatible) or `?` (unknown); node counts on the right.
    fn matrix(&self) -> String {
        const MAX_COLUMNS: usize = 16;
        let groups = self.fleet.groups.len();
        let cells = groups <= MAX_COLUMNS;
        let mut header: Vec<String> = vec!["image".into()];
        if cells {
            header.extend((1..=groups).map(|g| format!("G{g}")));
        }
        header.extend(["compatible", "incompatible", "unknown"].map(String::from));
        let rows: Vec<Vec<String>> = (0..self.images.len())
            .map(|i| {
                let mut row = vec![self.images[i].clone()];
                if cells {
                    row.extend((0..groups).map(|g| {
                        let o = self.checks[i].outcome(g);
                        match (o.verdict, o.selected, o.better) {
                            (Verdict::Compatible, Some(s), Some(b)) => format!("#{s}/#{b}?"),
                            (Verdict::Compatible, Some(s), None) => format!("#{s}"),
                            (Verdict::Unknown, ..) => "?".into(),
                            _ => "no".into(),
                        }
                    }));
                }
                let c = self.by_image(i);
                row.extend([c.compatible, c.incompatible, c.unknown].map(|n| n.to_string()));
                row
            })
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut out = output::table(&header, &rows);
        if cells {
            out.push_str(
                "\n#N: the entry the group selects; #N/#M?: #M if the nodes have features their input cannot tell;\n\
                 no: incompatible; ?: unknown. Counts are nodes.\n",
            );
        } else {
            out.push_str(&format!("\n({groups} groups: per-group cells left out; --format csv has every pair)\n"));
        }
        out
    }

    /// Every (image, group) pair not known to run, one line each.
    fn problems(&self) -> String {
        let mut out = String::new();
        for (i, check) in self.checks.iter().enumerate() {
            for g in 0..self.fleet.groups.len() {
                let o = check.outcome(g);
                let why = match o.verdict {
                    Verdict::Compatible => continue,
                    Verdict::Incompatible => format!("incompatible: {}", reasons_text(&self.indexes[i], &o.rejected)),
                    Verdict::Unknown => format!(
                        "unknown: runs only if the nodes have {}, which their input cannot tell",
                        names(&o.depends_on).join(", ")
                    ),
                };
                out.push_str(&format!("  {} on G{} ({}): {why}\n", self.images[i], g + 1, self.group_nodes(g)));
            }
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// RFC 4180: quote a cell with a comma, quote or line break.
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}
