#!/usr/bin/env bash
# The amd64 package installed for real, then removed and purged, on this machine (root; CI).
#
#   tests/package/install.sh target/debian/nicksock_0.1.0-1_amd64.deb
#
# Checks what a user of the package would: `nicksock --version` from /usr/bin; `man -w`
# finds the pages; bash completes `nicksock li<TAB>` through bash-completion's loader;
# `systemd-analyze verify` accepts the unit; the user nicksock exists in group gpio; the
# service is neither enabled nor started; /etc/default/nicksock-gpio is a conffile. Then
# `dpkg -r` leaves only the conffile, `dpkg -P` nothing of the package's file list, and the
# user stays (Debian policy). It refuses to run on a machine where nicksock is installed
# from elsewhere (it would replace it), and needs root.
set -euo pipefail
deb=${1:?usage: tests/package/install.sh DEB}
deb=$(realpath "$deb")
export PATH=$PATH:/usr/sbin:/sbin

[ "$(id -u)" = 0 ] || {
  echo "install.sh: needs root (dpkg -i)" >&2
  exit 2
}
if dpkg-query -W -f '${Status}' nicksock 2>/dev/null | grep -q installed; then
  echo "install.sh: nicksock is installed already; dpkg -P nicksock first" >&2
  exit 2
fi

failed=()
check() {
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then
    echo "ok: $what"
  else
    echo "FAIL: $what"
    failed+=("$what")
  fi
}

# Files of the package (not directories), from the archive itself.
mapfile -t files < <(dpkg-deb --contents "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }')

echo "== install"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
check "/usr/bin/nicksock --version" sh -c '/usr/bin/nicksock --version | grep -q "^nicksock "'
check "command -v nicksock is /usr/bin/nicksock" sh -c '[ "$(command -v nicksock)" = /usr/bin/nicksock ]'
for page in nicksock nicksock-listen nicksock-serve-gpio; do
  check "man -w $page" sh -c "man -w $page | grep -q '/usr/share/man/man1/$page.1.gz'"
done
# bash-completion's loader finds the script by the command's name, as an interactive
# shell does on the first <TAB>.
completion=$(bash -c '
  source /usr/share/bash-completion/bash_completion
  _completion_loader nicksock
  func=$(complete -p nicksock | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
  COMP_WORDS=(nicksock li) COMP_CWORD=1 COMP_LINE="nicksock li" COMP_POINT=11
  "$func" nicksock li nicksock
  echo "${COMPREPLY[*]}"' 2>&1)
check "bash completes 'nicksock li' to listen (got: $completion)" [ "$completion" = listen ]
check "zsh completion in vendor-completions" test -f /usr/share/zsh/vendor-completions/_nicksock
check "fish completion in vendor_completions.d" test -f /usr/share/fish/vendor_completions.d/nicksock.fish
unit=/usr/lib/systemd/system/nicksock-gpio.service
check "systemd-analyze verify $unit" systemd-analyze verify "$unit"
check "user nicksock exists" getent passwd nicksock
check "nicksock is in group gpio" sh -c 'id -nG nicksock | tr " " "\n" | grep -qx gpio'
check "group gpio is a system group" sh -c '[ "$(getent group gpio | cut -d: -f3)" -lt 1000 ]'
check "the service is not enabled" sh -c '[ "$(systemctl is-enabled nicksock-gpio 2>/dev/null)" = disabled ]'
check "no symlink enables it" sh -c '! ls /etc/systemd/system/*.wants/nicksock-gpio.service 2>/dev/null'
check "/etc/default/nicksock-gpio is a conffile" sh -c \
  "dpkg-query -W -f '\${Conffiles}' nicksock | grep -q /etc/default/nicksock-gpio"
check "/etc/default/nicksock-gpio is root's alone (0600)" sh -c \
  '[ "$(stat -c %a:%U /etc/default/nicksock-gpio)" = 600:root ]'
# The unit's command line, from the conffile's words, is one serve-gpio accepts.
check "the conffile's options parse" sh -c '
  . /etc/default/nicksock-gpio
  /usr/bin/nicksock serve-gpio $NICKSOCK_GPIO_ARGS --help >/dev/null'

echo "== remove"
dpkg -r nicksock >/dev/null
for f in "${files[@]}"; do
  case "$f" in
    /etc/default/nicksock-gpio) check "dpkg -r keeps the conffile $f" test -e "$f" ;;
    *) check "dpkg -r removed $f" test ! -e "$f" ;;
  esac
done
check "user nicksock stays after dpkg -r" getent passwd nicksock

echo "== purge"
dpkg -P nicksock >/dev/null
for f in "${files[@]}"; do
  check "dpkg -P removed $f" test ! -e "$f"
done
check "dpkg knows nothing of nicksock" sh -c '! dpkg-query -W nicksock 2>/dev/null | grep -q .'
check "user nicksock stays after dpkg -P" getent passwd nicksock

if [ ${#failed[@]} -gt 0 ]; then
  echo "install.sh: ${#failed[@]} failed"
  exit 1
fi
echo "install.sh: all passed"
