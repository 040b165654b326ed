#!/usr/bin/env bash
# `ocifit lint` vs `jq empty` on the same generated 20,000-entry index
# (docs/performance.md, "Lint"). jq only parses; lint parses, validates the
# image-spec schema and runs every feature rule, so lint <= jq is the target.
#
#   bench/lint-vs-jq.sh [ENTRIES]      (default 20000)
#
# Uses hyperfine when it is installed (apt-get install hyperfine), otherwise
# times repeated runs itself and prints medians. Also times a "dirty" index
# (every 40th feature entry spelled with an alias, every group's fallback
# moved behind its first feature entry) so the reporting path is measured too.
set -euo pipefail
cd "$(dirname "$0")/.."
entries="${1:-20000}"
runs="${RUNS:-20}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

command -v jq >/dev/null || { echo "lint-vs-jq: jq is not installed (apt-get install jq)" >&2; exit 2; }
cargo build --release -q -p ocifit -p ocifit-lint --bin ocifit --example gen-index
ocifit="$CARGO_TARGET_DIR/release/ocifit"
gen="$CARGO_TARGET_DIR/release/examples/gen-index"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$gen" "$entries" > "$work/index.json"
"$gen" "$entries" --dirty > "$work/dirty.json"
echo "index: $entries entries, $(wc -c < "$work/index.json") bytes; $(jq --version); $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$ocifit" lint "$work/index.json" | tail -1
"$ocifit" lint "$work/dirty.json" | tail -1 || true

# Median wall time in ms of a command, over $runs runs (fallback timer).
median_ms() {
  local times=()
  for _ in $(seq 3); do "$@" >/dev/null 2>&1 || true; done
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m/1000}'
}

for file in index dirty; do
  echo
  echo "== $file.json =="
  if command -v hyperfine >/dev/null; then
    hyperfine -N -w 3 -r "$runs" -i --export-json "$work/$file.json.bench" \
      "$ocifit lint $work/$file.json" "jq empty $work/$file.json"
    jq -r '.results[] | "\(.command | split(" ")[0] | split("/")[-1]): median \(.median * 1000 | floor) ms, user \(.user * 1000 | floor) ms, system \(.system * 1000 | floor) ms"' "$work/$file.json.bench"
    lint=$(jq '.results[0].median' "$work/$file.json.bench")
    jqt=$(jq '.results[1].median' "$work/$file.json.bench")
  else
    lint=$(median_ms "$ocifit" lint "$work/$file.json")
    jqt=$(median_ms jq empty "$work/$file.json")
    echo "ocifit lint: median $lint ms; jq empty: median $jqt ms ($runs runs each)"
  fi
  awk -v a="$lint" -v b="$jqt" 'BEGIN { printf "lint / jq = %.2f (target <= 1.00)\n", a / b }'
  # The RESULT line format of bench/run-all.sh.
  awk -v a="$lint" -v b="$jqt" -v f="$file" -v n="$entries" 'BEGIN {
    if (a < 10) { a *= 1000; b *= 1000 }  # hyperfine reports seconds, the fallback timer ms
    printf "RESULT | ocifit lint / jq empty, %d entries, %s | %.2fx (%.0f ms vs %.0f ms) | <= 1x | %s\n", n, (f == "index" ? "clean" : "504 errors"), a / b, a, b, (a <= b ? "met" : "not met") }'
done
