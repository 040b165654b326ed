#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests
# need (idempotently), then runs them. `.ci/run` runs exactly this.
#
# Sections are marked; each installs only what its tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

# --- apt packages -----------------------------------------------------------
apt_packages=(jq)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- style --------------------------------------------------------------------
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

# --- tests ----------------------------------------------------------------------
cargo test --workspace --quiet 2>&1 | tee target/test-output.txt
