#!/usr/bin/env bash
# Regenerate docs/features.md from the feature table (crates/ocifit-core/data/*.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -p ocifit -- features --format markdown > docs/features.md
echo "wrote docs/features.md"
