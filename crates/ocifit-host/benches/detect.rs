//! In-process host detection (issue target: under 50 µs).
//! Run: `cargo bench -p ocifit-host --bench detect`.
//!
//! `detect (live)` is dominated by the CPUID instructions themselves: each
//! is a VM exit in a virtual machine, so the bench also times one CPUID and
//! the detection logic alone (the same leaves replayed from memory).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    c.bench_function("detect (live)", |b| b.iter(|| black_box(ocifit_host::detect())));
    #[cfg(target_arch = "x86_64")]
    c.bench_function("one CPUID instruction (leaf 7.0)", |b| {
        b.iter(|| black_box(core::arch::x86_64::__cpuid_count(black_box(7), 0)))
    });
    #[cfg(target_arch = "x86_64")]
    {
        let dump = ocifit_host::CpuidDump::parse(&ocifit_host::dump_cpuid().unwrap()).unwrap();
        c.bench_function("detection logic on this machine's leaves (no CPUID)", |b| {
            b.iter(|| {
                let gates = |_: &ocifit_host::x86::Snapshot| ocifit_host::x86::OsGates::default();
                black_box(ocifit_host::x86::detect(&mut black_box(dump.clone()), false, gates, "amd64"))
            })
        });
    }
    let dump = include_str!("../tests/data/cpuid/sapphire-rapids.txt");
    c.bench_function("from_cpuid_dump (Sapphire Rapids, parse + detect)", |b| {
        b.iter(|| black_box(ocifit_host::from_cpuid_dump(black_box(dump))))
    });
    let cpuinfo = include_str!("../../../tests/data/conformance/cpuinfo/linux-rhel7-skylake_avx512");
    c.bench_function("from_cpuinfo (Skylake-AVX512)", |b| {
        b.iter(|| black_box(ocifit_host::from_cpuinfo(black_box(cpuinfo), None)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
