#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests
# need (idempotently), then runs them. `.ci/run` runs exactly this.
#
# Sections are marked; each installs only what its tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

# --- apt packages -----------------------------------------------------------
apt_packages=(jq docker-registry skopeo apache2-utils openssl)
# host detection on emulated CPUs (crates/ocifit/tests/host_emulated.rs)
apt_packages+=(qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  # The registry tests start docker-registry themselves, on 127.0.0.1 with a
  # config they write: never let the package start its default service
  # (which listens on all interfaces).
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
  if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet docker-registry 2>/dev/null; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
fi

# --- style --------------------------------------------------------------------
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

# --- emulated CPUs for `ocifit host` -----------------------------------------
# x86-64 models run the test build under qemu-x86_64; arm64 models need an
# aarch64 build of ocifit, run under qemu-aarch64. Failing to get the rustup
# target fails the run: these tests must not be skipped silently.
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "test.sh: installing the rustup target aarch64-unknown-linux-gnu"
  if ! rustup target add aarch64-unknown-linux-gnu; then
    echo "test.sh: FAILED: cannot install the rustup target aarch64-unknown-linux-gnu," \
      "which the emulated host-detection tests need" >&2
    exit 1
  fi
fi
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  cargo build --quiet -p ocifit --target aarch64-unknown-linux-gnu
export OCIFIT_QEMU_TESTS=1
export OCIFIT_QEMU_AARCH64_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/aarch64-unknown-linux-gnu/debug/ocifit"
export OCIFIT_QEMU_AARCH64_SYSROOT=/usr/aarch64-linux-gnu

# --- tests ----------------------------------------------------------------------
cargo test --workspace --quiet 2>&1 | tee target/test-output.txt
