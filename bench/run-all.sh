#!/usr/bin/env bash
# Run every benchmark side by side and write docs/performance.md.
#
#   bench/run-all.sh                  (about 7 minutes on 2 cores)
#   bench/run-all.sh --report-only    (rewrite the page from the last run)
#
# Each script prints its own tables and `RESULT | what | measured | target |
# met` lines; this collects them into a summary table, keeps every script's
# full output below it, and appends docs/performance-notes.md (how the
# numbers were reached, what limits them). Run it on a quiet machine: other
# load shows up in every number.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
out="$CARGO_TARGET_DIR/bench"
mkdir -p "$out"
for tool in jq hyperfine skopeo docker-registry bc; do
  command -v "$tool" >/dev/null || { echo "run-all: $tool is missing (scripts/test.sh installs the test packages; apt-get install hyperfine bc)" >&2; exit 2; }
done

# --report-only: rebuild docs/performance.md from the last run's outputs.
report_only=
[ "${1:-}" = "--report-only" ] && report_only=1

run() { # name, command...
  local name=$1; shift
  echo "== $name: $*" >&2
  "$@" 2>&1 | tee "$out/$name.txt" >&2
}

if [ -z "$report_only" ]; then
run criterion cargo bench -q -p ocifit-core --bench select -- --noplot
python3 - "$CARGO_TARGET_DIR/criterion" >>"$out/criterion.txt" <<'PY'
import json, sys
base = sys.argv[1] + "/index-20000/{}/new/estimates.json"
med = lambda b: json.load(open(base.format(b)))["median"]["point_estimate"] / 1e6
parse, both, doc = med("serde_json_parse"), med("parse_and_select"), med("document_parse_and_select")
r, rd = both / parse, doc / parse
print(f"RESULT | parse + select / serde_json parse alone, 20,000 entries (criterion median; IndexView, as select runs) | {r:.2f}x ({both:.1f} ms vs {parse:.1f} ms) | <= 1.3x | {'met' if r <= 1.3 else 'not met'}")
print(f"RESULT | the same building the editable Index document (as lint and index edits do) | {rd:.2f}x ({doc:.1f} ms) | (no target) | -")
PY
run detect cargo bench -q -p ocifit-host --bench detect -- --noplot
python3 - "$CARGO_TARGET_DIR/criterion" >>"$out/detect.txt" <<'PY'
import json, sys
est = lambda b: json.load(open(f"{sys.argv[1]}/{b}/new/estimates.json"))["median"]["point_estimate"] / 1e3
live, one = est("detect (live)"), est("one CPUID instruction (leaf 7.0)")
print(f"RESULT | in-process detection, live (criterion median) | {live:.1f} µs (one CPUID instruction: {one:.1f} µs on this VM) | < 50 µs | {'met' if live < 50 else 'not met'}")
PY
run index-vs-jq bench/index-vs-jq.sh
RUNS=100 run host-vs-archspec bench/host-vs-archspec.sh
run registry-vs-skopeo bench/registry-vs-skopeo.sh 20
run fleet bench/fleet.sh 10000 500 3 10 100 1000
run mirror bench/mirror.sh
fi

# The page is checked in: write no path of this machine into it. The build
# directory becomes `target`, the repository root `.`, a script's
# temporary directory (mktemp -d) `$WORK`, the home directory `~`.
root="$PWD"
tmp_root="${TMPDIR:-/tmp}"
tmp_root="${tmp_root%/}"
relative() {
  sed -e "s#$CARGO_TARGET_DIR#target#g" -e "s#$root/##g" -e "s#$root#.#g" \
    -e "s#$tmp_root/tmp\.[A-Za-z0-9]*#\$WORK#g" -e "s#$HOME/#~/#g"
}

{
  echo "# Performance"
  echo
  echo "Written by \`bench/run-all.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); rerun it to check. How the numbers were reached and what limits them: [performance-notes.md](performance-notes.md). Paths are relative to the repository root (\`target\` is the build directory); \`\$WORK\` is a benchmark's temporary directory."
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Versions: $(rustc --version), ocifit $("$CARGO_TARGET_DIR/release/ocifit" --version | cut -d' ' -f2), $(jq --version), $(skopeo --version), hyperfine $(hyperfine --version | cut -d' ' -f2), archspec $("$CARGO_TARGET_DIR/archspec-venv/bin/pip" show archspec 2>/dev/null | sed -n 's/^Version: //p')."
  echo
  echo "## Summary"
  echo
  echo "| what | measured | target | met |"
  echo "|---|---|---|---|"
  for name in criterion detect index-vs-jq host-vs-archspec registry-vs-skopeo fleet mirror; do
    grep '^RESULT |' "$out/$name.txt" | sed 's/^RESULT | //; s/$/ |/; s/^/| /'
  done
  for name in criterion detect index-vs-jq host-vs-archspec registry-vs-skopeo fleet mirror; do
    echo
    echo "## $name"
    echo
    echo '```text'
    grep -v '^RESULT |' "$out/$name.txt" | grep -vE '^(Gnuplot|Benchmarking|Warming|Collecting|Analyzing|Found [0-9]+ outliers| +[0-9]+ \((low|high) )' | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g'
    echo '```'
  done
} | relative > docs/performance.md
echo "wrote docs/performance.md" >&2
