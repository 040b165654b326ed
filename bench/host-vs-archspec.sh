#!/usr/bin/env bash
# `ocifit host` against `archspec cpu` (Spack's detector, from PyPI), each as
# a whole process, side by side (issue target: ocifit takes at most 1/20 of
# archspec's time).
#
#   bench/host-vs-archspec.sh            # release build, hyperfine if present
#   RUNS=200 bench/host-vs-archspec.sh
#
# archspec is installed into a virtualenv under target/ (nothing global).
# hyperfine (Debian package `hyperfine`) is used when installed, else a
# timed loop. Prints both means and the ratio; the results go in
# docs/performance.md, "Host detection".
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-100}
target_dir=$(realpath "${CARGO_TARGET_DIR:-target}")
venv="$target_dir/archspec-venv"

if [ ! -x "$venv/bin/archspec" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet archspec
fi
cargo build --quiet --release -p ocifit
ocifit="$target_dir/release/ocifit"
archspec="$venv/bin/archspec"

echo "archspec $("$venv/bin/pip" show archspec | sed -n 's/^Version: //p'), ocifit $("$ocifit" --version | cut -d' ' -f2)"
echo "ocifit host:  $("$ocifit" host --format json | jq -c '{architecture, variant, n: (.features | length)}' 2>/dev/null || true)"
echo "archspec cpu: $("$archspec" cpu)"

if command -v hyperfine >/dev/null 2>&1; then
  out="$target_dir/host-vs-archspec.json"
  hyperfine --shell=none --warmup 5 --runs "$runs" --export-json "$out" \
    "$ocifit host --format json" "$archspec cpu"
  ocifit_s=$(jq '.results[0].mean' "$out")
  archspec_s=$(jq '.results[1].mean' "$out")
  # On a shared machine the wall-clock mean is noisy: also the fastest run
  # and the CPU time (user + system) each process used.
  jq -r '.results[] | "\(.command): min \(.min * 1000 | . * 100 | round / 100) ms, user+sys \((.user + .system) * 1000 | . * 100 | round / 100) ms"' "$out"
  jq -r '"ratio of fastest runs: 1/\(.results[1].min / .results[0].min | round); ratio of CPU time: 1/\((.results[1].user + .results[1].system) / (.results[0].user + .results[0].system) | round)"' "$out"
else
  loop() {
    local start end
    start=$(date +%s%N)
    for _ in $(seq "$runs"); do "$@" >/dev/null; done
    end=$(date +%s%N)
    echo "scale=9; ($end - $start) / $runs / 1000000000" | bc
  }
  ocifit_s=$(loop "$ocifit" host --format json)
  archspec_s=$(loop "$archspec" cpu)
fi
python3 - "$ocifit_s" "$archspec_s" <<'PY'
import sys
o, a = map(float, sys.argv[1:])
print(f"ocifit host: {o*1e3:.2f} ms   archspec cpu: {a*1e3:.2f} ms   ratio: 1/{a/o:.0f} ({o/a:.4f})")
print("target: ratio <= 1/20 ->", "met" if o * 20 <= a else "NOT met")
print(f"RESULT | ocifit host / archspec cpu (whole process, mean) | 1/{a/o:.0f} ({o*1e3:.1f} ms vs {a*1e3:.1f} ms) | <= 1/20 | {'met' if o * 20 <= a else 'not met'}")
PY
