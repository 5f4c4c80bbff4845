#!/usr/bin/env bash
# The ARMv6 toolchain of the armhf package: Zig as C compiler and linker (through
# cargo-zigbuild) and nightly Rust building its own standard library.
#
#   scripts/zig.sh setup        # install what is missing; on failure, the reason on stderr, exit 1
#   scripts/zig.sh cargo build --release --target arm-unknown-linux-musleabihf
#   scripts/zig.sh cargo test  --release --target arm-unknown-linux-musleabihf ...
#
# Why this road (README, "Packages"): Raspberry Pi OS's 32-bit userland is ARMv6 (Pi 1,
# Zero), Debian's armhf is ARMv7 (its glibc and start-up objects too), and rustup has no
# prebuilt ARMv6 standard library here. Zig compiles musl, its start-up code and the
# compiler-rt helpers for the very CPU asked (cargo-zigbuild asks generic+v6+vfp2 for
# arm-unknown-linux-musleabihf), nightly's rust-src builds Rust's standard library for it
# (-Z build-std), and the result is one static binary with no ARMv7 instruction in it.
#
# What it installs, each only when missing:
#   - Zig $ZIG_VERSION from PyPI's `ziglang` wheel (files.pythonhosted.org; the wheel's
#     SHA-256 is pinned below), unpacked under $NICKSOCK_TOOLS (default
#     /var/tmp/nicksock-tools) — no pip, no virtualenv, nothing system-wide;
#   - the nightly toolchain with rust-src (rustup; the same nightly the fuzz smoke uses);
#   - cargo-zigbuild $ZIGBUILD_VERSION (cargo install --locked).
set -euo pipefail
cd "$(dirname "$0")/.."

ZIG_VERSION=0.14.1
ZIG_WHEEL=https://files.pythonhosted.org/packages/9d/ef/494f128ea7ec3345850bbd75d2cb7b987006fb5601c37543e8fa83e5e3d4/ziglang-0.14.1-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl
ZIG_SHA256=6eb9d4d759b292c83810dbee2e9e8e3fbfbf01d864e6e9811bae711fd74e1c2f
ZIGBUILD_VERSION=0.24.1
TOOLS=${NICKSOCK_TOOLS:-/var/tmp/nicksock-tools}
ZIG_DIR=$TOOLS/zig-$ZIG_VERSION/ziglang

setup_zig() {
  [ -x "$ZIG_DIR/zig" ] && return 0
  if [ "$(uname -m)" != x86_64 ]; then
    echo "the pinned Zig wheel is for x86_64 machines, this one is $(uname -m)" >&2
    return 1
  fi
  mkdir -p "$TOOLS"
  local wheel
  wheel=$(mktemp "$TOOLS/ziglang.XXXXXX")
  if ! curl -sSfL --retry 3 -o "$wheel" "$ZIG_WHEEL"; then
    rm -f "$wheel"
    echo "cannot download Zig $ZIG_VERSION from PyPI" >&2
    return 1
  fi
  if ! echo "$ZIG_SHA256  $wheel" | sha256sum -c --quiet - >/dev/null 2>&1; then
    rm -f "$wheel"
    echo "the Zig wheel's SHA-256 is not the pinned one" >&2
    return 1
  fi
  # A wheel is a zip file; python3's zipfile unpacks it (no unzip needed). Unpacked beside
  # and renamed into place, so a half-unpacked Zig is never taken for a whole one.
  rm -rf "$TOOLS/zig-$ZIG_VERSION.part"
  python3 -m zipfile -e "$wheel" "$TOOLS/zig-$ZIG_VERSION.part"
  chmod +x "$TOOLS/zig-$ZIG_VERSION.part/ziglang/zig"
  rm -f "$wheel"
  rm -rf "$TOOLS/zig-$ZIG_VERSION"
  mv "$TOOLS/zig-$ZIG_VERSION.part" "$TOOLS/zig-$ZIG_VERSION"
}

setup_nightly() {
  if ! command -v rustup >/dev/null 2>&1; then
    echo "no rustup: the ARMv6 build needs nightly Rust with rust-src" >&2
    return 1
  fi
  if rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src'; then
    return 0
  fi
  rustup toolchain install nightly --profile minimal --component rust-src >/dev/null 2>&1 ||
    rustup component add rust-src --toolchain nightly >/dev/null 2>&1 || {
    echo "rustup cannot install nightly with rust-src" >&2
    return 1
  }
}

setup_zigbuild() {
  if cargo-zigbuild --version 2>/dev/null | grep -qF " $ZIGBUILD_VERSION"; then
    return 0
  fi
  cargo install --locked --version "$ZIGBUILD_VERSION" cargo-zigbuild >/dev/null 2>&1 || {
    echo "cargo install cargo-zigbuild $ZIGBUILD_VERSION failed" >&2
    return 1
  }
}

case "${1:-}" in
  setup)
    setup_zig && setup_nightly && setup_zigbuild
    ;;
  cargo)
    shift
    sub=${1:?cargo what?}
    shift
    export PATH=$ZIG_DIR:$PATH
    # Zig supplies musl's start-up objects and libc, not rustc's self-contained copies
    # (which exist only in a prebuilt standard library); its warnings about their missing
    # directory are noise.
    export CARGO_TARGET_ARM_UNKNOWN_LINUX_MUSLEABIHF_RUSTFLAGS="-C link-self-contained=no -A linker-messages"
    case "$sub" in
      build) exec cargo +nightly zigbuild -Z build-std=std,panic_abort "$@" ;;
      test) exec rustup run nightly cargo-zigbuild test -Z build-std=std,panic_abort "$@" ;;
      *)
        echo "zig.sh cargo: build or test, not $sub" >&2
        exit 2
        ;;
    esac
    ;;
  lib)
    # Zig's library folder (musl's and libunwind's licence files are there).
    echo "$ZIG_DIR/lib"
    ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    ;;
  *)
    echo "usage: scripts/zig.sh setup | cargo build|test ARGS (see --help)" >&2
    exit 2
    ;;
esac
