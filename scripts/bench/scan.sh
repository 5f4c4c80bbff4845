#!/usr/bin/env bash
# Benchmark of a full TCP port scan of loopback (ports 1-65535, issue 26), side by side in
# one run, written to the "## scan" section of BENCHMARKS.md:
#   nicksock -v connect -z 127.0.0.1 1-65535 (default --max-probes 256, and 1024)
#   nmap -sT -p- -T4 127.0.0.1 (connect scan, with -oG - to read its findings)
#   OpenBSD nc -zv 127.0.0.1 1-65535 (one port after the other)
# Every run is checked: each scanner must report exactly the open ports 7, 2222 and 65535
# (no other), must have gone through every port (nmap: 65,532 closed; nc: 65,532 "failed"
# lines) and must exit 0, else its cell says "failed (found …)".
#
# Choices, and why:
#   - Everything runs in a network namespace of its own (`unshare -n`, the script runs
#     itself again in it): loopback of the host has listeners that come and go (tests, other
#     benchmarks), so only a fresh loopback has a known open set. In it, three
#     `nicksock echo` servers listen on 7, 2222 and 65535 (65535: the last port is scanned too), and the
#     script checks with ss that nothing else listens before measuring.
#   - A loopback scan can connect a probe to itself (TCP's simultaneous open) when the
#     kernel picks the probed port as the probe's source port (ports in
#     net.ipv4.ip_local_port_range). That is no open port: a scanner reporting one fails the
#     exact-set check, so phantom ports show up in the table.
#   - Median of RUNS (3) runs per scanner, seconds from spawning the scanner to its exit
#     (start-up included, for all three alike), the scanners taking turns run by run.
#   - Every scanner gets at most 120 s (OpenBSD nc is sequential; on loopback a refused
#     port costs it tens of µs, so it should finish in seconds): a capped run is "capped".
#   - No measurement starts while cargo, rustc or a CI run (`.ci/run`, or a process with
#     "ci-clone" in its command line other than an orphan: see ci_running) uses the cores:
#     waits up to 5 min each time; if one still runs, or one is seen right after a
#     measurement, the section says the numbers are not trustworthy.
# Needs root (or unprivileged user namespaces, then `unshare -rn`).
# Usage: scripts/bench/scan.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
OPEN="7 2222 65535"
CAP=120
NS=$PWD/target/release/nicksock

if [ -z "${NICKSOCK_SCAN_NETNS:-}" ]; then
  for tool in nmap nc unshare ip ss python3; do
    command -v $tool >/dev/null || { echo "missing $tool (apt-get install -y --no-install-recommends nmap netcat-openbsd util-linux iproute2 python3)"; exit 1; }
  done
  nc -h 2>&1 | head -1 | grep -q OpenBSD || { echo "nc is not OpenBSD netcat (apt-get install netcat-openbsd)"; exit 1; }
  cargo build --release --quiet --bin nicksock
  unshare_opts=(-n)
  [ "$(id -u)" = 0 ] || unshare_opts=(-r -n)
  NICKSOCK_SCAN_NETNS=1 SCAN_T0=$(date +%s) exec unshare "${unshare_opts[@]}" -- "$BASH" "$0" "$@"
fi

# From here on: inside the namespace, where loopback is down and nothing listens.
ip link set lo up
. scripts/bench/lib.sh
bench_workdir nicksock-scan-bench
BUSY=0
# A CI run: its driver (`bash .ci/run`, whose command line does not name its directory) or a
# process whose command line names /tmp/ci-clone, except orphans (parent PID 1): a test that
# leaked its servers leaves idle `nicksock echo` processes there that never end and use no CPU.
ci_running() {
  local p pp
  pgrep -f '(^|[ /])\.ci/run( |$)' >/dev/null && return 0
  for p in $(pgrep -f ci-clone); do
    pp=$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ') || true
    [ -z "$pp" ] || [ "$pp" = 1 ] || return 0
  done
  return 1
}
building() { pgrep -x cargo >/dev/null || pgrep rustc >/dev/null || ci_running; }

for p in $OPEN; do
  "$NS" echo 127.0.0.1 "$p" </dev/null >/dev/null 2>&1 & pids+=($!)
done
for p in $OPEN; do
  "$NS" connect -z --retry-for 10 127.0.0.1 "$p" || { echo "the echo server on $p did not start" >&2; exit 1; }
done
listening=$(ss -Hltn | awk '{n = split($4, a, ":"); print a[n]}' | sort -n | xargs)
[ "$listening" = "$OPEN" ] || { echo "listening in the namespace: $listening, expected $OPEN" >&2; exit 1; }

# run_once KIND: one scan by KIND; sets $secs, and $bad to "" or why the run failed; the
# open ports it reported are in $work/found, one a line, sorted.
run_once() {
  local kind=$1 rc=0 t0 t1 closed
  quiet
  rm -f "$work/out" "$work/err"
  t0=$(now)
  case $kind in
    nicksock|nicksock1024)
      local probes=256; [ "$kind" = nicksock1024 ] && probes=1024
      timeout $CAP "$NS" -v connect -z --max-probes $probes 127.0.0.1 1-65535 \
        >/dev/null 2>"$work/out" </dev/null || rc=$? ;;
    nmap) timeout $CAP nmap -sT -p- -T4 -oG - 127.0.0.1 >"$work/out" 2>"$work/err" </dev/null || rc=$? ;;
    nc) timeout $CAP nc -zv 127.0.0.1 1-65535 >/dev/null 2>"$work/out" </dev/null || rc=$? ;;
  esac
  t1=$(now)
  building && { echo "a build or CI run started during a measurement" >&2; BUSY=1; }
  secs=$(python3 -c "print($t1 - $t0)")
  case $kind in
    nmap)
      sed -n 's/.*Ports: \([^\t]*\).*/\1/p' "$work/out" | tr ',' '\n' |
        awk -F/ '$2 == "open" { print $1 + 0 }' | sort -n > "$work/found"
      closed=$(grep -o 'Ignored State: closed ([0-9]*)' "$work/out" | grep -o '[0-9]*' || echo 0) ;;
    *)
      sed -n 's/^Connection to 127\.0\.0\.1 \([0-9]*\) port \[tcp\/[^]]*\] succeeded!$/\1/p' "$work/out" |
        sort -n > "$work/found"
      closed=$(grep -c '^nc: connect to 127\.0\.0\.1 port [0-9]* (tcp) failed: Connection refused$' "$work/out" || true) ;;
  esac
  bad=""
  if [ "$rc" = 124 ]; then bad="capped at $CAP s"
  elif [ "$rc" != 0 ]; then bad="exit $rc: $(cat "$work/out" "$work/err" 2>/dev/null | head -c 200 | tr '\n' ' ')"
  elif [ "$(xargs < "$work/found")" != "$OPEN" ]; then bad="found $(xargs < "$work/found" | tr ' ' ,)"
  elif [ "$kind" != nicksock ] && [ "$kind" != nicksock1024 ] && [ "$closed" != 65532 ]; then
    bad="only $closed ports reported closed"
  fi
  [ -z "$bad" ] || echo "$kind: $bad" >&2
}

take_turns "$RUNS" nicksock nicksock1024 nmap nc
ratio() { python3 -c "print(f'{$1 / $2:.2f}×')"; }
row() { # row LABEL KIND
  local k=$2 right=yes secs=${MED[$2]}
  case ${FAIL[$k]:-} in
    "") ;;
    found*) right="no: failed (${FAIL[$k]})" ;;
    capped*) right="unknown: ${FAIL[$k]}"; secs="> $CAP (capped)" ;;
    *) right="failed (${FAIL[$k]})" ;;
  esac
  local pps; pps=$(python3 -c "print(f'{65535 / ${MED[$k]}:,.0f}')")
  [ "${FAIL[$k]:-}" = "capped at $CAP s" ] && pps="< $(python3 -c "print(f'{65535 / $CAP:,.0f}')")"
  echo "| $1 | $secs | $pps | $right | $(ratio "${MED[nicksock]}" "${MED[$k]}") | $(ratio "${MED[nicksock1024]}" "${MED[$k]}") |"
}
busy_note=""
[ "$BUSY" = 1 ] && busy_note="
**cargo/rustc or a CI run used the same cores during at least one measurement: the numbers are not trustworthy.**
"
section=$(cat <<MD
## scan

Measured by \`scripts/bench/scan.sh $RUNS\` on $(date -u +%Y-%m-%d), $(nproc) cores
($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r), release build;
$(nmap --version | head -1 | cut -d' ' -f1-3), $(nc -h 2>&1 | head -1).
A full TCP scan of 127.0.0.1, ports 1–65,535, in a network namespace of its own (\`unshare -n\`)
where exactly ports $(echo $OPEN | sed 's/ /, /g') listen (\`nicksock echo\`) and the kernel picks source ports in
$(sysctl -n net.ipv4.ip_local_port_range | tr '\t' '-'). Scanners: \`nicksock -v connect -z [--max-probes 1024] 127.0.0.1 1-65535\`
(256 probes at once by default), \`nmap -sT -p- -T4 -oG - 127.0.0.1\` (connect scan), OpenBSD
\`nc -zv 127.0.0.1 1-65535\` (one port after the other). Median of $RUNS runs, seconds from spawning
the scanner to its exit, the scanners taking turns; each at most $CAP s. Every run must report
exactly the open ports {$(echo $OPEN | sed 's/ /, /g')} (nicksock and nc: their \`Connection to … succeeded!\` lines; nmap:
\`open\` in the \`Ports:\` field), nmap and nc must also report the other 65,532 closed, and every
scanner must exit 0, else \`failed\`; a port the scanner's own probe connected to (source
port = destination port) would show up as an extra port. The ÷ columns are nicksock's time
over the row's: below 1 means nicksock is faster (the issue's target: faster than nmap).
$busy_note
| scanner | s for 65,535 ports | ports/s | found the right set | nicksock ÷ this | nicksock --max-probes 1024 ÷ this |
| --- | --- | --- | --- | --- | --- |
$(row "nicksock connect -z (256 at once)" nicksock)
$(row "nicksock connect -z --max-probes 1024" nicksock1024)
$(row "nmap -sT -T4" nmap)
$(row "OpenBSD nc -z (sequential)" nc)
MD
)
write_section scan "$section"
echo "$section"
[ -n "${SCAN_T0:-}" ] && echo "scripts/bench/scan.sh took $(( $(date +%s) - SCAN_T0 )) s after the build"
