#!/usr/bin/env bash
# gpio-vm.sh: boot a throw-away Linux VM under qemu whose kernel has the gpio-sim driver, so
# that `serve-gpio --backend cdev` meets a real GPIO character device (/dev/gpiochipN).
#
#   gpio-vm.sh setup            fetch Debian's kernel, build gpio-sim.ko for it (cached; root)
#   gpio-vm.sh check            exit 0 if a VM can boot here, else print why and exit 1
#   gpio-vm.sh run [-f FILE]... SCRIPT
#                               boot; in the guest run SCRIPT with busybox sh in /test (beside
#                               every FILE, with the libraries it links), after sourcing
#                               tests/vm/guest-lib.sh; print the guest's console; exit with
#                               SCRIPT's status (124: the guest hung or crashed)
#
# Why it is built this way:
# - Debian's kernels ship without CONFIG_GPIO_SIM (and CONFIG_IRQ_SIM), so gpio-sim.c is built
#   out of tree from linux-source, with irq_sim.c linked into the same module. irq_sim.c calls
#   irq_to_desc(), which modules may not use; generic_handle_irq() does the same job.
# - qemu boots the ELF vmlinux from inside the bzImage through its PVH entry point: no
#   firmware, no decompressor, about half the boot time under software emulation.
# - KVM is used only where it is real; a nested "kvm_pvm" device is far slower than TCG.
#
# Environment: NICKSOCK_VM_CACHE (default /var/tmp/nicksock-vm), NICKSOCK_VM_TIMEOUT
# (seconds, default 120), NICKSOCK_VM_MEM (MiB of guest RAM, default 256; the guest's files
# live in it), NICKSOCK_VM_KVER (Debian kernel ABI, default: linux-image-amd64's).
# Needs: qemu-system-x86 busybox(-static) cpio gzip; setup also needs apt, xz-utils, kmod,
# make and gcc. `.ci/run` installs them.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

here=$(cd "$(dirname "$0")" && pwd)
cache=${NICKSOCK_VM_CACHE:-/var/tmp/nicksock-vm}
timeout=${NICKSOCK_VM_TIMEOUT:-120}
marker=NICKSOCK_VM_STATUS

say() { echo "gpio-vm: $*" >&2; }
die() { say "$*"; exit 125; }

# The kernel version to use: pinned in the cache on first use, so later runs need no apt.
kernel_version() {
  if [ -n "${NICKSOCK_VM_KVER:-}" ]; then echo "$NICKSOCK_VM_KVER"; return; fi
  if [ -s "$cache/kver" ]; then cat "$cache/kver"; return; fi
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: linux-image-\([0-9].*\)$/\1/p' | head -1
}

kernel_dir() { echo "$cache/$(kernel_version)"; }

# apt-get download PACKAGE into DIR.
fetch() { # $1 dir, $2 package
  (cd "$1" && apt-get download -qq "$2" > /dev/null 2>&1) || die "apt-get download $2 failed"
}

ready() { # the cached kernel and modules exist (sch_netem too: caches made before lack it)
  local k; k=$(kernel_dir)
  [ -s "$k/vmlinux" ] && [ -s "$k/modules/load-order" ] && [ -s "$k/modules/sch_netem.ko" ]
}

# bzImage → the ELF kernel inside it: try each compressor's magic; the decompressor complains
# about the bytes after the payload, so success is judged by the ELF header of its output.
elf_from_bzimage() {
  local image=$1 out=$2 magic tool offset
  for pair in '\xFD7zXZ\x00|xz -dc' '\x28\xB5\x2F\xFD|zstd -qdc' '\x1F\x8B\x08|gzip -dc'; do
    magic=${pair%%|*} tool=${pair#*|}
    for offset in $(LC_ALL=C grep -aboP "$magic" "$image" | head -4 | cut -d: -f1); do
      tail -c +$((offset + 1)) "$image" | $tool > "$out" 2>/dev/null || true
      if [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then return 0; fi
    done
  done
  rm -f "$out"
  return 1
}

build_gpio_sim() { # $1 kernel version, $2 work dir → $2/mod/gpio-sim.ko
  local kver=$1 work=$2 series tarball
  if [ ! -e "/lib/modules/$kver/build/Makefile" ]; then
    say "installing linux-headers-$kver"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "linux-headers-$kver" > "$work/apt.log" 2>&1 ||
      { cat "$work/apt.log" >&2; die "cannot install linux-headers-$kver"; }
  fi
  series=$(echo "$kver" | cut -d. -f1-2)
  say "fetching linux-source-$series for gpio-sim.c and irq_sim.c"
  fetch "$work" "linux-source-$series"
  dpkg -x "$work"/linux-source-"$series"_*.deb "$work/src"
  tarball=$work/src/usr/src/linux-source-$series.tar.xz
  mkdir -p "$work/mod"
  tar -C "$work/mod" --strip-components=3 -xJf "$tarball" \
    "linux-source-$series/drivers/gpio/gpio-sim.c" \
    "linux-source-$series/drivers/gpio/gpiolib.h" \
    "linux-source-$series/kernel/irq/irq_sim.c"
  sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' \
    "$work/mod/irq_sim.c"
  grep -q 'generic_handle_irq(irqnum)' "$work/mod/irq_sim.c" ||
    die "irq_sim.c of linux-source-$series changed: the irq_to_desc patch no longer applies"
  mv "$work/mod/gpio-sim.c" "$work/mod/gpio-sim-core.c"
  printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-core.o irq_sim.o\n' > "$work/mod/Makefile"
  make -s -C "/lib/modules/$kver/build" M="$work/mod" modules > "$work/mod/build.log" 2>&1 ||
    { cat "$work/mod/build.log" >&2; die "building gpio-sim.ko failed"; }
  strip --strip-debug "$work/mod/gpio-sim.ko"
}

setup() {
  local kver kdir work pkgdir
  mkdir -p "$cache"
  # One setup at a time: tests may ask for it together.
  exec 9> "$cache/.lock"
  flock 9
  if ready; then say "kernel $(kernel_version) ready in $(kernel_dir)"; return 0; fi
  # Fresh lists first: stale ones name a kernel ABI the mirror may have dropped.
  apt-get update -qq > /dev/null 2>&1 || say "apt-get update failed; trying the lists there are"
  kver=$(kernel_version)
  [ -n "$kver" ] || die "cannot tell which kernel linux-image-amd64 is"
  kdir=$cache/$kver
  say "setting up kernel $kver in $kdir"
  work=$(mktemp -d "${TMPDIR:-/tmp}/gpio-vm-setup.XXXXXX")
  # EXIT, not RETURN: die() exits, and the unpacked packages are most of a gigabyte.
  trap "rm -rf -- '$work'" EXIT
  fetch "$work" "linux-image-$kver"
  dpkg -x "$work"/linux-image-"$kver"_*.deb "$work/image"
  pkgdir=$work/image/lib/modules/$kver
  rm -rf "$kdir.new"
  mkdir -p "$kdir.new/modules"
  elf_from_bzimage "$work/image/boot/vmlinuz-$kver" "$kdir.new/vmlinux" ||
    die "no ELF kernel found inside vmlinuz-$kver"
  build_gpio_sim "$kver" "$work"
  # gpio-sim needs configfs (a module in Debian's kernel); load order: dependencies first.
  local dep file
  for dep in $(modinfo -F depends "$work/mod/gpio-sim.ko" | tr ',' ' '); do
    file=$(find "$pkgdir" -name "$dep.ko*" | head -1)
    [ -n "$file" ] || die "module $dep (needed by gpio-sim) is not in linux-image-$kver"
    case $file in
      *.xz) xz -dc "$file" ;; *.zst) zstd -qdc "$file" ;; *) cat "$file" ;;
    esac > "$kdir.new/modules/$dep.ko"
    echo "$dep.ko" >> "$kdir.new/modules/load-order"
  done
  cp "$work/mod/gpio-sim.ko" "$kdir.new/modules/"
  echo gpio-sim.ko >> "$kdir.new/modules/load-order"
  # The fault suite's impaired network (scripts/soak.sh netem): tc netem, which the host's
  # kernel may lack, from the same kernel package.
  for dep in sch_netem; do
    file=$(find "$pkgdir" -name "$dep.ko*" | head -1)
    [ -n "$file" ] || die "module $dep is not in linux-image-$kver"
    case $file in
      *.xz) xz -dc "$file" ;; *.zst) zstd -qdc "$file" ;; *) cat "$file" ;;
    esac > "$kdir.new/modules/$dep.ko"
    [ -z "$(modinfo -F depends "$kdir.new/modules/$dep.ko")" ] ||
      die "$dep needs modules this script does not load: $(modinfo -F depends "$kdir.new/modules/$dep.ko")"
    echo "$dep.ko" >> "$kdir.new/modules/load-order"
  done
  rm -rf "$kdir"
  mv "$kdir.new" "$kdir"
  echo "$kver" > "$cache/kver"
  say "kernel $kver ready: modules $(tr '\n' ' ' < "$kdir/modules/load-order")"
}

# Why a VM cannot boot here, or nothing.
why_not() {
  [ "$(uname -m)" = x86_64 ] || { echo "the VM is an x86_64 guest; this is $(uname -m)"; return; }
  local tool
  for tool in qemu-system-x86_64 busybox cpio gzip; do
    command -v "$tool" > /dev/null || { echo "$tool is not installed"; return; }
  done
  ready || echo "no kernel in $cache: run 'tests/vm/gpio-vm.sh setup' (as root, needs apt)"
}

# Copies a program and the shared libraries it links into the guest tree.
add_program() { # $1 root, $2 host file, $3 guest path
  install -D -m 0755 "$2" "$1$3"
  # A debug build is mostly debug info: the guest's RAM holds the whole initramfs.
  strip --strip-debug "$1$3" 2> /dev/null || true
  local lib
  for lib in $(ldd "$2" 2>/dev/null | grep -o '/[^ ]*' || true); do
    [ -e "$1$lib" ] || install -D "$(readlink -f "$lib")" "$1$lib"
  done
}

run() {
  local files=() script root work kdir console status accel
  while [ "${1:-}" = -f ]; do files+=("$2"); shift 2; done
  script=${1:?usage: gpio-vm.sh run [-f FILE]... SCRIPT}
  [ -f "$script" ] || die "no such script: $script"
  local reason; reason=$(why_not)
  [ -z "$reason" ] || die "cannot boot: $reason"
  kdir=$(kernel_dir)
  work=$(mktemp -d "${TMPDIR:-/tmp}/gpio-vm-run.XXXXXX")
  trap "rm -rf -- '$work'" EXIT
  root=$work/root
  mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,test,modules}
  add_program "$root" "$(command -v busybox)" /bin/busybox
  cp "$kdir"/modules/* "$root/modules/"
  cp "$here/guest-lib.sh" "$root/test/guest-lib.sh"
  cp "$script" "$root/test/scenario.sh"
  local f
  for f in "${files[@]}"; do add_program "$root" "$f" "/test/$(basename "$f")"; done
  # The guest's first process: mount what the kernel API needs, load gpio-sim, bring up
  # loopback, run the scenario, print its status on the console, power off.
  cat > "$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/test:/bin HOME=/tmp TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
for m in \$(cat /modules/load-order); do insmod /modules/\$m || echo "insmod \$m failed"; done
mount -t configfs configfs /sys/kernel/config
ip link set lo up
cd /test
sh -c '. /test/guest-lib.sh && . /test/scenario.sh'
echo "$marker=\$?"
poweroff -f
EOF
  chmod 0755 "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

  accel=(-accel "tcg,thread=multi" -cpu max)
  if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then
    accel=(-accel kvm -cpu host)
  fi
  console=$work/console
  set +e
  # --foreground: qemu stays in our process group, so Ctrl-C stops the VM too.
  timeout --foreground -k 5 "$timeout" qemu-system-x86_64 -nodefaults -no-user-config -display none \
    -no-reboot -m "${NICKSOCK_VM_MEM:-256}" -serial stdio "${accel[@]}" \
    -kernel "$kdir/vmlinux" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1" < /dev/null | tr -d '\r' | tee "$console"
  set -e
  status=$(sed -n "s/^$marker=\([0-9]*\)$/\1/p" "$console" | tail -1)
  if [ -z "$status" ]; then say "the guest hung or crashed (no status line)"; exit 124; fi
  exit "$status"
}

case ${1:-} in
  setup) setup ;;
  check) reason=$(why_not); if [ -n "$reason" ]; then echo "$reason"; exit 1; fi ;;
  run) shift; run "$@" ;;
  *) sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
