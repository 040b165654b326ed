#!/usr/bin/env bash
# Manifest requests and wall time of `ocifit select` versus `skopeo inspect`
# for the same reference, on a loopback registry (Debian's docker-registry,
# distribution 2.8) started here on 127.0.0.1 with a config written here.
#
#   bench/registry-vs-skopeo.sh [RUNS]      (default 20)
#
# Needs: docker-registry, skopeo, jq, sha256sum (scripts/test.sh installs
# the packages). Builds ocifit in release mode first. Prints a Markdown
# table for docs/performance.md ("Registry").
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p ocifit
ocifit="$target_dir/release/ocifit"

. bench/loopback-registry.sh
start_registry "$work"

# An OCI layout with a three-entry index (amd64, amd64+avx2, arm64).
layout="$work/layout"
mkdir -p "$layout/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
blob() { # stdin -> blob; prints "digest size"
  local tmp="$work/blob.tmp" d
  cat >"$tmp"
  d=$(sha256sum "$tmp" | cut -d' ' -f1)
  mv "$tmp" "$layout/blobs/sha256/$d"
  echo "sha256:$d $(stat -c %s "$layout/blobs/sha256/$d")"
}
entries=()
for spec in "amd64 -" "amd64 avx2,bmi2,fma" "arm64 -"; do
  set -- $spec
  arch=$1 features=$2
  read -r ld ls < <(printf 'layer %s %s' "$arch" "$features" | gzip -n | blob)
  read -r cd cs < <(printf '{"os":"linux","architecture":"%s","rootfs":{"type":"layers","diff_ids":[]}}' "$arch" | blob)
  read -r md ms < <(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' "$cd" "$cs" "$ld" "$ls" | blob)
  platform=$(jq -cn --arg a "$arch" --arg f "$features" '{os:"linux",architecture:$a} + (if $f == "-" then {} else {features:($f|split(","))} end)')
  entries+=("$(jq -cn --arg d "$md" --argjson s "$ms" --argjson p "$platform" '{mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$d,size:$s,platform:$p}')")
done
read -r id is < <(printf '%s\n' "${entries[@]}" | jq -cs '{schemaVersion:2,mediaType:"application/vnd.oci.image.index.v1+json",manifests:.}' | tr -d '\n' | blob)
jq -cn --arg d "$id" --argjson s "$is" '{schemaVersion:2,manifests:[{mediaType:"application/vnd.oci.image.index.v1+json",digest:$d,size:$s,annotations:{"org.opencontainers.image.ref.name":"v1"}}]}' >"$layout/index.json"
skopeo --insecure-policy copy -q --all --dest-tls-verify=false "oci:$layout:v1" "docker://127.0.0.1:$port/bench/app:v1"

ref="127.0.0.1:$port/bench/app:v1"
manifest_gets() { grep -c '"GET /v2/bench/app/manifests/' "$work/access.log" || true; }
all_requests() { grep -c '"[A-Z]* /v2/' "$work/access.log" || true; }

measure() { # name, command...
  local name=$1; shift
  "$@" >/dev/null # warm-up (page cache, first connection)
  sleep 0.3
  local m0 r0 t0 t1 m1 r1
  m0=$(manifest_gets) r0=$(all_requests)
  t0=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null; done
  t1=$(date +%s%N)
  sleep 0.3
  m1=$(manifest_gets) r1=$(all_requests)
  awk -v n="$name" -v runs="$runs" -v ms=$(( (t1 - t0) / 1000000 )) -v m=$((m1 - m0)) -v r=$((r1 - r0)) \
    'BEGIN { printf "| %s | %.1f | %.1f | %.1f |\n", n, m / runs, r / runs, ms / runs }' | tee -a "$work/rows"
}

echo "Loopback registry 127.0.0.1:$port, $runs runs each, $(nproc) cores."
echo
echo "| command | manifest GETs per run | registry requests per run | wall ms per run |"
echo "| --- | ---: | ---: | ---: |"
measure "ocifit select --platform linux/amd64/v3" "$ocifit" select "docker://$ref" --platform linux/amd64/v3 --format json
measure "ocifit resolve --platform linux/amd64/v3" "$ocifit" resolve "docker://$ref" --platform linux/amd64/v3
measure "ocifit select --plain-http (no TLS probe)" "$ocifit" select "docker://$ref" --platform linux/amd64/v3 --format json --plain-http
measure "ocifit select oci:LAYOUT (no network)" "$ocifit" select "oci:$layout:v1" --platform linux/amd64/v3 --format json
measure "skopeo inspect --override-arch amd64" skopeo inspect --tls-verify=false --override-os linux --override-arch amd64 "docker://$ref"
measure "skopeo inspect --raw" skopeo inspect --raw --tls-verify=false "docker://$ref"

# RESULT lines for bench/run-all.sh: ocifit select vs skopeo inspect.
awk -F'|' '
  /ocifit select --platform/ { gets = $3 + 0; ours = $5 + 0 }
  /skopeo inspect --override-arch/ { theirs = $5 + 0 }
  END {
    printf "RESULT | registry select: manifest requests | %g | 1 | %s\n", gets, (gets == 1 ? "met" : "not met")
    printf "RESULT | registry select / skopeo inspect (wall time) | %.2fx (%.1f ms vs %.1f ms) | <= 0.5x | %s\n", ours / theirs, ours, theirs, (ours <= 0.5 * theirs ? "met" : "not met")
  }' "$work/rows"
