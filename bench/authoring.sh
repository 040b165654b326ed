#!/usr/bin/env bash
# `ocifit index create` assembling separately built images, against skopeo
# copying the same: wall time and peak memory on a loopback registry
# (Debian's docker-registry, started here on 127.0.0.1) and into OCI
# layouts. Three images (generic, v3, v4) of five 10 MiB layers each; the
# v4 image is in another repository, so ocifit mounts its blobs.
#
#   bench/authoring.sh [RUNS]      (default 5; each run writes new targets)
#
# Needs: docker-registry, skopeo, jq, python3, GNU time (scripts/test.sh
# installs the packages). Builds ocifit in release mode first. Prints a
# Markdown table and RESULT lines for docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p ocifit
ocifit="$target_dir/release/ocifit"

. bench/loopback-registry.sh
start_registry "$work"

# The three builds, as one layout with three tags (random layers: nothing
# shared, nothing compressible).
python3 - "$work/builds" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
os.makedirs(f"{root}/blobs/sha256", exist_ok=True)
open(f"{root}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
def put(b):
    d = hashlib.sha256(b).hexdigest()
    open(f"{root}/blobs/sha256/{d}", "wb").write(b)
    return "sha256:" + d
entries = []
for tag in ["generic", "v3", "v4"]:
    layers = []
    for _ in range(5):
        b = os.urandom(10 << 20)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(b), "size": len(b)})
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "tag": tag}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg), "size": len(cfg)},
        "layers": layers}).encode()
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(m), "size": len(m),
        "annotations": {"org.opencontainers.image.ref.name": tag}})
json.dump({"schemaVersion": 2, "manifests": entries}, open(f"{root}/index.json", "w"))
PY
reg="127.0.0.1:$port"
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/builds:generic" "docker://$reg/bench/app:generic"
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/builds:v3" "docker://$reg/bench/app:v3"
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/builds:v4" "docker://$reg/bench/builds:v4"
"$ocifit" index create "$reg/bench/app:generic" --push "$reg/bench/app:1.0" >/dev/null 2>&1
"$ocifit" index add "$reg/bench/app:1.0" --image "$reg/bench/app:v3" --features x86-64-v3 --push "$reg/bench/app:1.0" >/dev/null 2>&1
"$ocifit" index add "$reg/bench/app:1.0" --image "$reg/bench/builds:v4" --features x86-64-v4 \
  --push "$reg/bench/app:1.0" >/dev/null 2>&1

# median wall time and peak RSS of RUNS runs; {i} in the command is the run number.
measure() { # label, command...
  local label=$1; shift
  local times=() rss=()
  for i in $(seq "$runs"); do
    local args=("${@//\{i\}/$i}")
    /usr/bin/time -f '%e %M' -o "$work/time.txt" "${args[@]}" >/dev/null 2>&1
    read -r t m <"$work/time.txt"
    times+=("$t"); rss+=("$m")
  done
  local mt mr
  mt=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  mr=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
  printf '| %s | %s s | %s MB |\n' "$label" "$mt" "$(( mr / 1024 ))"
  echo "$mt" >"$work/last.txt"
}

echo "Three images of five 10 MiB layers each (150 MiB), loopback docker-registry, $runs runs, median time, largest peak RSS:"
echo
echo "| what | time | peak RSS |"
echo "|---|---|---|"
measure "ocifit: add --image to a single image, both into a new repository (12 blobs mounted)" \
  "$ocifit" index add "$reg/bench/app:generic" --image "$reg/bench/builds:v4" --features avx512f --push "$reg/bench/mounted{i}:1.0"
measure "ocifit: index of 3 images into a new repository (18 blobs mounted)" \
  "$ocifit" index create "$reg/bench/app:1.0" --push "$reg/bench/copy{i}:1.0"
ocifit_mount=$(cat "$work/last.txt")
measure "skopeo copy --all: the same index into a new repository" \
  skopeo --insecure-policy copy -q --all --src-tls-verify=false --dest-tls-verify=false "docker://$reg/bench/app:1.0" "docker://$reg/bench/skopeo{i}:1.0"
skopeo_mount=$(cat "$work/last.txt")
measure "ocifit: the index from the registry into a new layout (150 MiB copied)" \
  "$ocifit" index create "$reg/bench/app:1.0" --push "oci:$work/layout{i}:1.0"
ocifit_layout=$(cat "$work/last.txt")
measure "skopeo copy --all: the same into a new layout" \
  skopeo --insecure-policy copy -q --all --src-tls-verify=false "docker://$reg/bench/app:1.0" "oci:$work/skopeo-layout{i}:1.0"
skopeo_layout=$(cat "$work/last.txt")
measure "ocifit: three layout images into a new repository (150 MiB uploaded)" \
  "$ocifit" index create "oci:$work/builds:generic" "oci:$work/builds:v3" "oci:$work/builds:v4" --push "$reg/bench/up{i}:1.0"
echo
echo "RESULT | index of 3 images into a new repository on the same registry (mounts), ocifit vs skopeo copy --all | ${ocifit_mount} s vs ${skopeo_mount} s | (no target) | -"
echo "RESULT | 150 MiB index from a registry into a new OCI layout, ocifit vs skopeo copy --all | ${ocifit_layout} s vs ${skopeo_layout} s | (no target) | -"
