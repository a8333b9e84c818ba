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
# the scheduled send time), then the backlog phase, then a CPU profile of
# hooknote per PROFILE mode.
#
# Backlog phase (BACKLOG jobs): hooknote in deliver mode against a sink that
# accepts connections and never answers (loadgen -sink-only -sink-hang), so
# its queue grows; BACKLOG unique webhooks are sent (closed loop). SIGTERM;
# the state file size and the queue depth are recorded; the page cache is
# dropped when possible, and hooknote restarts with the sink answering
# (loadgen -sink-only): the cold restart time (exec → intake port open, and
# → /readyz 200), the drain rate with no new load (exec → queue depth 0,
# polling /metrics every 200 ms), CPU per drained job, RSS during and after
# the drain; then the state file size after the drain, a second cold
# restart (of the drained state) and the idle RSS after it.
#
# The server runs on core SERVER_CPU, the load generator on LOAD_CPU
# (taskset). Each hooknote run gets a fresh config and state dir under
# bench/.run/<timestamp>/ (same disk as the project). fsyncs are counted with
# `perf stat` tracepoints when perf can; every output is kept in the run dir.
#
# Environment (defaults): ROUNDS=3 DURATION=10s CONNS=32 RATE=500
# OPEN_DURATION=10s (OPEN=0: no open loop) WAIT=5s (deliveries still due after the load)
# BACKLOG=100000 (jobs queued in the backlog phase; 0: no backlog phase)
# DRAIN_MAX=1800 (seconds: the longest the backlog drain is awaited)
# SERVER_CPU=0 LOAD_CPU=1 PROFILE=ack ("ack deliver", or "" for none)
# LOG_LEVEL=info (hooknote's, as shipped; it logs one line per webhook)
# PORT=19187 ADMIN_PORT=19188 SINK_PORT=19189 PPROF_PORT=19190
# BACKEND=bolt: hooknote's [state] backend; postgres runs every hooknote
# against a fresh database of the PostgreSQL at PG_URL (default
# postgres://root@127.0.0.1:5432; its database root administers), created per
# run and dropped after, and reports the CPU the postgres processes took per
# request.
# HOOKNOTE_BIN (unset): measure this hooknote binary instead of building one
# (e.g. an earlier revision, for a before/after table with the same method).
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
BACKLOG=${BACKLOG:-100000} DRAIN_MAX=${DRAIN_MAX:-1800}
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
if [ -n "${HOOKNOTE_BIN:-}" ]; then
  cp "$HOOKNOTE_BIN" "$BIN/hooknote"   # measure another build (e.g. an earlier revision) with this method
else
  go build -o "$BIN/hooknote" .
fi
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
SPID='' WRAPPER='' SINKPID='' PERFPID=''
cleanup() {
  local p
  for p in "$SPID" "$SINKPID" "$PERFPID"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  true
}
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
$(backend_keys "$dir")
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

# backend_keys DIR: the [state] keys of BACKEND; for postgres, a fresh
# database (named after DIR's run) is created first.
BACKEND=${BACKEND:-bolt}
PG_URL=${PG_URL:-postgres://root@127.0.0.1:5432}
PG_ADMIN=$PG_URL/root?sslmode=disable
PG_DBS=()
backend_keys() {
  [ "$BACKEND" = postgres ] || return 0
  local db="hooknote_bench_$(basename "$1" | tr -c 'a-z0-9\n' '_')_$$"
  psql -X -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >&2
  PG_DBS+=("$db")
  printf 'backend = "postgres"\ndsn = "%s"\n' "$PG_URL/$db?sslmode=disable"
}
drop_pg_dbs() {
  local db
  for db in "${PG_DBS[@]}"; do psql -X -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
}
trap drop_pg_dbs EXIT

# pg_ticks: CPU ticks (10 ms) every postgres process has used so far.
pg_ticks() {
  local n=0 f
  for f in /proc/[0-9]*/stat; do
    read -r line <"$f" 2>/dev/null || continue
    case $line in *"(postgres)"*) ;; *) continue ;; esac
    line=${line#*) }
    set -- $line
    n=$((n + ${12} + ${13}))
  done
  echo "$n"
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
  local pg0=0 pg_us=-
  [ "$BACKEND" = postgres ] && pg0=$(pg_ticks)
  "${PIN_L[@]}" "$BIN/loadgen" -url "$URL" -secret "$SECRET" -pid "$SPID" -label "$label" "${sink[@]}" "$@" \
    >"$dir/loadgen.txt" 2>&1 || { cat "$dir/loadgen.txt" >&2; stop_server; exit 1; }
  if [ "$BACKEND" = postgres ] && [ "$name" = ack -o "$name" = deliver ]; then
    local reqs
    reqs=$(awk '/^requests/ {print $2; exit}' "$dir/loadgen.txt")
    pg_us=$(( ($(pg_ticks) - pg0) * 10000 / (reqs > 0 ? reqs : 1) ))
    echo "postgres   ${pg_us} µs CPU/request in the postgres processes" >>"$dir/loadgen.txt"
  fi
  stop_server
  local fsyncs=-
  if [ "$PERF" = 1 ] && [ -s "$dir/perf.txt" ]; then
    fsyncs=$(awk -F, '/syscalls:sys_enter_f/ {n += $1} END {print n + 0}' "$dir/perf.txt")
  fi
  echo "$(grep '^RESULT' "$dir/loadgen.txt") server=$name idle_kb=$idle fsyncs=$fsyncs pg_us=$pg_us" >>"$RESULTS"
  grep -E '^(requests|latency|server|deliveries|sustained|ack→dlv|other|postgres)' "$dir/loadgen.txt" | sed 's/^/    /' >&2 || true
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

# ── backlog: queue, cold restart, drain ────────────────────────────────────
# stamp VAR: the wall clock in µs, into VAR (no fork with bash 5).
stamp() {
  if [ -n "${EPOCHREALTIME:-}" ]; then printf -v "$1" '%s' "${EPOCHREALTIME//[!0-9]/}"
  else printf -v "$1" '%s' "$(date +%s%6N)"; fi
}

# cpu_ticks PID: utime+stime of PID in ticks of 10 ms (/proc/PID/stat).
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# queue_depth: hooknote_queue_depth from the admin /metrics ("" if none).
queue_depth() {
  { curl -s --max-time 10 "http://127.0.0.1:$ADMIN_PORT/metrics" || true; } |
    awk '$1 == "hooknote_queue_depth" {printf "%d\n", $2 + 0}'
}

# wait_port PORT: wait (up to 10 s) until PORT accepts connections.
wait_port() {
  for _ in $(seq 500); do port_open "$1" && return 0; sleep 0.02; done
  say "error: nothing listens on 127.0.0.1:$1"; exit 1
}

# start_timed DIR CMD...: runs CMD pinned like start_server, but not under
# perf (which would delay the exec), and times it: UP_PORT_MS is exec →
# PORT accepting connections, UP_READY_MS exec → /readyz answering 200,
# UP_CPU_MS the server's CPU time when the port opened.
start_timed() {
  local dir=$1; shift
  local t0 t1 i code
  if port_open "$PORT"; then say "error: 127.0.0.1:$PORT is already in use"; exit 1; fi
  UP_PORT_MS='' UP_READY_MS='' UP_CPU_MS=''
  stamp t0
  "${PIN_S[@]}" "$@" >"$dir/server.log" 2>&1 &
  WRAPPER=$! SPID=$!
  for ((i = 0; i < 30000; i++)); do
    if port_open "$PORT"; then
      stamp t1; UP_PORT_MS=$(((t1 - t0) / 1000)); UP_CPU_MS=$(($(cpu_ticks "$SPID") * 10))
      break
    fi
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.01
  done
  if [ -z "$UP_PORT_MS" ]; then say "error: hooknote did not open its port; its log:"; tail -20 "$dir/server.log" >&2; exit 1; fi
  for ((i = 0; i < 30000; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$ADMIN_PORT/readyz" || true)
    if [ "$code" = 200 ]; then stamp t1; UP_READY_MS=$(((t1 - t0) / 1000)); break; fi
    sleep 0.01
  done
  UP_T0=$t0
  echo "exec → port open ${UP_PORT_MS} ms, → /readyz 200 ${UP_READY_MS:--} ms; CPU at port open ${UP_CPU_MS} ms" >"$dir/start.txt"
}

# stop_timed: SIGTERM the server and wait for it; DOWN_MS is how long.
stop_timed() {
  local t0 t1
  stamp t0
  stop_server
  stamp t1
  DOWN_MS=$(((t1 - t0) / 1000))
}

# wait_idle PID: give the server 2 s, then wait (up to 20 s more) for a
# second in which it uses at most one tick (10 ms) of CPU.
wait_idle() {
  local a b i
  sleep 2
  for i in $(seq 20); do
    a=$(cpu_ticks "$1"); sleep 1; b=$(cpu_ticks "$1")
    [ $((b - a)) -le 1 ] && return 0
  done
  say "    note: hooknote still busy after 22 s; measuring anyway"
}

# drop_caches: drop the page cache (root only); CACHE_DROPPED=1 if done.
drop_caches() {
  sync
  if (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then CACHE_DROPPED=1; else CACHE_DROPPED=0; fi
}

# perf_attach FILE / perf_detach: count the server's fsyncs while attached.
perf_attach() {
  PERFPID=''
  [ "$PERF" = 1 ] || return 0
  "${PIN_L[@]}" perf stat -x, -o "$1" -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p "$SPID" >/dev/null 2>&1 &
  PERFPID=$!
  sleep 0.2
}
perf_detach() {
  [ -n "$PERFPID" ] || return 0
  kill -INT "$PERFPID" 2>/dev/null || true
  wait "$PERFPID" 2>/dev/null || true
  PERFPID=''
}
fsyncs_in() { [ -s "$1" ] && awk -F, '/syscalls:sys_enter_f/ {n += $1} END {print n + 0}' "$1" || echo -; }

# per N D [FORMAT]: N / D (default format %.2f), or - when either is not a
# number or D is 0.
per() {
  awk -v n="$1" -v d="$2" -v f="${3:-%.2f}" \
    'BEGIN { if (n ~ /^[0-9.]+$/ && d ~ /^[0-9.]+$/ && d + 0 > 0) printf f "\n", n / d; else print "-" }'
}

# kv LINE KEY: the value of KEY=… in a RESULT line.
kv() { printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2; exit}'; }

backlog_phase() {
  local B=$RUN/backlog
  local db=$B/state/hooknote.db cfg=$B/config.toml res sres
  mkdir -p "$B/1-queue" "$B/2-drain" "$B/3-restart"
  hooknote_config "$B" deliver
  if ! command -v curl >/dev/null; then say "    skipped: the backlog phase needs curl"; return 0; fi
  local -A F=([jobs]=$BACKLOG)

  # a. queue BACKLOG jobs against a sink that never answers
  say "==> backlog: $BACKLOG webhooks to hooknote (deliver) while the sink hangs"
  "${PIN_L[@]}" "$BIN/loadgen" -sink-only "127.0.0.1:$SINK_PORT" -sink-hang -d 24h -label backlog-hang \
    >"$B/1-queue/sink.txt" 2>&1 &
  SINKPID=$!
  wait_port "$SINK_PORT"
  start_timed "$B/1-queue" "$BIN/hooknote" serve -config "$cfg"
  F[fresh_port_ms]=$UP_PORT_MS F[fresh_ready_ms]=${UP_READY_MS:--}
  wait_quiet
  F[idle_kb_fresh]=$(kb "$SPID" VmRSS)
  perf_attach "$B/1-queue/perf.txt"
  "${PIN_L[@]}" "$BIN/loadgen" -url "$URL" -secret "$SECRET" -pid "$SPID" -label backlog-queue \
    -c "$CONNS" -n "$BACKLOG" -d 1h >"$B/1-queue/loadgen.txt" 2>&1 || { cat "$B/1-queue/loadgen.txt" >&2; exit 1; }
  perf_detach
  res=$(grep '^RESULT' "$B/1-queue/loadgen.txt")
  local reqs non200 rps
  reqs=$(kv "$res" reqs) non200=$(kv "$res" non200) rps=$(kv "$res" rps)
  F[acked]=$((reqs - non200))
  F[ack_rps]=$(awk -v r="$rps" -v n="$reqs" -v a="${F[acked]}" 'BEGIN { printf "%.1f\n", n ? r * a / n : 0 }')
  F[queue_cpu_us_per_req]=$(kv "$res" cpu_us_per_req) F[queue_other_pct]=$(kv "$res" other_cpu_pct)
  F[queue_errors]=$(($(kv "$res" errors) + non200))
  F[queue_fsync_per_req]=$(per "$(fsyncs_in "$B/1-queue/perf.txt")" "$reqs")

  # b. the queue depth, SIGTERM, the state file's size
  F[queued]=$(queue_depth)
  F[queue_rss_kb]=$(kb "$SPID" VmRSS)
  stop_timed
  F[stop_ms]=$DOWN_MS
  kill -TERM "$SINKPID" 2>/dev/null || true
  wait "$SINKPID" 2>/dev/null || true
  SINKPID=''
  F[size_queued]=$(stat -c %s "$db")
  grep -E '^(requests|server|other)' "$B/1-queue/loadgen.txt" | sed 's/^/    /' >&2 || true
  say "    queued ${F[queued]} jobs; state file $((F[size_queued] / 1048576)) MiB; stop took ${F[stop_ms]} ms; $(grep '^sink-only' "$B/1-queue/sink.txt" | sed 's/^sink-only *//')"

  # c. cold restart with the sink answering
  wait_quiet
  drop_caches
  F[cache_dropped]=$CACHE_DROPPED
  [ "$CACHE_DROPPED" = 1 ] || say "    note: could not drop the page cache (needs root and a writable /proc/sys/vm/drop_caches): the restarts read a warm cache"
  "${PIN_L[@]}" "$BIN/loadgen" -sink-only "127.0.0.1:$SINK_PORT" -idle 3s -d "${DRAIN_MAX}s" -label backlog-drain \
    >"$B/2-drain/sink.txt" 2>&1 &
  SINKPID=$!
  wait_port "$SINK_PORT"
  say "==> backlog: restart with ${F[queued]} jobs queued, drain with no new load"
  start_timed "$B/2-drain" "$BIN/hooknote" serve -config "$cfg"
  F[restart_port_ms]=$UP_PORT_MS F[restart_ready_ms]=${UP_READY_MS:--} F[startup_cpu_ms]=$UP_CPU_MS

  # d. drain: poll the queue depth every 200 ms
  perf_attach "$B/2-drain/perf.txt"
  local cpu0 cpu1 busy0 busy1 sink0 sink1 tb0 tb1 now depth rss rssmax=0 drained=0
  stamp tb0
  cpu0=$((UP_CPU_MS / 10)) busy0=$(busy_ticks) sink0=$(cpu_ticks "$SINKPID") # server CPU: from the port opening
  echo "ms_since_exec depth rss_kb cpu_ticks" >"$B/2-drain/drain.txt"
  while :; do
    depth=$(queue_depth)
    stamp now
    rss=$(kb "$SPID" VmRSS)
    [ "${rss:-0}" -gt "$rssmax" ] && rssmax=$rss
    echo "$(((now - UP_T0) / 1000)) ${depth:--} ${rss:--} $(cpu_ticks "$SPID")" >>"$B/2-drain/drain.txt"
    if [ "$depth" = 0 ]; then drained=1; break; fi
    if [ $(((now - UP_T0) / 1000000)) -ge "$DRAIN_MAX" ]; then say "    warning: not drained after $DRAIN_MAX s"; break; fi
    sleep 0.2
  done
  cpu1=$(cpu_ticks "$SPID") busy1=$(busy_ticks) sink1=$(cpu_ticks "$SINKPID")
  stamp tb1
  perf_detach
  F[drained]=$drained
  F[drain_ms]=$(((now - UP_T0) / 1000))
  F[drain_rps]=$(per "${F[queued]}" "$(awk -v m="${F[drain_ms]}" 'BEGIN {print m / 1000}')" %.0f)
  F[drain_rps_port]=$(per "${F[queued]}" "$(awk -v m="$((F[drain_ms] - F[restart_port_ms]))" 'BEGIN {print m / 1000}')" %.0f)
  F[drain_cpu_us_per_job]=$(per "$(((cpu1 - cpu0) * 10000))" "${F[queued]}" %.1f)
  F[drain_fsync_per_job]=$(per "$(fsyncs_in "$B/2-drain/perf.txt")" "${F[queued]}")
  F[drain_other_pct]=$(awk -v b=$((busy1 - busy0)) -v s=$((cpu1 - cpu0)) -v k=$((sink1 - sink0)) -v us=$((tb1 - tb0)) \
    'BEGIN { printf "%.0f\n", (us > 0 ? 100 * (b - s - k) / (us / 10000) : 0) }')
  F[drain_hwm_kb]=$(kb "$SPID" VmHWM) F[drain_rss_max_kb]=$rssmax
  F[drain_anon_kb]=$(kb "$SPID" RssAnon) F[drain_file_kb]=$(kb "$SPID" RssFile)
  # The sink stops 3 s after its last delivery; without any, stop it.
  for _ in $(seq 50); do kill -0 "$SINKPID" 2>/dev/null || break; sleep 0.2; done
  kill -TERM "$SINKPID" 2>/dev/null || true
  wait "$SINKPID" 2>/dev/null || true
  SINKPID=''
  sres=$(grep '^RESULT' "$B/2-drain/sink.txt" || true)
  F[sink_delivered]=$(kv "$sres" delivered) F[sink_dups]=$(kv "$sres" dups)
  grep -E '^(sink-only|deliveries)' "$B/2-drain/sink.txt" | sed 's/^/    /' >&2 || true

  # e. idle after the drain; the state file; a second cold restart
  wait_idle "$SPID"
  F[idle_kb_drained]=$(kb "$SPID" VmRSS) F[idle_anon_kb_drained]=$(kb "$SPID" RssAnon) F[idle_file_kb_drained]=$(kb "$SPID" RssFile)
  F[queued_after]=$(queue_depth)
  stop_timed
  F[stop2_ms]=$DOWN_MS
  F[size_drained]=$(stat -c %s "$db")
  wait_quiet
  drop_caches
  [ "$CACHE_DROPPED" = 1 ] || F[cache_dropped]=0
  say "==> backlog: restart after the drain"
  start_timed "$B/3-restart" "$BIN/hooknote" serve -config "$cfg"
  F[restart2_port_ms]=$UP_PORT_MS F[restart2_ready_ms]=${UP_READY_MS:--} F[startup2_cpu_ms]=$UP_CPU_MS
  wait_idle "$SPID"
  F[idle_kb_restart2]=$(kb "$SPID" VmRSS) F[idle_anon_kb_restart2]=$(kb "$SPID" RssAnon) F[idle_file_kb_restart2]=$(kb "$SPID" RssFile)
  stop_timed
  F[stop3_ms]=$DOWN_MS

  local line=BACKLOG k
  for k in jobs fresh_port_ms fresh_ready_ms acked ack_rps queue_errors queue_cpu_us_per_req queue_fsync_per_req queue_other_pct queue_rss_kb \
    queued stop_ms size_queued cache_dropped restart_port_ms restart_ready_ms startup_cpu_ms \
    drained drain_ms drain_rps drain_rps_port drain_cpu_us_per_job drain_fsync_per_job drain_other_pct drain_hwm_kb drain_rss_max_kb \
    drain_anon_kb drain_file_kb sink_delivered sink_dups idle_kb_fresh \
    idle_kb_drained idle_anon_kb_drained idle_file_kb_drained queued_after size_drained stop2_ms \
    restart2_port_ms restart2_ready_ms startup2_cpu_ms idle_kb_restart2 idle_anon_kb_restart2 idle_file_kb_restart2 stop3_ms; do
    line="$line $k=${F[$k]:--}"
  done
  echo "$line" >>"$RESULTS"
  echo "$line" >"$B/backlog.txt"
}

if [ "$BACKLOG" != 0 ]; then
  backlog_phase
fi

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
