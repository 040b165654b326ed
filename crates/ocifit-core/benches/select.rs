//! parse + select on a 20,000-entry index, against serde_json parsing the
//! same bytes alone into a `Value` (issue target: select costs at most 1.3x
//! the bare parse). `parse_and_select` is what `ocifit select` runs (the
//! read-only `IndexView`); `document_parse_and_select` builds the editable
//! `Index` document first, as `lint` and `index` do.
//! Run: `cargo bench -p ocifit-core --bench select`.

use criterion::{Criterion, criterion_group, criterion_main};
use ocifit_core::{FeatureTable, Index, IndexView, Platform, Target, select};
use serde_json::{Value, json};
use std::hint::black_box;

/// A realistic big index: every fifth entry a fallback, the rest feature
/// builds across amd64 and arm64, some with annotations.
fn big_index(n: usize) -> Vec<u8> {
    let amd = [
        &[][..],
        &["avx2", "bmi2", "fma"][..],
        &["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"][..],
        &["sse4_2", "popcnt"][..],
        &["avx2", "vaes", "vpclmulqdq", "sha_ni"][..],
    ];
    let arm = [&[][..], &["atomics", "asimd"][..], &["sve", "sve2", "i8mm", "bf16"][..], &["sve"][..], &["crc32"][..]];
    let manifests: Vec<Value> = (0..n)
        .map(|i| {
            let (arch, features) = if i % 2 == 0 { ("amd64", amd[i / 2 % 5]) } else { ("arm64", arm[i / 2 % 5]) };
            let mut platform = json!({"architecture": arch, "os": "linux"});
            if !features.is_empty() {
                platform["features"] = json!(features);
            }
            json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "size": 7000 + i,
                "digest": format!("sha256:{:064x}", i),
                "platform": platform,
                "annotations": {"org.opencontainers.image.ref.name": format!("build-{i}")},
            })
        })
        .collect();
    serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let bytes = big_index(20_000);
    let table = FeatureTable::builtin();
    let mut target = Target::guaranteed(&Platform::new("linux", "amd64", "v3"), table);
    target.add_named(table, &["vaes", "vpclmulqdq", "sha_ni"]).unwrap();
    let mut group = c.benchmark_group("index-20000");
    group.sample_size(30);
    group
        .bench_function("serde_json_parse", |b| b.iter(|| black_box(serde_json::from_slice::<Value>(&bytes).unwrap())));
    group.bench_function("parse_and_select", |b| {
        b.iter(|| {
            let index = IndexView::parse(&bytes).unwrap();
            black_box(select(&index, &target, table).selected())
        })
    });
    group.bench_function("document_parse_and_select", |b| {
        b.iter(|| {
            let index = Index::from_slice(&bytes).unwrap();
            black_box(select(&index, &target, table).selected())
        })
    });
    let view = IndexView::parse(&bytes).unwrap();
    assert!(view.is_fast());
    group.bench_function("select_only", |b| b.iter(|| black_box(select(&view, &target, table).selected())));
    let index = Index::from_slice(&bytes).unwrap();
    group.bench_function("document_select_only", |b| b.iter(|| black_box(select(&index, &target, table).selected())));
    group.finish();
    c.bench_function("table_canonical_lookup", |b| {
        b.iter(|| black_box(table.canonical(black_box("amd64"), black_box("avx512_vnni"))))
    });
    c.bench_function("table_resolve_alias", |b| {
        b.iter(|| black_box(table.resolve(ocifit_core::Family::X86, black_box("SSE4.2"))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
