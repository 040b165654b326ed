//! The fleet report: every image against every node, as text (a matrix of
//! images × node groups, then the pairs not known to run), JSON (one result
//! per pair and a summary) or CSV (one row per pair).
//!
//! An image that could not be read (a deleted tag, a registry that is down)
//! is one error row in every format; the other images are still checked.

use std::io::Write;

use ocifit_core::select::Reason;
use ocifit_core::{FeatureSet, Index, Rejection};
use serde_json::{Value, json};

use crate::check::{ImageCheck, Outcome, Prepared, Verdict};
use crate::nodes::Fleet;

/// One `--image` argument: checked, or why it could not be.
#[derive(Debug, Clone)]
pub enum ImageResult {
    Checked { index: Index, check: ImageCheck },
    Failed(String),
}

/// Every image checked against a fleet.
pub struct Report<'a> {
    fleet: &'a Fleet,
    images: &'a [String],
    results: Vec<ImageResult>,
}

/// Node counts by verdict.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub compatible: usize,
    pub incompatible: usize,
    pub unknown: usize,
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

impl<'a> Report<'a> {
    /// Check every image that was loaded (`loaded[i]` is `images[i]`, or
    /// the one-line reason it could not be read), on up to `threads` threads.
    pub fn new(fleet: &'a Fleet, images: &'a [String], loaded: Vec<Result<Index, String>>, threads: usize) -> Self {
        assert_eq!(images.len(), loaded.len(), "one load result per image");
        let indexes: Vec<&Index> = loaded.iter().filter_map(|l| l.as_ref().ok()).collect();
        let mut checks = Prepared::new(fleet).check_all(&indexes, threads).into_iter();
        let results = loaded
            .into_iter()
            .map(|l| match l {
                Ok(index) => ImageResult::Checked { index, check: checks.next().expect("one check per index") },
                Err(message) => ImageResult::Failed(message),
            })
            .collect();
        Report { fleet, images, results }
    }

    pub fn results(&self) -> &[ImageResult] {
        &self.results
    }

    /// How many images were checked (not failed).
    pub fn checked(&self) -> usize {
        self.results.iter().filter(|r| matches!(r, ImageResult::Checked { .. })).count()
    }

    /// The images that could not be read, with why.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.images.iter().zip(&self.results).filter_map(|(name, r)| match r {
            ImageResult::Failed(message) => Some((name.as_str(), message.as_str())),
            ImageResult::Checked { .. } => None,
        })
    }

    /// Every image was read and runs on every node.
    pub fn all_compatible(&self) -> bool {
        self.results.iter().all(|r| match r {
            ImageResult::Checked { check, .. } => check.outcomes.iter().all(|o| o.verdict == Verdict::Compatible),
            ImageResult::Failed(_) => false,
        })
    }

    fn checks(&self) -> impl Iterator<Item = (usize, &Index, &ImageCheck)> {
        self.results.iter().enumerate().filter_map(|(i, r)| match r {
            ImageResult::Checked { index, check } => Some((i, index, check)),
            ImageResult::Failed(_) => None,
        })
    }

    fn by_image(&self, check: &ImageCheck) -> Counts {
        let mut counts = Counts::default();
        for (g, group) in self.fleet.groups.iter().enumerate() {
            counts.add(check.outcome(g).verdict, group.members.len());
        }
        counts
    }

    fn by_group(&self, group: usize) -> Counts {
        let mut counts = Counts::default();
        for (_, _, check) in self.checks() {
            counts.add(check.outcome(group).verdict, 1);
        }
        counts
    }

    /// Node × image pairs by verdict (failed images left out).
    pub fn totals(&self) -> Counts {
        let mut counts = Counts::default();
        for (_, _, check) in self.checks() {
            let c = self.by_image(check);
            counts.compatible += c.compatible;
            counts.incompatible += c.incompatible;
            counts.unknown += c.unknown;
        }
        counts
    }

    /// The part of a result every node of a group shares, as JSON members
    /// after `"node"`.
    fn outcome_json(index: &Index, outcome: &Outcome) -> String {
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

    /// `{"results":[...],"summary":{...}}`, written as it is produced; an
    /// image that could not be read is one result `{"image","verdict":"error","error"}`.
    pub fn json(&self, out: &mut dyn Write, only: bool) -> std::io::Result<()> {
        let node_names: Vec<String> =
            self.fleet.nodes.iter().map(|n| serde_json::to_string(&n.name).expect("strings serialize")).collect();
        out.write_all(b"{\"results\":[")?;
        let mut first = true;
        for (image, result) in self.results.iter().enumerate() {
            let image_name = serde_json::to_string(&self.images[image]).expect("strings serialize");
            let (index, check) = match result {
                ImageResult::Checked { index, check } => (index, check),
                ImageResult::Failed(message) => {
                    out.write_all(if first { b"\n" } else { b",\n" })?;
                    first = false;
                    let message = serde_json::to_string(message).expect("strings serialize");
                    write!(out, "{{\"image\":{image_name},\"verdict\":\"error\",\"error\":{message}}}")?;
                    continue;
                }
            };
            let shared: Vec<String> = check.outcomes.iter().map(|o| Self::outcome_json(index, o)).collect();
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
        let by_image: Vec<Value> = self
            .results
            .iter()
            .zip(self.images)
            .map(|(result, name)| match result {
                ImageResult::Checked { check, .. } => {
                    let mut c = self.by_image(check).json();
                    c["image"] = json!(name);
                    c
                }
                ImageResult::Failed(message) => json!({"image": name, "error": message}),
            })
            .collect();
        let summary = json!({
            "images": self.images.len(),
            "nodes": self.fleet.nodes.len(),
            "groups": groups,
            "pairs": self.totals().json(),
            "errors": self.results.len() - self.checked(),
            "byImage": by_image,
        });
        serde_json::to_writer_pretty(&mut *out, &summary)?;
        out.write_all(b"}\n")
    }

    /// One row per (image, node); an image that could not be read is one
    /// row with verdict `error` and the reason in the last column.
    pub fn csv(&self, out: &mut dyn Write, only: bool) -> std::io::Result<()> {
        out.write_all(b"image,node,group,verdict,selected_index,selected_digest,better_index,depends_on,error\n")?;
        // Cells shared by many rows are formatted once.
        let node_cells: Vec<String> = self
            .fleet
            .nodes
            .iter()
            .zip(&self.fleet.group_of)
            .map(|(n, g)| format!("{},{}", csv_cell(&n.name), g + 1))
            .collect();
        for (image, result) in self.results.iter().enumerate() {
            let image_cell = csv_cell(&self.images[image]);
            let (index, check) = match result {
                ImageResult::Checked { index, check } => (index, check),
                ImageResult::Failed(message) => {
                    writeln!(out, "{image_cell},,,error,,,,,{}", csv_cell(message))?;
                    continue;
                }
            };
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
                writeln!(out, "{image_cell},{node_cell},{},", tails[k])?;
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

    /// The text report: a summary line, the node groups and the matrix
    /// (unless `only`), the pairs not known to run, the images not checked.
    pub fn text(&self, only: bool) -> String {
        let mut out = String::new();
        let totals = self.totals();
        let groups = self.fleet.groups.len();
        let failed = self.results.len() - self.checked();
        out.push_str(&format!(
            "fleet: {} node{} in {groups} group{} of identical profiles, {} image{}: {} pairs compatible, {} incompatible, {} unknown",
            self.fleet.nodes.len(),
            plural(self.fleet.nodes.len()),
            plural(groups),
            self.images.len(),
            plural(self.images.len()),
            totals.compatible,
            totals.incompatible,
            totals.unknown
        ));
        if failed > 0 {
            out.push_str(&format!("; {failed} image{} not checked", plural(failed)));
        }
        out.push('\n');
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
        if failed > 0 {
            out.push_str("\nnot checked (the image could not be read):\n");
            for (image, message) in self.failures() {
                out.push_str(&format!("  {image}: error: {message}\n"));
            }
        }
        out
    }

    /// Images × groups: the entry each group selects (`#1`), `no`
    /// (incompatible), `?` (unknown) or `error`; node counts on the right.
    fn matrix(&self) -> String {
        const MAX_COLUMNS: usize = 16;
        let groups = self.fleet.groups.len();
        let cells = groups <= MAX_COLUMNS;
        let mut header: Vec<String> = vec!["image".into()];
        if cells {
            header.extend((1..=groups).map(|g| format!("G{g}")));
        }
        header.extend(["compatible", "incompatible", "unknown"].map(String::from));
        let rows: Vec<Vec<String>> = self
            .results
            .iter()
            .zip(self.images)
            .map(|(result, name)| {
                let mut row = vec![name.clone()];
                let ImageResult::Checked { check, .. } = result else {
                    row.extend(std::iter::repeat_n("error".to_string(), if cells { groups } else { 0 }));
                    row.extend(["-", "-", "-"].map(String::from));
                    return row;
                };
                if cells {
                    row.extend((0..groups).map(|g| {
                        let o = check.outcome(g);
                        match (o.verdict, o.selected, o.better) {
                            (Verdict::Compatible, Some(s), Some(b)) => format!("#{s}/#{b}?"),
                            (Verdict::Compatible, Some(s), None) => format!("#{s}"),
                            (Verdict::Unknown, ..) => "?".into(),
                            _ => "no".into(),
                        }
                    }));
                }
                let c = self.by_image(check);
                row.extend([c.compatible, c.incompatible, c.unknown].map(|n| n.to_string()));
                row
            })
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut out = table(&header, &rows);
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
        for (i, index, check) in self.checks() {
            for g in 0..self.fleet.groups.len() {
                let o = check.outcome(g);
                let why = match o.verdict {
                    Verdict::Compatible => continue,
                    Verdict::Incompatible => format!("incompatible: {}", reasons_text(index, &o.rejected)),
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

/// One entry's rejection in one short phrase (what `select`'s table and
/// this report write): its other reasons, then `unknown features x y` and
/// `lacks avx512f avx512bw` for all such features at once — never a
/// sentence per feature.
pub fn brief_reasons(reasons: &[Reason]) -> String {
    let mut lacks: Vec<String> = Vec::new();
    let mut unknown: Vec<&Reason> = Vec::new();
    let mut why: Vec<String> = Vec::new();
    for reason in reasons {
        match reason {
            Reason::FeatureUnsupported { feature, implied_by: None } => lacks.push(feature.clone()),
            // §4.6: the listed feature whose closure holds the missing one.
            Reason::FeatureUnsupported { feature, implied_by: Some(by) } => {
                lacks.push(format!("{feature} (implied by {by})"))
            }
            Reason::FeatureUnknown { .. } => unknown.push(reason),
            other => why.push(other.to_string()),
        }
    }
    match unknown.as_slice() {
        [] => {}
        [one] => why.push(one.to_string()),
        many => {
            let names: Vec<&str> = many
                .iter()
                .filter_map(|r| match r {
                    Reason::FeatureUnknown { feature, .. } => Some(feature.as_str()),
                    _ => None,
                })
                .collect();
            why.push(format!("unknown features {}", names.join(" ")));
        }
    }
    if !lacks.is_empty() {
        why.push(format!("lacks {}", lacks.join(" ")));
    }
    why.join(", ")
}

/// Why nothing runs, briefly: the entries for the node's platform and what
/// they lack (`#1 lacks avx512f avx512bw`); entries for other platforms only
/// as a list of those platforms.
fn reasons_text(index: &Index, rejected: &[Rejection]) -> String {
    let elsewhere =
        |r: &Rejection| r.reasons.iter().any(|x| matches!(x.code(), "no-platform" | "os-mismatch" | "arch-mismatch"));
    let parts: Vec<String> = rejected
        .iter()
        .filter(|r| !elsewhere(r))
        .map(|r| format!("#{} {}", r.index, brief_reasons(&r.reasons)))
        .collect();
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// RFC 4180: quote a cell with a comma, quote or line break.
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Pad `rows` into aligned columns under `header` (two spaces between
/// columns, no padding after the last).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            out.push_str(c);
            if i < last {
                out.extend(std::iter::repeat_n(' ', w - c.chars().count() + 2));
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::{self, Fleet};

    /// A library user gets the CLI's report: an image that could not be
    /// read is one error row in each format, the others are checked.
    #[test]
    fn a_failed_image_is_one_error_row_in_every_format() {
        let profiles = br#"[{"name":"n1","os":"linux","architecture":"amd64","variant":"v3","features":[]},
                            {"name":"n2","os":"linux","architecture":"arm64","features":[]}]"#;
        let fleet = Fleet::from_records(nodes::parse(profiles, "profiles.json", "-").unwrap()).unwrap();
        let index = Index::from_slice(
            br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",
                "size":1,"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "platform":{"os":"linux","architecture":"amd64"}}]}"#,
        )
        .unwrap();
        let images = ["app.json".to_string(), "gone:v1".to_string()];
        let report = Report::new(&fleet, &images, vec![Ok(index), Err("gone:v1: unknown tag".into())], 2);
        assert_eq!(report.checked(), 1);
        assert_eq!(report.failures().collect::<Vec<_>>(), [("gone:v1", "gone:v1: unknown tag")]);
        assert!(!report.all_compatible());
        assert_eq!(report.totals(), Counts { compatible: 1, incompatible: 1, unknown: 0 });

        let mut json = Vec::new();
        report.json(&mut json, false).unwrap();
        let doc: Value = serde_json::from_slice(&json).unwrap();
        let results = doc["results"].as_array().unwrap();
        assert_eq!(results.len(), 3, "two nodes for app.json, one error row: {doc}");
        assert_eq!(results[2], json!({"image": "gone:v1", "verdict": "error", "error": "gone:v1: unknown tag"}));
        assert_eq!(doc["summary"]["errors"], 1);

        let mut csv = Vec::new();
        report.csv(&mut csv, true).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert_eq!(csv.lines().filter(|l| l.starts_with("gone:v1,,,error,")).count(), 1, "{csv}");
        assert_eq!(csv.lines().count(), 3, "header, n2 incompatible, the error: {csv}");

        let text = report.text(false);
        assert!(text.contains("  gone:v1: error: gone:v1: unknown tag\n"), "{text}");
    }
}
