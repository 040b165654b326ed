#!/usr/bin/env bash
# `ocifit select` and `ocifit lint` against `jq empty` on the same generated
# 20,000-entry index, side by side in one hyperfine run (targets: select
# <= 0.5x jq, lint <= 1x jq). jq only parses; select parses, checks and
# ranks every entry; lint also validates the image-spec schema and runs
# every feature rule.
#
#   bench/index-vs-jq.sh [ENTRIES]      (default 20000; RUNS=20)
#
# Needs jq and hyperfine (Debian packages). Prints hyperfine's summary and
# RESULT lines that bench/run-all.sh turns into docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
entries="${1:-20000}"
runs="${RUNS:-20}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
for tool in jq hyperfine; do
  command -v "$tool" >/dev/null || { echo "index-vs-jq: $tool is not installed (apt-get install $tool)" >&2; exit 2; }
done
cargo build --release -q -p ocifit -p ocifit-lint --bin ocifit --example gen-index
ocifit="$CARGO_TARGET_DIR/release/ocifit"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$CARGO_TARGET_DIR/release/examples/gen-index" "$entries" > "$work/index.json"
echo "index: $entries entries, $(wc -c < "$work/index.json") bytes; $(jq --version); ocifit $("$ocifit" --version | cut -d' ' -f2)"
"$ocifit" select "$work/index.json" --platform linux/amd64/v3 --format json | jq -c '{selected: .selected.index, candidates: (.candidates | length), rejected: (.rejected | length)}'
hyperfine -N -w 3 -r "$runs" --export-json "$work/bench.json" \
  "$ocifit select $work/index.json --platform linux/amd64/v3 --format json" \
  "$ocifit lint $work/index.json --format json" \
  "jq empty $work/index.json" \
  "$ocifit resolve $work/index.json --platform linux/amd64/v3"
jq -r '
  (.results[2].median) as $jq
  | "RESULT | ocifit select / jq empty, 20,000-entry index | \(.results[0].median / $jq * 100 | round / 100)x (\(.results[0].median * 1000 | round) ms vs \($jq * 1000 | round) ms) | <= 0.5x | \(if .results[0].median <= 0.5 * $jq then "met" else "not met" end)",
    "RESULT | ocifit resolve (parse + select, one line out) / jq empty | \(.results[3].median / $jq * 100 | round / 100)x (\(.results[3].median * 1000 | round) ms vs \($jq * 1000 | round) ms) | <= 0.5x | \(if .results[3].median <= 0.5 * $jq then "met" else "not met" end)",
    "RESULT | ocifit lint / jq empty, 20,000-entry index | \(.results[1].median / $jq * 100 | round / 100)x (\(.results[1].median * 1000 | round) ms vs \($jq * 1000 | round) ms) | <= 1x | \(if .results[1].median <= $jq then "met" else "not met" end)"
' "$work/bench.json"
