#!/usr/bin/env bash
# bench/run.sh: measure hooknote's intake against two reference servers, on
# this machine, in about 4 minutes with the defaults.
#
#   bench/run.sh                       # everything
#   ROUNDS=5 DURATION=20s bench/run.sh # longer
#
# Closed loop (CONNS connections, DURATION each), alternating per round:
#   bare      bench/baseline -mode bare    read the body, answer 200
#   verify    bench/baseline -mode verify  + Standard Webhooks check + json decode
#   ack       hooknote, one rule that never matches: verify, decode, dedupe,
#             durable record (fsync), 200
#   deliver   hooknote, every webhook matches a rule with a webhook notifier
#             that delivers to loadgen's sink (ack→delivery latency)
# Then an open loop at RATE req/s for verify, ack and deliver (latency from
# the scheduled send time), then a CPU profile of hooknote per PROFILE mode.
#
# The server runs on core SERVER_CPU, the load generator on LOAD_CPU
# (taskset). Each hooknote run gets a fresh config and state dir under
# bench/.run/<timestamp>/ (same disk as the project). fsyncs are counted with
# `perf stat` tracepoints when perf can; every output is kept in the run dir.
#
# Environment (defaults): ROUNDS=3 DURATION=10s CONNS=32 RATE=500
# OPEN_DURATION=10s (OPEN=0: no open loop) WAIT=5s (deliveries still due after the load)
# SERVER_CPU=0 LOAD_CPU=1 PROFILE=ack ("ack deliver", or "" for none)
# LOG_LEVEL=info (hooknote's, as shipped; it logs one line per webhook)
# PORT=19187 ADMIN_PORT=19188 SINK_PORT=19189 PPROF_PORT=19190
# NICE (unset): run the whole benchmark at this priority (e.g. -10, as
# root) so that other work on a shared machine disturbs it less: under
# `nice`, and, where the kernel groups tasks per session (autogroup), in a
# session of its own whose autogroup gets the same nice value.
# QUIET_PCT=10 QUIET_MAX=20: before each run, wait up to QUIET_MAX seconds
# for a second in which the machine is busy less than QUIET_PCT% of one core
# (other processes would be measured too; the "other%" column shows how much
# CPU they took during each run).
set -euo pipefail
if [ -n "${NICE:-}" ] && [ -z "${BENCH_SESSION:-}" ] && command -v setsid >/dev/null; then
  BENCH_SESSION=1 exec setsid -w "$0" "$@"
fi
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bench/.bin
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10s} CONNS=${CONNS:-32}
RATE=${RATE:-500} OPEN=${OPEN:-1} OPEN_DURATION=${OPEN_DURATION:-10s} WAIT=${WAIT:-5s}
SERVER_CPU=${SERVER_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
PROFILE=${PROFILE-ack} LOG_LEVEL=${LOG_LEVEL:-info}
QUIET_PCT=${QUIET_PCT:-10} QUIET_MAX=${QUIET_MAX:-20}
PORT=${PORT:-19187} ADMIN_PORT=${ADMIN_PORT:-19188}
SINK_PORT=${SINK_PORT:-19189} PPROF_PORT=${PPROF_PORT:-19190}
SECRET=whsec_bm90aWZpZXItdGVzdC1zZWNyZXQtMjRi
URL="http://127.0.0.1:$PORT/webhooks/replicate?customId=bench"
RUN=$ROOT/bench/.run/$(date +%Y%m%d-%H%M%S)
RESULTS=$RUN/results.txt
mkdir -p "$BIN" "$RUN"
: >"$RESULTS"

say() { printf '%s\n' "$*" >&2; }

# ── build ───────────────────────────────────────────────────────────────────
say "==> build into bench/.bin/ (run dir: ${RUN#"$ROOT"/})"
go build -o "$BIN/hooknote" .
go build -o "$BIN/baseline" ./bench/baseline
go build -o "$BIN/loadgen" ./bench/loadgen
go build -o "$BIN/fsynclat" ./bench/fsynclat
printf '{"Replace":{"%s":"%s"}}\n' "$ROOT/zz_bench_pprof.go" "$ROOT/bench/overlay/pprof.go.txt" >"$RUN/overlay.json"
go build -overlay "$RUN/overlay.json" -o "$BIN/hooknote-pprof" .

# ── pinning and fsync counting ─────────────────────────────────────────────
PIN_S=() PIN_L=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_S=(taskset -c "$SERVER_CPU") PIN_L=(taskset -c "$LOAD_CPU")
  PINNING="server on CPU $SERVER_CPU, load generator on CPU $LOAD_CPU (taskset)"
else
  PINNING="NOT pinned (no taskset or fewer than 2 CPUs): server and load share the CPUs; figures are not comparable to pinned ones"
  say "warning: $PINNING"
fi
if [ -n "${NICE:-}" ]; then
  PIN_S=(nice -n "$NICE" "${PIN_S[@]}") PIN_L=(nice -n "$NICE" "${PIN_L[@]}")
  PINNING="$PINNING, nice $NICE"
  if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
    if echo "$NICE" >/proc/self/autogroup 2>/dev/null; then
      PINNING="$PINNING (own autogroup)"
    else
      say "warning: cannot set this session's autogroup nice; NICE has little effect against other sessions"
    fi
  fi
fi
PERF=0
if command -v perf >/dev/null && perf stat -e syscalls:sys_enter_fdatasync -- true >/dev/null 2>&1; then
  PERF=1
else
  say "note: perf cannot count syscall tracepoints here: fsyncs per request are not reported"
fi

{
  echo "host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr)"
  echo "go: $(go version | cut -d' ' -f3-); hooknote $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
  echo "pinning: $PINNING"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "start: $("$BIN/fsynclat" -dir "$RUN" -n 500)"
} | tee "$RUN/host.txt" >&2

# ── servers ─────────────────────────────────────────────────────────────────
SPID='' WRAPPER=''
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; true; }
trap cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server DIR CMD...: runs CMD pinned (under perf stat when possible),
# sets SPID to the server's pid and waits until PORT accepts connections.
start_server() {
  local dir=$1; shift
  if port_open "$PORT"; then say "error: 127.0.0.1:$PORT is already in use"; exit 1; fi
  if [ "$PERF" = 1 ]; then
    "${PIN_S[@]}" perf stat -x, -o "$dir/perf.txt" \
      -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -- "$@" >"$dir/server.log" 2>&1 &
    WRAPPER=$!
    SPID=''
    for _ in $(seq 100); do
      SPID=$(cat "/proc/$WRAPPER/task/$WRAPPER/children" 2>/dev/null | awk '{print $1}')
      [ -n "$SPID" ] && break
      sleep 0.02
    done
  else
    "${PIN_S[@]}" "$@" >"$dir/server.log" 2>&1 &
    WRAPPER=$! SPID=$!
  fi
  for _ in $(seq 200); do
    port_open "$PORT" && return 0
    sleep 0.05
  done
  say "error: server did not start; its log:"; cat "$dir/server.log" >&2; exit 1
}

stop_server() {
  kill -TERM "$SPID" 2>/dev/null || true
  wait "$WRAPPER" 2>/dev/null || true
  SPID=''
}

# hooknote_config DIR MODE: a config for ack or deliver in DIR/config.toml.
hooknote_config() {
  local dir=$1 mode=$2
  local rule='name = "never"
status = ["succeeded"]
query = { customId = "never-matches" }'
  [ "$mode" = deliver ] && rule='name = "all"
status = ["succeeded"]'
  cat >"$dir/config.toml" <<EOF
[server]
listen = "127.0.0.1:$PORT"
admin_listen = "127.0.0.1:$ADMIN_PORT"
[replicate]
secret = "$SECRET"
[state]
dir = "$dir/state"
[log]
level = "$LOG_LEVEL"
[notifiers.sink]
type = "webhook"
url = "http://127.0.0.1:$SINK_PORT/sink"
[[rules]]
$rule
notify = ["sink"]
EOF
}

# server_cmd DIR NAME: the command line of server NAME (bare, verify, ack,
# deliver), writing any config into DIR.
server_cmd() {
  local dir=$1 name=$2
  case $name in
    bare | verify) CMD=("$BIN/baseline" -mode "$name" -listen "127.0.0.1:$PORT" -secret "$SECRET") ;;
    ack | deliver) hooknote_config "$dir" "$name"; CMD=("$BIN/hooknote" serve -config "$dir/config.toml") ;;
  esac
}

# busy_ticks: CPU ticks (1/100 s) every process has spent busy since boot.
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $9; exit}' /proc/stat; }

# wait_quiet: wait (at most QUIET_MAX seconds) for a quiet second.
wait_quiet() {
  local t0 t1 pct waited=0
  while :; do
    t0=$(busy_ticks); sleep 1; t1=$(busy_ticks)
    pct=$((t1 - t0))
    [ "$pct" -lt "$QUIET_PCT" ] && return 0
    waited=$((waited + 1))
    if [ "$waited" -ge "$QUIET_MAX" ]; then
      say "    warning: the machine is busy (${pct}% of one core in the last second) before this run; measuring anyway"
      return 0
    fi
  done
}

kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# measure LABEL NAME LOADGEN-ARGS...: one server run; appends a RESULT line.
measure() {
  local label=$1 name=$2; shift 2
  local dir=$RUN/$label
  mkdir -p "$dir"
  server_cmd "$dir" "$name"
  start_server "$dir" "${CMD[@]}"
  wait_quiet
  local idle
  idle=$(kb "$SPID" VmRSS)
  local sink=()
  [ "$name" = deliver ] && sink=(-sink "127.0.0.1:$SINK_PORT" -wait "$WAIT")
  "${PIN_L[@]}" "$BIN/loadgen" -url "$URL" -secret "$SECRET" -pid "$SPID" -label "$label" "${sink[@]}" "$@" \
    >"$dir/loadgen.txt" 2>&1 || { cat "$dir/loadgen.txt" >&2; stop_server; exit 1; }
  stop_server
  local fsyncs=-
  if [ "$PERF" = 1 ] && [ -s "$dir/perf.txt" ]; then
    fsyncs=$(awk -F, '/syscalls:sys_enter_f/ {n += $1} END {print n + 0}' "$dir/perf.txt")
  fi
  echo "$(grep '^RESULT' "$dir/loadgen.txt") server=$name idle_kb=$idle fsyncs=$fsyncs" >>"$RESULTS"
  grep -E '^(requests|latency|server|deliveries|ack→dlv|other)' "$dir/loadgen.txt" | sed 's/^/    /' >&2 || true
}

# ── closed loop ─────────────────────────────────────────────────────────────
for r in $(seq "$ROUNDS"); do
  for name in bare verify ack deliver; do
    say "==> round $r: $name, closed loop, $CONNS connections, $DURATION"
    measure "closed-$r-$name" "$name" -c "$CONNS" -d "$DURATION"
  done
done

# ── open loop ───────────────────────────────────────────────────────────────
for name in verify ack deliver; do
  [ "$OPEN" = 0 ] && break
  say "==> open loop at $RATE req/s: $name, $OPEN_DURATION"
  measure "open-$name" "$name" -rate "$RATE" -d "$OPEN_DURATION"
done

# ── tables ──────────────────────────────────────────────────────────────────
echo "end:   $("$BIN/fsynclat" -dir "$RUN" -n 500)" | tee -a "$RUN/host.txt" >&2
cat "$RUN/host.txt"
awk -v pinning="$PINNING" -f "$ROOT/bench/table.awk" "$RESULTS" | tee "$RUN/table.txt"

# ── CPU profiles of the real daemon ─────────────────────────────────────────
for mode in $PROFILE; do
  dir=$RUN/profile-$mode
  mkdir -p "$dir"
  say "==> CPU profile of hooknote ($mode mode, closed loop, $DURATION)"
  hooknote_config "$dir" "$mode"
  export HOOKNOTE_BENCH_PPROF=127.0.0.1:$PPROF_PORT
  start_server "$dir" "$BIN/hooknote-pprof" serve -config "$dir/config.toml"
  unset HOOKNOTE_BENCH_PPROF
  wait_quiet
  sink=()
  [ "$mode" = deliver ] && sink=(-sink "127.0.0.1:$SINK_PORT" -wait "$WAIT")
  "${PIN_L[@]}" "$BIN/loadgen" -url "$URL" -secret "$SECRET" -pid "$SPID" -label "profile-$mode" "${sink[@]}" \
    -c "$CONNS" -d "$DURATION" >"$dir/loadgen.txt" 2>&1 &
  lg=$!
  secs=$(( ${DURATION%s} > 4 ? ${DURATION%s} - 2 : 2 ))
  sleep 1
  "${PIN_L[@]}" go tool pprof -proto -seconds "$secs" -output "$dir/cpu.pb.gz" \
    "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile" >"$dir/fetch.log" 2>&1 || cat "$dir/fetch.log" >&2
  wait "$lg" || true
  stop_server
  grep -E '^(requests|server)' "$dir/loadgen.txt" >&2 || true
  echo "--- hooknote $mode: go tool pprof -top -nodecount=25 (flat) ---"
  go tool pprof -top -nodecount=25 "$BIN/hooknote-pprof" "$dir/cpu.pb.gz" 2>/dev/null | tee "$dir/top.txt"
  go tool pprof -top -cum -nodecount=40 "$BIN/hooknote-pprof" "$dir/cpu.pb.gz" >"$dir/top-cum.txt" 2>/dev/null || true
done
say "==> done; everything is in ${RUN#"$ROOT"/}"
