//! Generate a large, lint-clean image index for `bench/lint-vs-jq.sh`:
//!
//! ```text
//! cargo run --release -p ocifit-lint --example gen-index -- 20000 > big.json
//! ```
//!
//! Entries are spread over 12 platforms (amd64 v1–v4, arm64 v8.0–v9.x,
//! ppc64le, s390x); each platform's fallback comes first, then entries with
//! distinct sets of 1–5 features the variant does not guarantee, each with an
//! annotation. Deterministic (a fixed LCG), pretty-printed with 2 spaces.
//! `--dirty` puts every 50th feature entry before its fallback's group
//! position and spells every 40th first feature in upper case, so lint has
//! errors to report.

use std::collections::HashSet;

use ocifit_core::target::guaranteed_features;
use ocifit_core::{Family, FeatureTable};
use serde_json::{Value, json};

const PLATFORMS: &[(&str, &str)] = &[
    ("amd64", ""),
    ("amd64", "v2"),
    ("amd64", "v3"),
    ("amd64", "v4"),
    ("arm64", ""),
    ("arm64", "v8.2"),
    ("arm64", "v8.4"),
    ("arm64", "v9"),
    ("arm64", "v9.2"),
    ("ppc64le", ""),
    ("s390x", ""),
    ("riscv64", ""),
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(20_000);
    let dirty = args.iter().any(|a| a == "--dirty");
    let table = FeatureTable::builtin();
    let mut rng = Lcg(0x5eed);
    let per = total.div_ceil(PLATFORMS.len());
    let mut manifests: Vec<Value> = Vec::with_capacity(total);
    let mut n = 0usize;
    for (arch, variant) in PLATFORMS {
        let guaranteed = guaranteed_features(table, arch, variant);
        let family = Family::of(arch).unwrap();
        let pool: Vec<&str> = table
            .family(family)
            .filter(|f| f.valid_for(arch) && !guaranteed.contains(f.id()))
            .map(|f| f.name)
            .collect();
        let mut seen: HashSet<Vec<&str>> = HashSet::new();
        let mut group: Vec<Value> = Vec::new();
        for k in 0..per {
            if n >= total {
                break;
            }
            let mut platform = json!({"architecture": arch, "os": "linux"});
            if !variant.is_empty() {
                platform["variant"] = json!(variant);
            }
            if k > 0 {
                let mut features = loop {
                    let count = 1 + rng.below(5);
                    let mut set: Vec<&str> = (0..count).map(|_| pool[rng.below(pool.len())]).collect();
                    set.sort_unstable();
                    set.dedup();
                    if seen.insert(set.clone()) {
                        break set;
                    }
                };
                if dirty && k % 40 == 0 {
                    features[0] = Box::leak(features[0].to_uppercase().into_boxed_str());
                }
                platform["features"] = json!(features);
            }
            n += 1;
            group.push(json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "size": 1000 + rng.below(100_000),
                "digest": format!("sha256:{:016x}{:016x}{:016x}{:016x}", rng.next(), rng.next(), rng.next(), n),
                "platform": platform,
                "annotations": {"org.opencontainers.image.ref.name": format!("build-{n}")},
            }));
        }
        if dirty && group.len() > 50 {
            // Move the fallback behind the first feature entry: unsafe order.
            group.swap(0, 1);
        }
        manifests.extend(group);
    }
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
        "annotations": {"org.opencontainers.image.description": format!("ocifit lint benchmark: {total} entries")},
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    text.push('\n');
    print!("{text}");
}
