#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what the tests
# need (idempotently), then runs them. `.ci/run` runs exactly this.
#
# Sections are marked; each installs only what its tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

# --- the repository stands alone ----------------------------------------------
# Nothing may point outside it: no data beside the repository, no path of a
# development machine, no outside specification (see the script).
scripts/check-standalone.sh

# --- apt packages -----------------------------------------------------------
apt_packages=(jq docker-registry skopeo apache2-utils openssl)
# k8s affinity --output patch is applied with `kubectl patch --local` (crates/ocifit/tests/fleet.rs);
# Debian's kubectl is in kubernetes-client, unless a kubectl is already installed
command -v kubectl >/dev/null || apt_packages+=(kubernetes-client)
# chattr (tests/index.rs: an in-place write interrupted by an immutable layout)
apt_packages+=(e2fsprogs)
# ocifit mirror in front of real runtimes (crates/ocifit/tests/runtimes):
# the tests start containerd (ctr and its CRI plugin) themselves, with a
# config of their own (policy-rc.d below keeps its service from starting);
# podman pulls into a temporary vfs store
apt_packages+=(containerd podman)
# ss reads back the congestion control of the mirror's client sockets
# (tests/registry/mirror.rs: loopback clients are not paced)
apt_packages+=(iproute2)
# help, completions and manual pages (crates/ocifit/tests/help.rs): the shells
# the completion scripts are loaded into, man and groff to render docs/man/
apt_packages+=(bash zsh fish man-db groff-base)
# authoring tests: peak memory of a streamed blob copy (tests/registry/authoring.rs)
apt_packages+=(time)
# host detection on emulated CPUs (crates/ocifit/tests/host_emulated.rs):
# qemu-user, and a cross linker + C library for every non-x86 architecture
# tested there (see `cross_targets` below)
apt_packages+=(qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
apt_packages+=(gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross)
apt_packages+=(gcc-s390x-linux-gnu libc6-dev-s390x-cross)
apt_packages+=(gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)
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

# --- dependencies: licences, bans, sources (deny.toml) -------------------------
# Offline: the advisory database cannot be fetched, so advisories are not checked.
if ! cargo deny --version >/dev/null 2>&1; then
  echo "test.sh: installing cargo-deny"
  cargo install --locked --quiet cargo-deny
fi
cargo deny --offline check licenses bans sources

# --- emulated CPUs for `ocifit host` -----------------------------------------
# x86-64 models run the test build under qemu-x86_64; every other
# architecture needs a cross build of ocifit (debug, like the tests), run
# under qemu-user with the Debian cross C library as its sysroot. Failing to
# get a rustup target fails the run: these tests must not be skipped silently.
# Each line: Rust target triple, Debian cross-gcc prefix (also the sysroot
# /usr/PREFIX), the NAME of the OCIFIT_QEMU_NAME_BIN/_SYSROOT variables.
cross_targets=(
  "aarch64-unknown-linux-gnu aarch64-linux-gnu AARCH64"
  "powerpc64le-unknown-linux-gnu powerpc64le-linux-gnu PPC64LE"
  "s390x-unknown-linux-gnu s390x-linux-gnu S390X"
  "riscv64gc-unknown-linux-gnu riscv64-linux-gnu RISCV64"
)
installed_targets="$(rustup target list --installed)"
target_dir="$(realpath "${CARGO_TARGET_DIR:-target}")"
for line in "${cross_targets[@]}"; do
  read -r triple prefix name <<<"$line"
  if ! grep -qx "$triple" <<<"$installed_targets"; then
    echo "test.sh: installing the rustup target $triple"
    if ! rustup target add "$triple"; then
      echo "test.sh: FAILED: cannot install the rustup target $triple," \
        "which the emulated host-detection tests need" >&2
      exit 1
    fi
  fi
  # The linker is the Debian cross gcc; the cc crate (ring, mimalloc) finds
  # PREFIX-gcc by itself. Incremental: a no-op when nothing changed.
  linker_var="CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$triple")_LINKER"
  env "$linker_var=$prefix-gcc" cargo build --quiet -p ocifit --target "$triple"
  export "OCIFIT_QEMU_${name}_BIN=$target_dir/$triple/debug/ocifit"
  export "OCIFIT_QEMU_${name}_SYSROOT=/usr/$prefix"
done
export OCIFIT_QEMU_TESTS=1

# --- tests ----------------------------------------------------------------------
cargo test --workspace --quiet 2>&1 | tee target/test-output.txt
