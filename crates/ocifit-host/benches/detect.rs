//! In-process host detection (issue target: under 50 µs).
//! Run: `cargo bench -p ocifit-host --bench detect`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    c.bench_function("detect (live)", |b| b.iter(|| black_box(ocifit_host::detect())));
    let dump = include_str!("../tests/data/cpuid/sapphire-rapids.txt");
    c.bench_function("from_cpuid_dump (Sapphire Rapids)", |b| {
        b.iter(|| black_box(ocifit_host::from_cpuid_dump(black_box(dump))))
    });
    let cpuinfo = include_str!("../../../../shared/conformance/cpuinfo/linux-rhel7-skylake_avx512");
    c.bench_function("from_cpuinfo (Skylake-AVX512)", |b| {
        b.iter(|| black_box(ocifit_host::from_cpuinfo(black_box(cpuinfo), None)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
