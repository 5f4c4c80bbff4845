#!/usr/bin/env bash
# Cross-builds nicksock for the Raspberry Pi and runs tests of the ARM binaries under
# qemu-user, on an x86_64 Debian/Ubuntu machine.
#
#   scripts/cross.sh                 # both targets: build, strip, print the size, smoke tests
#   scripts/cross.sh --full          # every test (unit and integration) instead of the smoke set
#   scripts/cross.sh --no-test       # build and strip only (no qemu needed)
#   scripts/cross.sh aarch64-unknown-linux-gnu     # one target
#
# Targets (both by default):
#   aarch64-unknown-linux-gnu      64-bit Raspberry Pi OS (Pi 3/4/5): the arm64 package
#   arm-unknown-linux-musleabihf   32-bit Raspberry Pi OS on every Pi, the ARMv6 Pi 1 and
#                                  Zero (W) included: the armhf package. Static (musl), ARMv6
#                                  with VFPv2, ARM and Thumb-1 code only (readelf -A is
#                                  checked), tested under `qemu-arm -cpu arm1176`, the Pi
#                                  Zero's core.
#   armv7-unknown-linux-gnueabihf  (only when named) ARMv7 glibc, Debian's armhf baseline.
#
# For each target it
#   1. installs what is missing (as root, or with sudo) with apt-get: Debian's cross gcc and
#      libc (gcc-aarch64-linux-gnu + libc6-dev-arm64-cross; gcc-arm-linux-gnueabihf +
#      libc6-dev-armhf-cross for armv7) and qemu-user (qemu-aarch64, qemu-arm; without
#      qemu-user-binfmt: nothing is registered with the kernel). The ARMv6 target instead
#      takes its C toolchain from Zig (scripts/zig.sh: Zig from PyPI's ziglang wheel, its
#      checksum pinned, and cargo-zigbuild): Debian's armhf glibc and start-up objects are
#      ARMv7, and rustup has no ARMv6 standard library here, so nightly's rust-src builds
#      one (-Z build-std), and Zig builds musl and its start-up code for the ARMv6 CPU;
#   2. `rustup target add`s the Rust standard library for it (ARMv6: the nightly toolchain
#      and its rust-src);
#   3. builds `cargo build --release --target T` with the Pi's size options (FEATURES
#      below: no br or zstd, nicksock's code at opt-level s) and the cross gcc as linker and as the C
#      compiler for ring (CARGO_TARGET_<T>_LINKER, CC_<t>, AR_<t>: environment only, so
#      native builds and machines without the cross gcc are untouched; ARMv6: `cargo
#      +nightly zigbuild`), copies the binary to
#      target/cross/T/nicksock, strips it with the cross strip (the release profile strips
#      already; this makes sure) and prints its size — that file is the one to copy to a Pi;
#   4. runs it once under qemu (`nicksock --version`), then the integration tests built for
#      T (release profile, on the dependencies of step 3): cargo runs the test binary under
#      CARGO_TARGET_<T>_RUNNER (qemu), and the tests start the stripped release binary of
#      step 3 (NICKSOCK_BIN), the very file to copy to a Pi, under NICKSOCK_TEST_RUNNER (the
#      same qemu: without binfmt_misc an ARM binary cannot be exec'd directly). Peer programs (nc, socat, openssl, curl, nginx)
#      are the host's. The smoke set below covers every subcommand; tests that measure CPU
#      time or tight timeouts, or move tens of MiB, run only with --full.
#
# A target whose toolchain cannot be installed (apt-get fails, no root) or whose Rust
# standard library cannot be fetched (rustup cannot reach its server, no rustup) prints
# `SKIP: T: <reason>` and is not a failure. A build or test failure is (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."

# The integration tests that run under emulation: every subcommand, against the real peers.
# Names are exact (--exact); the run fails if fewer tests than listed pass, so a renamed
# test cannot silently drop out.
SMOKE=(
  binary::binary_under_test_is_built_for_the_test_target_and_runs # --version, ELF machine
  sockets::connect_talks_to_openbsd_nc_listener                   # connect ↔ nc -l
  sockets::listen_talks_to_openbsd_nc_client                      # listen ↔ nc
  sockets::socat_in_both_roles                                    # connect/listen ↔ socat
  sockets::udp_against_socat                                      # -u both ways
  sockets::echo_serves_fifty_clients_at_once                      # echo
  sockets::udp_echo                                               # echo -u
  sockets::sigterm_stops_a_server_cleanly_and_sigint_is_130       # signals through qemu
  sockets::sixteen_mib_from_connect_to_listen_arrive_whole        # 16 MiB, byte-compared
  tls::openssl_s_client_talks_to_listen_tls                       # listen --tls ↔ openssl
  tls::connect_tls_talks_to_openssl_s_server                      # connect --tls ↔ openssl
  tls::curl_fetches_a_canned_response_over_tls                    # listen --tls ↔ curl
  tls::untrusted_certificate_and_wrong_name_fail_with_exit_6      # verification, exit 6
  tls::mutual_tls_requires_a_client_certificate_from_the_right_ca # mTLS
  http_get::http_get_sends_the_request_line_and_headers_of_the_lab # http-get, HTTP
  http_get::http_get_decodes_chunked_bodies_with_extensions_and_trailers
  http_get::http_get_https_trusts_only_what_it_is_told_to         # http-get ↔ nginx HTTPS, --cacert
  serve_gpio::page_and_json_api                                   # serve-gpio (sim) ↔ curl
  serve_gpio::form_post_and_get_query_switch_the_pin
  serve_gpio::line_protocol_with_nicksock_connect
  serve_gpio::https_with_a_gen_cert_certificate                   # serve-gpio --tls ↔ curl
  gen_cert::self_signed_server_certificate                        # gen-cert, checked by openssl
  gen_cert::ca_and_ca_signed_leaf
  gen_cert::generated_certificates_work_with_nicksock_tls         # ring on ARM, in process
  generated::completions_subcommand_prints_the_same_script        # completions
)

# The musl build's own name lookup (src/net/lookup.rs: nsswitch through getent). Not for
# the glibc targets under qemu: their NSS modules would be the sysroot's, which has none.
SMOKE_MUSL=(
  lookup::a_name_only_the_name_service_switch_knows_resolves      # pi.local's road
)

ALL_TARGETS=(aarch64-unknown-linux-gnu arm-unknown-linux-musleabihf)
# The Pi builds leave out http-get --compressed's br and zstd decoders (the cargo features
# brotli and zstd, 262 KB of the aarch64 binary): gzip and deflate only; and nicksock's own
# code is optimized for size (opt-level s, 393 KB less; the crypto is ring's assembly either
# way). Both for the Pi's budget of 4 MB for the stripped aarch64 binary, which a build over
# it fails. The tests are built the same way.
FEATURES=(--no-default-features --config "profile.release.package.nicksock.opt-level=\"s\"")
BUDGET=4000000
KNOWN_TARGETS=("${ALL_TARGETS[@]}" armv7-unknown-linux-gnueabihf)

full=false
run_tests=true
targets=()
for arg in "$@"; do
  case "$arg" in
    --full) full=true ;;
    --no-test) run_tests=false ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "cross.sh: unknown option $arg (see --help)" >&2
      exit 2
      ;;
    *) targets+=("$arg") ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

# target → toolchain (gcc: Debian's cross gcc; zig), cross tool prefix, qemu program and
# the CPU it emulates, Debian packages (qemu-user is added when testing).
describe() {
  toolchain=gcc cpu=()
  case "$1" in
    aarch64-unknown-linux-gnu)
      prefix=aarch64-linux-gnu qemu=qemu-aarch64 cpu=(-cpu cortex-a53)
      packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
      ;;
    arm-unknown-linux-musleabihf)
      toolchain=zig prefix="" qemu=qemu-arm cpu=(-cpu arm1176)
      packages=()
      ;;
    armv7-unknown-linux-gnueabihf)
      prefix=arm-linux-gnueabihf qemu=qemu-arm
      packages=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
      ;;
    *)
      echo "cross.sh: unknown target $1 (known: ${KNOWN_TARGETS[*]})" >&2
      exit 2
      ;;
  esac
  sysroot=/usr/$prefix
}

# The qemu-user program for $qemu: Debian's qemu-user has `qemu-aarch64` (static since
# trixie); qemu-user-static has `qemu-aarch64-static` on bookworm.
find_qemu() {
  command -v "$qemu" 2>/dev/null || command -v "$qemu-static" 2>/dev/null || true
}

# Installs the Debian packages missing for the targets; a failure only makes those targets
# skip (their checks below find the tools missing).
install_missing() {
  local want=() t
  for t in "${targets[@]}"; do
    describe "$t"
    if [ "$toolchain" = gcc ]; then
      command -v "$prefix-gcc" >/dev/null 2>&1 || want+=("${packages[0]}")
      [ -e "$sysroot/include/stdio.h" ] || want+=("${packages[1]}")
    fi
    if $run_tests && [ -z "$(find_qemu)" ]; then want+=(qemu-user); fi
  done
  [ ${#want[@]} -gt 0 ] || return 0
  mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "cannot install ${want[*]}: not root and no password-less sudo" >&2
      return 0
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "cannot install ${want[*]}: no apt-get on this machine" >&2
    return 0
  fi
  echo "installing: ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! { "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq &&
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
      "${want[@]}" >/dev/null; }; then
    echo "apt-get could not install ${want[*]}" >&2
  fi
}

# Adds the Rust standard library for $1 unless it is there; fails (with the reason on
# stdout) when rustup is missing or cannot fetch it.
add_target() {
  if ! command -v rustup >/dev/null 2>&1; then
    rustc --print target-libdir --target "$1" >/dev/null 2>&1 &&
      [ -d "$(rustc --print target-libdir --target "$1")" ] && return 0
    echo "no rustup, and rustc has no standard library for $1"
    return 1
  fi
  rustup target list --installed 2>/dev/null | grep -qx "$1" && return 0
  local out
  if ! out=$(RUST_BACKTRACE=0 rustup target add "$1" 2>&1); then
    # rustup's error line (with RUST_BACKTRACE=0 it carries the whole chain of causes).
    local why
    why=$(grep -m 1 '^error:' <<<"$out" || grep -v '^[[:space:]]*$' <<<"$out" | tail -n 1)
    echo "rustup target add $1 failed: $why"
    return 1
  fi
}

# cargo's environment-variable spelling of a target: AARCH64_UNKNOWN_LINUX_GNU.
upper() { tr 'a-z.-' 'A-Z__' <<<"$1"; }

skipped=()
failed=()
results=()
total_start=$SECONDS
install_missing

for t in "${targets[@]}"; do
  describe "$t"
  start=$SECONDS
  echo "== $t"
  T=$(upper "$t")
  if [ "$toolchain" = zig ]; then
    if ! reason=$(scripts/zig.sh setup 2>&1 >/dev/null); then
      echo "SKIP: $t: $reason"
      skipped+=("$t")
      continue
    fi
    # `cargo` below is cargo-zigbuild with nightly's build-std (scripts/zig.sh).
    cargo() { scripts/zig.sh cargo "$@"; }
  else
    if ! command -v "$prefix-gcc" >/dev/null 2>&1 || [ ! -e "$sysroot/include/stdio.h" ]; then
      echo "SKIP: $t: no cross compiler ($prefix-gcc and $sysroot; apt-get install ${packages[*]})"
      skipped+=("$t")
      continue
    fi
    if ! reason=$(add_target "$t"); then
      echo "SKIP: $t: $reason"
      skipped+=("$t")
      continue
    fi
    u=${t//-/_}
    export "CARGO_TARGET_${T}_LINKER=$prefix-gcc" "CC_$u=$prefix-gcc" "AR_$u=$prefix-ar"
    unset -f cargo
  fi

  if ! cargo build --release --target "$t" "${FEATURES[@]}"; then
    echo "FAIL: $t: cargo build"
    failed+=("$t")
    continue
  fi
  out_dir=target/cross/$t
  mkdir -p "$out_dir"
  # cargo leaves the gcc build unstripped when nicksock's own crate has a profile override
  # (FEATURES' opt-level), whatever the release profile says: the cross strip does it, on
  # cargo's output itself, which the arm64 package takes (lintian fails an unstripped one).
  if [ "$toolchain" = gcc ]; then "$prefix-strip" "target/$t/release/nicksock"; fi
  cp "target/$t/release/nicksock" "$out_dir/nicksock"
  # What the CPU must be able to run: ARMv6 for the armhf package (a Pi Zero dies of SIGILL
  # on a single ARMv7 or Thumb-2 instruction).
  if [ "$t" = arm-unknown-linux-musleabihf ]; then
    attrs=$(readelf -A "$out_dir/nicksock")
    echo "$attrs" | grep -E 'Tag_(CPU_arch|THUMB_ISA_use|FP_arch):'
    if ! grep -qE 'Tag_CPU_arch: v(4|5|6)(T|TE|TEJ|K|KZ)?$' <<<"$attrs" ||
      grep -q 'Thumb-2' <<<"$attrs"; then
      echo "FAIL: $t: not an ARMv6 binary (readelf -A above)"
      failed+=("$t")
      continue
    fi
  fi
  size=$(stat -c %s "$out_dir/nicksock")
  size_line=$(awk -v b="$size" -v t="$t" -v f="$out_dir/nicksock" \
    'BEGIN { printf "%s: %s, %d bytes (%.2f MiB, %.2f MB) stripped", t, f, b, b / 1048576, b / 1e6 }')
  echo "$size_line"
  if [[ "$t" == aarch64-* ]] && [ "$size" -gt "$BUDGET" ]; then
    echo "FAIL: $t: $size bytes is over the Pi's budget of $BUDGET"
    failed+=("$t")
    continue
  fi
  if command -v file >/dev/null 2>&1; then file "$out_dir/nicksock"; fi
  built=$((SECONDS - start))

  if ! $run_tests; then
    results+=("$size_line; built in ${built}s")
    continue
  fi
  qemu_path=$(find_qemu)
  if [ -z "$qemu_path" ]; then
    echo "SKIP: $t tests: no $qemu (apt-get install qemu-user)"
    results+=("$size_line; built in ${built}s; tests skipped (no qemu)")
    skipped+=("$t tests")
    continue
  fi
  runner="$qemu_path ${cpu[*]}"
  [ "$toolchain" = zig ] || runner+=" -L $sysroot"
  version=$($runner "$out_dir/nicksock" --version 2>&1) || true
  echo "under $runner: $version"
  [[ "$version" == "nicksock "* ]] || {
    echo "FAIL: $t: --version printed $version"
    failed+=("$t")
    continue
  }

  export "CARGO_TARGET_${T}_RUNNER=$runner" "NICKSOCK_TEST_RUNNER=$runner"
  # --full: the unit tests too (32-bit armv7 checks the size arithmetic) and every
  # integration test; otherwise the smoke set. --show-output prints what passing tests said,
  # so SKIP lines (a peer program missing) can be counted.
  if $full; then
    which=()
    # The GPIO VM's guest is x86_64: it cannot run these binaries.
    filter=(--skip vm_gpio)
    expect=0
  else
    which=(--test integration)
    smoke=("${SMOKE[@]}")
    [[ "$t" != *-musl* ]] || smoke+=("${SMOKE_MUSL[@]}")
    filter=(--exact "${smoke[@]}")
    expect=${#smoke[@]}
  fi
  test_start=$SECONDS
  # The tests are built with the release profile, on the dependencies the release build
  # just made (another profile would build them all again: 232 s against 85 s for aarch64),
  # and they run the shipped binary itself.
  export NICKSOCK_BIN=$PWD/$out_dir/nicksock
  # The release profile aborts on panic; a test harness unwinds, and a standard library
  # built here (-Z build-std, ARMv6) cannot serve both: the test build of that target
  # unwinds throughout. (It runs the shipped, aborting binary all the same.)
  if [[ "$t" == arm-unknown-linux-musleabihf ]]; then
    export CARGO_PROFILE_RELEASE_PANIC=unwind
  fi
  if ! cargo test --release --target "$t" "${FEATURES[@]}" "${which[@]}" --no-run; then
    echo "FAIL: $t: building the tests"
    unset "CARGO_TARGET_${T}_RUNNER" NICKSOCK_TEST_RUNNER NICKSOCK_BIN CARGO_PROFILE_RELEASE_PANIC
    failed+=("$t")
    continue
  fi
  compiled=$((SECONDS - test_start))
  log=$(mktemp)
  test_start=$SECONDS
  status=0
  cargo test --release --target "$t" "${FEATURES[@]}" "${which[@]}" -- --show-output "${filter[@]}" 2>&1 |
    tee "$log" || status=$?
  tested=$((SECONDS - test_start))
  passed=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$log" |
    awk '{ n += $1 } END { print n + 0 }')
  skips=$(grep -c 'SKIP:' "$log" || true)
  rm -f "$log"
  unset "CARGO_TARGET_${T}_RUNNER" NICKSOCK_TEST_RUNNER NICKSOCK_BIN CARGO_PROFILE_RELEASE_PANIC
  if [ "$status" != 0 ] || [ "$passed" -lt "$expect" ]; then
    echo "FAIL: $t: tests under qemu (exit $status, $passed passed, $expect expected)"
    failed+=("$t")
    continue
  fi
  line="$size_line; built in ${built}s; tests built in ${compiled}s"
  line+="; $passed tests passed under $qemu in ${tested}s"
  [ "$skips" = 0 ] || line+=" ($skips SKIP lines: peers missing)"
  results+=("$line")
done

echo "== cross.sh: $((SECONDS - total_start))s in all"
for r in "${results[@]}"; do echo "  $r"; done
for s in "${skipped[@]}"; do echo "  skipped: $s"; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "  FAILED: ${failed[*]}"
  exit 1
fi
