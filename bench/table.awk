# bench/table.awk: the tables of bench/run.sh, from its results.txt (one
# "RESULT key=value … server=NAME idle_kb=N fsyncs=N" line per run, and one
# "BACKLOG key=value …" line for the backlog phase).
# POSIX awk (mawk, gawk, busybox).
#   awk -v pinning="…" -f bench/table.awk bench/.run/<ts>/results.txt

function mb(kb) { return (kb == "" || kb == "-") ? "-" : sprintf("%.1f", kb / 1024) }
function mib(b) { return (b == "" || b == "-") ? "-" : sprintf("%.1f", b / 1048576) }
function secs(ms) { return (ms == "" || ms == "-") ? "-" : sprintf("%.1f", ms / 1000) }
function msf(us) { return us == "" ? "-" : sprintf("%.2f", us / 1000) }
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "" : a / b }
function fmtr(x) { return x == "" ? "-" : sprintf("%.2f", x) }
function num(x, f) { return (x == "" || x == "-") ? "-" : sprintf(f, x) }

# median of the n values m[1..n] ("" when none)
function median(m, n,    i, j, t) {
  if (n == 0) return ""
  for (i = 2; i <= n; i++) for (j = i; j > 1 && m[j - 1] > m[j]; j--) { t = m[j]; m[j] = m[j - 1]; m[j - 1] = t }
  return n % 2 ? m[(n + 1) / 2] : (m[n / 2] + m[n / 2 + 1]) / 2
}

$1 == "BACKLOG" {
  for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k); x = $i; sub(/^[^=]*=/, "", x); bl[k] = x }
  haveBacklog = 1
  next
}

$1 == "RESULT" {
  delete v
  for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k); x = $i; sub(/^[^=]*=/, "", x); v[k] = x }
  split(v["label"], parts, "-")
  kind = parts[1]; round = parts[2]; name = v["server"]
  fs = (v["fsyncs"] == "-" || v["reqs"] + 0 == 0) ? "-" : sprintf("%.3f", v["fsyncs"] / v["reqs"])
  dl = "-"; lat = "-"; sust = "-"; bk = "-"
  if (v["delivered"] != "") {
    dl = v["delivered"] "/" v["missing"]
    lat = msf(v["dlv_p50_us"]) "/" msf(v["dlv_p99_us"])
  }
  if (v["sustained_rps"] != "") {
    sust = sprintf("%.0f", v["sustained_rps"]) (v["kept_up"] == "0" ? "!" : "")
    bk = v["backlog_end"]
  }
  cpu = v["cpu_us_per_req"]
  cpuall = v["cpu_us_per_req_all"] == "" ? "-" : v["cpu_us_per_req_all"]
  if (kind == "closed") {
    rows[++nrows] = sprintf("%-5s %-8s %9.0f %9s %7s %7s %8s %8s %13s %7s %8s %6s %6s %13s %8s %11s",
      round, name, v["rps"], sust, msf(v["p50_us"]), msf(v["p99_us"]), cpu, cpuall,
      mb(v["rss_kb"]) "/" mb(v["hwm_kb"]), mb(v["idle_kb"]), fs,
      v["errors"] + v["non200"], v["other_cpu_pct"], dl, bk, lat)
    rps[round, name] = v["rps"]; cpus[round, name] = cpu
    if (v["sustained_rps"] != "") susts[round, name] = v["sustained_rps"]
    if (round > maxround) maxround = round
  } else if (kind == "open") {
    orows[++norows] = sprintf("%-8s %8.1f %7s %7s %7s %8s %8s %8s %6s %6s %13s %11s",
      name, v["rps"], msf(v["p50_us"]), msf(v["p90_us"]), msf(v["p99_us"]), msf(v["max_us"]),
      cpu, fs, v["errors"] + v["non200"], v["other_cpu_pct"], dl, lat)
  }
}

END {
  if (nrows) {
    print ""
    print "Closed loop (" pinning ")"
    printf "%-5s %-8s %9s %9s %7s %7s %8s %8s %13s %7s %8s %6s %6s %13s %8s %11s\n",
      "round", "server", "req/s", "sustained", "p50ms", "p99ms", "CPUus/r", "+dlv", "RSS MB/peak", "idleMB",
      "fsync/r", "errs", "other%", "dlv/missing", "backlog", "ack>dlv p50/p99ms"
    for (i = 1; i <= nrows; i++) print rows[i]
    print "(sustained, deliver: min(acks/s, deliveries/s landed by the end of the load + WAIT); \"!\": deliveries did"
    print " not keep up: some were missing, or more than 1 s of acks was still queued (backlog) when the load ended)"
    print ""
    print "Ratios, paired per round (hooknote / verify baseline; last column verify / bare)"
    printf "%-6s %10s %10s %14s %14s %12s %12s\n", "round", "ack req/s", "ack CPU/r", "deliver req/s", "deliver CPU/r", "sust/verify", "verify/bare"
    for (r = 1; r <= maxround; r++) {
      a[1] = ratio(rps[r, "ack"], rps[r, "verify"]); a[2] = ratio(cpus[r, "ack"], cpus[r, "verify"])
      a[3] = ratio(rps[r, "deliver"], rps[r, "verify"]); a[4] = ratio(cpus[r, "deliver"], cpus[r, "verify"])
      a[5] = ratio(susts[r, "deliver"], rps[r, "verify"])
      a[6] = ratio(rps[r, "verify"], rps[r, "bare"])
      printf "%-6s %10s %10s %14s %14s %12s %12s\n", r, fmtr(a[1]), fmtr(a[2]), fmtr(a[3]), fmtr(a[4]), fmtr(a[5]), fmtr(a[6])
      for (c = 1; c <= 6; c++) if (a[c] != "") col[c, ++ncol[c]] = a[c]
    }
    for (c = 1; c <= 6; c++) { delete m; for (j = 1; j <= ncol[c]; j++) m[j] = col[c, j]; med[c] = median(m, ncol[c] + 0) }
    printf "%-6s %10s %10s %14s %14s %12s %12s\n", "median", fmtr(med[1]), fmtr(med[2]), fmtr(med[3]), fmtr(med[4]), fmtr(med[5]), fmtr(med[6])
  }
  if (norows) {
    print ""
    print "Open loop (latency from the scheduled send time)"
    printf "%-8s %8s %7s %7s %7s %8s %8s %8s %6s %6s %13s %11s\n",
      "server", "req/s", "p50ms", "p90ms", "p99ms", "maxms", "CPUus/r", "fsync/r", "errs", "other%", "dlv/missing", "ack>dlv p50/p99ms"
    for (i = 1; i <= norows; i++) print orows[i]
  }
  if (haveBacklog) backlogTable()
  print ""
}

# backlogTable prints the BACKLOG line of the backlog phase (run.sh).
function backlogTable(    b) {
  print ""
  print "Backlog: " bl["jobs"] " webhooks sent while the sink hung (never answered), then a cold restart with the sink answering"
  print "  page cache dropped before each restart: " (bl["cache_dropped"] == "1" ? "yes" : "no (needs root and a writable /proc/sys/vm/drop_caches)")
  printf "  %-32s %12s %12s\n", "", "queued", "drained"
  printf "  %-32s %12s %12s\n", "jobs in the queue", bl["queued"], bl["queued_after"]
  printf "  %-32s %12s %12s\n", "state file MB", mib(bl["size_queued"]), mib(bl["size_drained"])
  printf "  %-32s %12s %12s\n", "restart ms: exec → port open", bl["restart_port_ms"], bl["restart2_port_ms"]
  printf "  %-32s %12s %12s\n", "restart ms: exec → /readyz 200", bl["restart_ready_ms"], bl["restart2_ready_ms"]
  printf "  %-32s %12s %12s\n", "stop ms: SIGTERM → exit", bl["stop_ms"], bl["stop2_ms"]
  printf "  %-32s %12s %12s\n", "CPU ms: exec → port open", bl["startup_cpu_ms"], bl["startup2_cpu_ms"]
  printf "  %-32s %s ms (→ /readyz 200: %s ms)\n", "start with no state file: port", bl["fresh_port_ms"], bl["fresh_ready_ms"]
  printf "  %-32s %s req/s (%s acked of %s sent; %s µs CPU/req; %s fsync/req; %s errors; other%% %s)\n", "ack rate while queuing",
    num(bl["ack_rps"], "%.0f"), bl["acked"], bl["jobs"], bl["queue_cpu_us_per_req"], bl["queue_fsync_per_req"], bl["queue_errors"], bl["queue_other_pct"]
  printf "  %-32s %s jobs/s (%s s from exec to an empty queue%s; %s jobs/s from the port opening)\n", "drain rate",
    bl["drain_rps"], secs(bl["drain_ms"]), (bl["drained"] == "1" ? "" : "; NOT DRAINED"), bl["drain_rps_port"]
  printf "  %-32s %s µs/job (port open → empty queue); %s fsync/job; other%% %s\n", "server CPU per drained job",
    bl["drain_cpu_us_per_job"], bl["drain_fsync_per_job"], bl["drain_other_pct"]
  printf "  %-32s %s delivered, %s duplicates (sink)\n", "sink during the drain", bl["sink_delivered"], bl["sink_dups"]
  printf "  %-32s %s MB (VmHWM; highest VmRSS sampled: %s MB; at the end: anon %s MB, file %s MB)\n", "RSS peak during the drain",
    mb(bl["drain_hwm_kb"]), mb(bl["drain_rss_max_kb"]), mb(bl["drain_anon_kb"]), mb(bl["drain_file_kb"])
  printf "  %-32s %s MB (anon %s MB, file %s MB; idle before queuing: %s MB)\n", "idle RSS after the drain",
    mb(bl["idle_kb_drained"]), mb(bl["idle_anon_kb_drained"]), mb(bl["idle_file_kb_drained"]), mb(bl["idle_kb_fresh"])
  printf "  %-32s %s MB (anon %s MB, file %s MB)\n", "idle RSS after its restart",
    mb(bl["idle_kb_restart2"]), mb(bl["idle_anon_kb_restart2"]), mb(bl["idle_file_kb_restart2"])
}
