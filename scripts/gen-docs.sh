#!/usr/bin/env bash
# Regenerate the generated documentation: docs/features.md from the feature
# table (crates/ocifit-core/data/*.toml), and docs/man/ (one manual page per
# command) from the command-line definition (crates/ocifit/src/cli.rs, man.rs).
# Tests fail when either checked-in copy is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -p ocifit -- features --format markdown > docs/features.md
echo "wrote docs/features.md"
OCIFIT_WRITE_MAN=1 cargo test --quiet -p ocifit --bin ocifit man:: >/dev/null
echo "wrote docs/man/"
