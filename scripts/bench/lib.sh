# Helpers the benchmark scripts share (sourced, not run): a scratch directory with its
# clean-up, a loopback port, waiting for a listener, the time, and MB/s.

# bench_workdir NAME: sets $work to a new directory in /dev/shm and $pids to an empty list;
# on exit, the processes in $pids are ended (by PID) and the directory removed.
bench_workdir() {
  work=$(mktemp -d "/dev/shm/$1.XXXXXX")
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
}

# A loopback TCP port that was free a moment ago (benchmarks only: tests hold their ports).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits (bounded) until something listens on TCP port $1.
wait_port() {
  for _ in $(seq 1 200); do
    ss -Hltn "sport = :$1" | grep -q . && return 0
    sleep 0.05
  done
  echo "nothing listens on $1" >&2; return 1
}
now() { date +%s.%N; }
# mbps MIB T0 T1: MB/s for MIB mebibytes moved between times T0 and T1.
mbps() { python3 -c "print(round($1*1.048576/($3-$2)))"; }

# write_section TITLE TEXT: replaces BENCHMARKS.md's "## TITLE" section with TEXT (or adds it
# at the end).
write_section() {
  python3 - "$1" "$2" <<'PY'
import pathlib, re, sys
title, section = sys.argv[1], sys.argv[2].rstrip() + "\n"
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text()
pattern = re.compile(r"^## " + re.escape(title) + r"\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
path.write_text(text)
PY
}

# building: whether a build runs (a script may redefine it to watch more, e.g. a CI run).
building() { pgrep -x cargo >/dev/null || pgrep rustc >/dev/null; }
# quiet: waits (bounded) until `building` says no: a build on the same cores makes a
# measurement worthless. If one still runs after 5 min, says so and sets BUSY (a script
# that also sees a build right after a measurement sets BUSY too: it may have overlapped).
quiet() {
  local i
  for i in $(seq 300); do
    building || return 0
    [ "$i" = 1 ] && echo "waiting for builds to finish…" >&2
    sleep 1
  done
  echo "builds still running after 5 min: measuring anyway" >&2
  BUSY=1
}

# take_turns RUNS KIND...: RUNS rounds in which each KIND runs once (`run_once KIND`, which
# sets $secs and $bad); fills TIMES[KIND] (the seconds of every run), FAIL[KIND] (the first
# failure), MED[KIND] (the median, to 2 decimals) and MEDIAN[KIND] (to the nanosecond, for
# rates), and prints them.
take_turns() {
  local runs=$1 r k
  shift
  declare -gA TIMES FAIL MED MEDIAN
  for r in $(seq "$runs"); do
    echo "run $r of $runs…"
    for k in "$@"; do
      run_once "$k"
      TIMES[$k]="${TIMES[$k]:-} $secs"
      [ -n "$bad" ] && [ -z "${FAIL[$k]:-}" ] && FAIL[$k]=$bad
    done
  done
  for k in "$@"; do
    MEDIAN[$k]=$(python3 -c "import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))" ${TIMES[$k]})
    MED[$k]=$(python3 -c "print(f'{${MEDIAN[$k]}:.2f}')")
    echo "$k: ${TIMES[$k]} s → median ${MED[$k]}${FAIL[$k]:+ (${FAIL[$k]})}"
  done
}
