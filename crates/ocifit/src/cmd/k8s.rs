//! `ocifit k8s affinity`: a Pod affinity that admits exactly the nodes on
//! which some entry of an index (or one entry) runs, as the affinity or as
//! a patch for a workload's Pod template.

use ocifit_fleet::affinity::{self, Labels, Options};
use ocifit_fleet::yaml;
use ocifit_source::Source;

use crate::cli::{AffinityArgs, AffinityLabels, AffinityOutput, ObjectFormat};
use crate::error::{Failure, Outcome};
use crate::output;

pub fn affinity(args: AffinityArgs) -> Outcome {
    let source = Source::parse(&args.source);
    let loaded = source.load()?;
    let labels = match args.labels {
        AffinityLabels::Nfd => Labels::Nfd,
        AffinityLabels::Ocifit => Labels::Ocifit,
    };
    let pinned = match args.entry {
        Some(n) => {
            let entry = loaded.index.entry(n).ok_or_else(|| {
                Failure::bad(format!(
                    "--entry {n}: {source} has {} entries (0 to {})",
                    loaded.index.len(),
                    loaded.index.len().saturating_sub(1)
                ))
            })?;
            Some(loaded.pin(entry.digest).unwrap_or_else(|| entry.digest.to_string()))
        }
        None => None,
    };
    let plan = affinity::plan_with(&loaded.index, Options { labels, entry: args.entry });
    for note in &plan.notes {
        eprintln!("ocifit: note: {note}");
    }
    if plan.required.is_empty() {
        let what = args.entry.map_or_else(|| "no entry".to_string(), |n| format!("entry {n}"));
        return Err(Failure::bad(format!(
            "{source}: {what} can be admitted by node labels (see the notes above; docs/kubernetes.md)"
        )));
    }
    let value = match args.output {
        AffinityOutput::Affinity => serde_json::to_value(plan.affinity()).expect("an Affinity always serializes"),
        AffinityOutput::Patch => plan.patch(),
    };
    match args.format {
        ObjectFormat::Json => output::print_json(&value),
        ObjectFormat::Yaml => {
            let mut text = match args.output {
                AffinityOutput::Affinity => format!("# spec.affinity for {source} (ocifit k8s affinity)\n"),
                AffinityOutput::Patch => format!(
                    "# Pod template affinity for {source} (ocifit k8s affinity --output patch):\n\
                     #   kubectl patch deployment|statefulset|daemonset NAME --patch-file FILE\n"
                ),
            };
            if let Some(pinned) = &pinned {
                text.push_str(&format!("# deploy the entry by digest: image: {pinned}\n"));
            }
            for (k, term) in plan.required.iter().enumerate() {
                let entries: Vec<String> = term.entries.iter().map(|e| format!("#{e}")).collect();
                text.push_str(&format!("# required term {}: entry {}\n", k + 1, entries.join(", ")));
            }
            for p in &plan.preferred {
                text.push_str(&format!("# preferred weight {}: entry #{}\n", p.weight, p.entry));
            }
            text.push_str(&yaml::to_string(&value));
            output::print(&text);
        }
    }
    Ok(0)
}
