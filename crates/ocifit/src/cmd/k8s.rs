//! `ocifit k8s affinity`: a Pod affinity that admits exactly the nodes on
//! which some entry of an index runs.

use ocifit_fleet::{affinity, yaml};
use ocifit_source::Source;

use crate::cli::{AffinityArgs, ObjectFormat};
use crate::error::{Failure, Outcome};
use crate::output;

pub fn affinity(args: AffinityArgs) -> Outcome {
    let source = Source::parse(&args.source);
    let loaded = source.load()?;
    let plan = affinity::plan(&loaded.index);
    for note in &plan.notes {
        eprintln!("ocifit: note: {note}");
    }
    if plan.required.is_empty() {
        return Err(Failure::bad(format!(
            "{source}: no entry can be admitted by node labels (see the notes above; docs/kubernetes.md)"
        )));
    }
    let value = serde_json::to_value(plan.affinity()).expect("an Affinity always serializes");
    match args.format {
        ObjectFormat::Json => output::print_json(&value),
        ObjectFormat::Yaml => {
            let mut text = format!("# spec.affinity for {source} (ocifit k8s affinity)\n");
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
