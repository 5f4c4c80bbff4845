#!/usr/bin/env bash
# Debian packages of nicksock for amd64, arm64 and armhf (every Raspberry Pi OS 32-bit
# system, the ARMv6 Pi 1 and Zero included), and their checks.
#
#   scripts/package.sh                  # all three → target/debian/nicksock_<version>-1_<arch>.deb
#   scripts/package.sh armhf arm64      # some of them
#   scripts/package.sh --no-build ...   # package the binaries built already (scripts/cross.sh)
#
# Each package holds /usr/bin/nicksock, the man pages (gzipped), the bash, zsh and fish
# completions, /usr/share/doc/nicksock/{copyright,changelog.Debian.gz,README.md}, the
# nicksock-gpio service (not enabled or started by installing) and its conffile
# /etc/default/nicksock-gpio; the postinst creates the system user nicksock in group gpio.
# The layout is Cargo.toml's [package.metadata.deb]; cargo-deb builds the archives.
#
# The binaries:
#   amd64  cargo build --release (x86_64 glibc; on an x86_64 machine)
#   arm64  scripts/cross.sh aarch64-unknown-linux-gnu (Debian's cross gcc, glibc)
#   armhf  scripts/cross.sh arm-unknown-linux-musleabihf (Zig and nightly build-std: static
#          musl, ARMv6 with VFPv2; scripts/zig.sh says why)
# cross.sh builds without tests here (--no-test): CI runs its tests in a step of their own,
# on the same build, before this script.
#
# Then, for each package, checks that fail the script (exit 1):
#   - dpkg-deb --info: Package, Architecture, Section net, Priority optional, no Homepage
#     or Vcs fields; Depends: libc6 (>= V) with V no newer than bookworm's 2.36 for the
#     glibc builds (they must install on Raspberry Pi OS bookworm and Debian 12), no libc6
#     at all for the static armhf one;
#   - dpkg-deb --contents: the same file list in every package;
#   - the binary's ELF machine matches the architecture, and armhf's is ARMv6 (readelf -A);
#   - at most 2.5 MB (2,500,000 bytes) a package;
#   - lintian: no errors; its warnings are printed (README, "Packages", lists them).
# Installs what is missing: cargo-deb (cargo install --locked), lintian and dpkg-dev
# (apt-get, as root or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
MAX_BYTES=2500000
BOOKWORM_GLIBC=2.36

build=true
arches=()
for arg in "$@"; do
  case "$arg" in
    --no-build) build=false ;;
    amd64 | arm64 | armhf) arches+=("$arg") ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "package.sh: unknown argument $arg (see --help)" >&2
      exit 2
      ;;
  esac
done
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64 armhf)

# Debian architecture → Rust target, ELF machine (as `readelf -h` names it).
target_of() {
  case "$1" in
    amd64) echo x86_64-unknown-linux-gnu ;;
    arm64) echo aarch64-unknown-linux-gnu ;;
    armhf) echo arm-unknown-linux-musleabihf ;;
  esac
}
machine_of() {
  case "$1" in
    amd64) echo "Advanced Micro Devices X86-64" ;;
    arm64) echo AArch64 ;;
    armhf) echo ARM ;;
  esac
}

install_tools() {
  local want=()
  command -v lintian >/dev/null 2>&1 || want+=(lintian)
  command -v dpkg-shlibdeps >/dev/null 2>&1 || want+=(dpkg-dev)
  if [ ${#want[@]} -gt 0 ]; then
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo -n)
    echo "installing: ${want[*]}"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install \
      -y -qq --no-install-recommends "${want[@]}" >/dev/null
  fi
  if ! cargo deb --version 2>/dev/null | grep -qF "$CARGO_DEB_VERSION"; then
    echo "installing: cargo-deb $CARGO_DEB_VERSION"
    cargo install --locked --version "$CARGO_DEB_VERSION" cargo-deb >/dev/null 2>&1
  fi
}

# The newest glibc symbol version a binary uses (objdump -T): 2.34.
glibc_needed() {
  objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -n 1
}

# dpkg-shlibdeps answers `libc6:arm64 (>= 2.36)` for a cross-built arm64 binary: Debian's
# cross libc (libc6-arm64-cross) has a shlibs file saying so, and no symbols file. A native
# build's answer comes from libc6's symbols file: `libc6 (>= V)`, V the newest glibc symbol
# version the binary uses. That is what the arm64 package gets, computed from its binary the
# same way, and the archive is rebuilt with dpkg-deb around the same files.
cross_glibc_depends() {
  local deb=$1 dir needed depends
  dir=$(mktemp -d)
  dpkg-deb --raw-extract "$deb" "$dir"
  needed=$(glibc_needed "$dir/usr/bin/nicksock")
  depends=$(sed -n 's/^Depends: //p' "$dir/DEBIAN/control" |
    sed -E "s/libc6:[a-z0-9]+ \(>= [0-9.]+\)/libc6 (>= $needed)/")
  sed -i "s/^Depends: .*/Depends: $depends/" "$dir/DEBIAN/control"
  dpkg-deb --root-owner-group -Zxz --build "$dir" "$deb" >/dev/null
  rm -rf "$dir"
}

fail=()
problem() {
  echo "FAIL: $1"
  fail+=("$1")
}

install_tools
version=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
mkdir -p target/debian
debs=()
for arch in "${arches[@]}"; do
  t=$(target_of "$arch")
  echo "== $arch ($t)"
  if $build; then
    case "$arch" in
      amd64)
        [ "$(uname -m)" = x86_64 ] || {
          problem "amd64: build it on an x86_64 machine"
          continue
        }
        cargo build --release --target "$t"
        ;;
      *)
        # A target cross.sh skips (no toolchain) must not be packaged from an old binary.
        log=$(mktemp)
        scripts/cross.sh --no-test "$t" | tee "$log"
        if grep -q '^  skipped:' "$log"; then
          rm -f "$log"
          problem "$arch: scripts/cross.sh skipped $t"
          continue
        fi
        rm -f "$log"
        ;;
    esac
  fi
  [ -x "target/$t/release/nicksock" ] || {
    problem "$arch: no binary at target/$t/release/nicksock"
    continue
  }
  deb=target/debian/nicksock_${version}-1_$arch.deb
  rm -f "$deb"
  # The notices of what is linked in (README, "Packages"): the crates, and for the ARMv6
  # build the C runtime Zig built in.
  extras=()
  if [ "$arch" = armhf ]; then
    zig_lib=$(scripts/zig.sh lib)
    for pair in "musl=$zig_lib/libc/musl/COPYRIGHT" "zig=$zig_lib/../LICENSE" \
      "libunwind=$zig_lib/libunwind/LICENSE.TXT"; do
      [ -f "${pair#*=}" ] && extras+=("$pair")
    done
  fi
  # The ARM builds leave out the default features (scripts/cross.sh: no br or zstd).
  features=()
  [ "$arch" = amd64 ] || features=(--no-default-features)
  python3 scripts/licenses.py "${features[@]}" "$t" target/debian/THIRD-PARTY "${extras[@]}"
  # --no-strip: the release profile strips already (and cargo-deb's strip is the host's).
  cargo deb --no-build --no-strip --target "$t" --output "$deb" >/dev/null
  [ "$arch" != arm64 ] || cross_glibc_depends "$deb"
  debs+=("$deb")
done

# The checks.
reference=""
for deb in "${debs[@]}"; do
  arch=$(dpkg-deb --field "$deb" Architecture)
  want_arch=$(sed 's/.*_\([a-z0-9]*\)\.deb$/\1/' <<<"$deb")
  bytes=$(stat -c %s "$deb")
  echo "== $deb: $bytes bytes"
  [ "$arch" = "$want_arch" ] || problem "$deb: Architecture $arch"
  [ "$bytes" -le "$MAX_BYTES" ] || problem "$deb: $bytes bytes, more than $MAX_BYTES"
  [ "$(dpkg-deb --field "$deb" Package)" = nicksock ] || problem "$deb: Package"
  [ "$(dpkg-deb --field "$deb" Section)" = net ] || problem "$deb: Section"
  [ "$(dpkg-deb --field "$deb" Priority)" = optional ] || problem "$deb: Priority"
  if dpkg-deb --field "$deb" | grep -qiE '^(Homepage|Vcs-[A-Za-z]+):'; then
    problem "$deb: a Homepage or Vcs field"
  fi
  depends=$(dpkg-deb --field "$deb" Depends)
  echo "   Depends: $depends"
  libc=$(sed -nE 's/.*libc6(:[a-z0-9]+)? \(>= ([0-9.]+)\).*/\2/p' <<<"$depends")
  if [ "$arch" = armhf ]; then
    [ -z "$libc" ] || problem "$deb: the static build depends on libc6 $libc"
  elif [ -z "$libc" ]; then
    problem "$deb: no libc6 version in Depends"
  elif ! dpkg --compare-versions "$libc" le "$BOOKWORM_GLIBC"; then
    problem "$deb: needs glibc $libc, newer than bookworm's $BOOKWORM_GLIBC"
  fi
  grep -q 'libc6:' <<<"$depends" && problem "$deb: an architecture-qualified libc6"
  grep -q adduser <<<"$depends" || problem "$deb: no adduser in Depends"

  # The file list, the same everywhere.
  files=$(dpkg-deb --contents "$deb" | awk '$6 != "./" { print $6 }' | sort)
  if [ -z "$reference" ]; then
    reference=$files
  elif [ "$files" != "$reference" ]; then
    problem "$deb: another file list than ${debs[0]}"
    diff <(echo "$reference") <(echo "$files") || true
  fi

  # The binary: the ELF machine of the architecture; ARMv6 for armhf.
  dir=$(mktemp -d)
  dpkg-deb --extract "$deb" "$dir"
  machine=$(readelf -h "$dir/usr/bin/nicksock" | sed -n 's/^ *Machine: *//p')
  if [ "$arch" != armhf ]; then
    needed=$(glibc_needed "$dir/usr/bin/nicksock")
    echo "   newest glibc symbol: $needed"
    dpkg --compare-versions "$needed" le "${libc:-0}" ||
      problem "$deb: the binary needs glibc $needed, Depends says ${libc:-nothing}"
  fi
  echo "   usr/bin/nicksock: $machine, $(stat -c %s "$dir/usr/bin/nicksock") bytes"
  [ "$machine" = "$(machine_of "$arch")" ] || problem "$deb: ELF machine $machine"
  if [ "$arch" = armhf ]; then
    cpu=$(readelf -A "$dir/usr/bin/nicksock" | sed -n 's/^ *Tag_CPU_arch: *//p')
    echo "   Tag_CPU_arch: $cpu"
    thumb=$(readelf -A "$dir/usr/bin/nicksock" | sed -n 's/^ *Tag_THUMB_ISA_use: *//p')
    echo "   Tag_THUMB_ISA_use: $thumb"
    [[ "$cpu" =~ ^v(4|5|6)(T|TE|TEJ|K|KZ)?$ ]] || problem "$deb: CPU architecture $cpu, not ARMv6"
    [[ "$thumb" != *Thumb-2* ]] || problem "$deb: Thumb-2 code, which ARMv6 lacks"
  fi
  rm -rf "$dir"

  # lintian: errors fail; warnings are printed (README, "Packages", says why each stays).
  out=$(lintian --no-cfg --fail-on error "$deb" 2>&1) || problem "$deb: lintian errors"
  [ -z "$out" ] || sed 's/^/   /' <<<"$out"
done

echo "== package.sh"
for deb in "${debs[@]}"; do echo "  $deb $(stat -c %s "$deb") bytes"; done
if [ ${#fail[@]} -gt 0 ]; then
  printf '  FAILED: %s\n' "${fail[@]}"
  exit 1
fi
