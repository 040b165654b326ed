#!/usr/bin/env bash
# Wall time of `ocifit fleet` on a generated fleet: NODES nodes written the
# way `kubectl get nodes -o json` prints them (kubelet labels, NFD labels,
# status with conditions and images), DISTINCT distinct CPU label sets among
# them, and IMAGES index files on disk (2-6 entries each: fallbacks,
# feature builds, amd64 levels, arm64; some without a fallback).
#
#   bench/fleet.sh [NODES] [IMAGES] [RUNS] [DISTINCT...]
#   (defaults: 10000 500 5, and distinct counts 10 100 1000)
#
# Needs python3 (the generator) and bc. Builds ocifit in release mode first. Prints
# a Markdown table for docs/performance.md ("Fleet"): the median and the
# fastest of RUNS runs for the text report, the JSON migration report
# (--only-incompatible) and the full JSON (every pair) to /dev/null.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-10000}
images=${2:-500}
runs=${3:-5}
shift $(($# < 3 ? $# : 3))
distincts=("$@")
[ ${#distincts[@]} -gt 0 ] || distincts=(10 100 1000)
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p ocifit
ocifit="$target_dir/release/ocifit"

# FLEET_BENCH_DIR=DIR keeps the generated files there (for profiling).
if [ -n "${FLEET_BENCH_DIR:-}" ]; then
  work=$FLEET_BENCH_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

generate() { # DISTINCT → $work/nodes-DISTINCT.json (and the images once)
  python3 - "$work" "$nodes" "$images" "$1" <<'PY'
import json, os, random, sys
work, n_nodes, n_images, distinct = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(7)
base = ["AESNI", "AVX", "CMPXCHG8", "FXSR", "FXSROPT", "HYPERVISOR", "LAHF", "MOVBE", "OSXSAVE", "SYSCALL", "SYSEE",
        "X87", "XSAVE", "XSAVEOPT", "FMA3", "AVX2", "ADX", "XGETBV1", "XSAVEC", "XSAVES"]
extra_x86 = ["AVX512F", "AVX512BW", "AVX512CD", "AVX512DQ", "AVX512VL", "AVX512VNNI", "AVX512BF16", "AVX512FP16",
             "AMXTILE", "AMXINT8", "AMXBF16", "SHA", "VAES", "VPCLMULQDQ", "GFNI", "AVXVNNI", "SERIALIZE", "WAITPKG",
             "MOVDIRI", "MOVDIR64B", "CLDEMOTE", "AVX512IFMA", "AVX512VBMI", "AVX512VBMI2", "AVX512BITALG",
             "AVX512VPOPCNTDQ"]
arm = ["FP", "ASIMD", "EVTSTRM", "AES", "PMULL", "SHA1", "SHA2", "CRC32", "ATOMICS", "FPHP", "ASIMDHP", "CPUID",
       "ASIMDRDM", "LRCPC", "DCPOP", "ASIMDDP", "SSBS"]
extra_arm = ["SVE", "SVE2", "I8MM", "BF16", "SHA3", "SHA512", "SM3", "SM4", "ASIMDFHM", "JSCVT", "FCMA", "DIT",
             "USCAT", "ILRCPC", "FLAGM", "PACA", "PACG", "RNG", "BTI", "SB", "FRINT", "DCPODP", "FLAGM2"]
profiles, seen = [], set()
while len(profiles) < distinct:
    i = len(profiles)
    if i % 10 == 9:
        names = arm + [f for f in extra_arm if rng.random() < 0.5]
        arch = "arm64"
    else:
        level = 1 + i % 4
        names = base + [f"X86_64_V{k}" for k in range(1, level + 1)] + [f for f in extra_x86 if rng.random() < 0.3]
        arch = "amd64"
    key = (arch, tuple(sorted(names)))
    if key in seen:
        continue
    seen.add(key)
    profiles.append((arch, sorted(names)))

def node(i):
    arch, names = profiles[i % len(profiles)]
    name = f"node-{i:05d}.eu-west-1.compute.internal"
    labels = {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
              "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
              "node.kubernetes.io/instance-type": "m7i.2xlarge" if arch == "amd64" else "m7g.2xlarge",
              "topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": "eu-west-1" + "abc"[i % 3],
              "feature.node.kubernetes.io/cpu-hardware_multithreading": "true",
              "feature.node.kubernetes.io/kernel-version.full": "6.8.0-1024-aws",
              "feature.node.kubernetes.io/system-os_release.ID": "ubuntu",
              "feature.node.kubernetes.io/system-os_release.VERSION_ID": "24.04"}
    for f in names:
        labels["feature.node.kubernetes.io/cpu-cpuid." + f] = "true"
    uid = "%08x-0000-4000-8000-%012x" % (i, i)
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                         "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
                         "creationTimestamp": "2026-04-02T09:14:27Z", "labels": dict(sorted(labels.items())),
                         "name": name, "resourceVersion": str(4815162 + i), "uid": uid},
            "spec": {"podCIDR": "10.%d.%d.0/24" % (i // 256 % 256, i % 256), "providerID": f"aws:///eu-west-1a/i-{i:017x}"},
            "status": {"addresses": [{"address": "10.0.%d.%d" % (i // 256 % 256, i % 256), "type": "InternalIP"},
                                     {"address": name, "type": "Hostname"}],
                       "allocatable": {"cpu": "8", "ephemeral-storage": "95551679124", "memory": "31946720Ki", "pods": "110"},
                       "capacity": {"cpu": "8", "ephemeral-storage": "103676828Ki", "memory": "32049120Ki", "pods": "110"},
                       "conditions": [{"lastHeartbeatTime": "2026-05-09T07:58:03Z", "lastTransitionTime": "2026-04-02T09:14:27Z",
                                       "message": m, "reason": r, "status": s, "type": t}
                                      for (t, s, r, m) in [("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                                                           ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                                                           ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                                                           ("Ready", "True", "KubeletReady", "kubelet is posting ready status")]],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                       "images": [{"names": [f"registry.example.com/team{k}/service@sha256:{(i * 31 + k):064x}",
                                             f"registry.example.com/team{k}/service:1.{k}"], "sizeBytes": 10000000 + k}
                                  for k in range(8)],
                       "nodeInfo": {"architecture": arch, "bootID": uid, "containerRuntimeVersion": "containerd://2.0.5",
                                    "kernelVersion": "6.8.0-1024-aws", "kubeProxyVersion": "", "kubeletVersion": "v1.33.1",
                                    "machineID": uid.replace("-", ""), "operatingSystem": "linux",
                                    "osImage": "Ubuntu 24.04.2 LTS", "systemUUID": uid}}}

with open(os.path.join(work, f"nodes-{distinct}.json"), "w") as f:
    json.dump({"apiVersion": "v1", "items": [node(i) for i in range(n_nodes)], "kind": "List",
               "metadata": {"resourceVersion": ""}}, f, indent=4)

imgdir = os.path.join(work, "images")
if not os.path.isdir(imgdir):
    os.mkdir(imgdir)
    x86 = ["avx2", "bmi2", "fma", "avx512f", "avx512bw", "avx512_vnni", "sha_ni", "vaes", "gfni", "amx_tile", "popcnt", "sse4_2"]
    a64 = ["sve", "sve2", "i8mm", "bf16", "sha3"]
    for k in range(n_images):
        entries = []
        if k % 7 != 3:
            entries.append({"os": "linux", "architecture": "amd64"})
        for _ in range(rng.randint(1, 3)):
            p = {"os": "linux", "architecture": "amd64", "features": sorted(rng.sample(x86, rng.randint(1, 3)))}
            if rng.random() < 0.3:
                p["variant"] = rng.choice(["v2", "v3", "v4"])
            entries.append(p)
        if k % 5 != 4:
            entries.append({"os": "linux", "architecture": "arm64"})
            if rng.random() < 0.5:
                entries.append({"os": "linux", "architecture": "arm64", "features": sorted(rng.sample(a64, rng.randint(1, 2)))})
        doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
               "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                              "digest": "sha256:%064x" % (k * 16 + j), "size": 1000 + j, "platform": p,
                              "annotations": {"org.opencontainers.image.title": f"service-{k}"}}
                             for j, p in enumerate(entries)]}
        with open(os.path.join(imgdir, f"image-{k:04d}.json"), "w") as f:
            json.dump(doc, f, indent=2)
PY
}

median_and_min() { # RUNS commands' wall times (seconds) → "median (min)"
  sort -n | awk '{t[NR]=$1} END {m = (NR % 2) ? t[(NR+1)/2] : (t[NR/2] + t[NR/2+1]) / 2; printf "%.3f s (fastest %.3f s)", m, t[1]}'
}

timed() { # command... → wall seconds of one run
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l 2>/dev/null || python3 -c "print($end - $start)"
}

echo "| nodes | distinct profiles | images | nodes.json | text report | --only-incompatible --format json | --format json (every pair) |"
echo "|---|---|---|---|---|---|---|"
for distinct in "${distincts[@]}"; do
  generate "$distinct"
  node_file="$work/nodes-$distinct.json"
  mapfile -t image_files < <(ls "$work"/images/*.json)
  size=$(du -m "$node_file" | cut -f1)
  row="| $nodes | $distinct | ${#image_files[@]} | ${size} MB |"
  for args in "" "--only-incompatible --format json" "--format json"; do
    # shellcheck disable=SC2086
    t=$(for _ in $(seq "$runs"); do timed "$ocifit" fleet --nodes "$node_file" --image "${image_files[@]}" $args; done | median_and_min)
    row="$row $t |"
    [ -n "$args" ] || echo "$distinct ${t%% s*}" >>"$work/text-medians"
  done
  echo "$row"
  [ -n "${FLEET_BENCH_DIR:-}" ] || rm -f "$node_file"
done

# RESULT line for bench/run-all.sh: the slowest text-report median.
sort -k2 -n "$work/text-medians" | tail -1 | awk -v n="$nodes" -v i="$images" '
  { printf "RESULT | ocifit fleet, %d nodes x %d images (text report, slowest of the profile counts: %d distinct) | %.2f s | < 1 s | %s\n", n, i, $1, $2, ($2 < 1 ? "met" : "not met") }'
