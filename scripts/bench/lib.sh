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
