# bench/table.awk: the tables of bench/run.sh, from its results.txt (one
# "RESULT key=value … server=NAME idle_kb=N fsyncs=N" line per run).
# POSIX awk (mawk, gawk, busybox).
#   awk -v pinning="…" -f bench/table.awk bench/.run/<ts>/results.txt

function mb(kb) { return kb == "" ? "-" : sprintf("%.1f", kb / 1024) }
function msf(us) { return us == "" ? "-" : sprintf("%.2f", us / 1000) }
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "" : a / b }
function fmtr(x) { return x == "" ? "-" : sprintf("%.2f", x) }

# median of the n values m[1..n] ("" when none)
function median(m, n,    i, j, t) {
  if (n == 0) return ""
  for (i = 2; i <= n; i++) for (j = i; j > 1 && m[j - 1] > m[j]; j--) { t = m[j]; m[j] = m[j - 1]; m[j - 1] = t }
  return n % 2 ? m[(n + 1) / 2] : (m[n / 2] + m[n / 2 + 1]) / 2
}

$1 == "RESULT" {
  delete v
  for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k); x = $i; sub(/^[^=]*=/, "", x); v[k] = x }
  split(v["label"], parts, "-")
  kind = parts[1]; round = parts[2]; name = v["server"]
  fs = (v["fsyncs"] == "-" || v["reqs"] + 0 == 0) ? "-" : sprintf("%.3f", v["fsyncs"] / v["reqs"])
  dl = "-"; lat = "-"
  if (v["delivered"] != "") {
    dl = v["delivered"] "/" v["missing"]
    lat = msf(v["dlv_p50_us"]) "/" msf(v["dlv_p99_us"])
  }
  cpu = v["cpu_us_per_req"]
  cpuall = v["cpu_us_per_req_all"] == "" ? "-" : v["cpu_us_per_req_all"]
  if (kind == "closed") {
    rows[++nrows] = sprintf("%-5s %-8s %9.0f %7s %7s %8s %8s %13s %7s %8s %6s %6s %13s %11s",
      round, name, v["rps"], msf(v["p50_us"]), msf(v["p99_us"]), cpu, cpuall,
      mb(v["rss_kb"]) "/" mb(v["hwm_kb"]), mb(v["idle_kb"]), fs,
      v["errors"] + v["non200"], v["other_cpu_pct"], dl, lat)
    rps[round, name] = v["rps"]; cpus[round, name] = cpu
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
    printf "%-5s %-8s %9s %7s %7s %8s %8s %13s %7s %8s %6s %6s %13s %11s\n",
      "round", "server", "req/s", "p50ms", "p99ms", "CPUus/r", "+dlv", "RSS MB/peak", "idleMB",
      "fsync/r", "errs", "other%", "dlv/missing", "ack>dlv p50/p99ms"
    for (i = 1; i <= nrows; i++) print rows[i]
    print ""
    print "Ratios, paired per round (hooknote / verify baseline; last column verify / bare)"
    printf "%-6s %10s %10s %14s %14s %12s\n", "round", "ack req/s", "ack CPU/r", "deliver req/s", "deliver CPU/r", "verify/bare"
    for (r = 1; r <= maxround; r++) {
      a[1] = ratio(rps[r, "ack"], rps[r, "verify"]); a[2] = ratio(cpus[r, "ack"], cpus[r, "verify"])
      a[3] = ratio(rps[r, "deliver"], rps[r, "verify"]); a[4] = ratio(cpus[r, "deliver"], cpus[r, "verify"])
      a[5] = ratio(rps[r, "verify"], rps[r, "bare"])
      printf "%-6s %10s %10s %14s %14s %12s\n", r, fmtr(a[1]), fmtr(a[2]), fmtr(a[3]), fmtr(a[4]), fmtr(a[5])
      for (c = 1; c <= 5; c++) if (a[c] != "") col[c, ++ncol[c]] = a[c]
    }
    for (c = 1; c <= 5; c++) { delete m; for (j = 1; j <= ncol[c]; j++) m[j] = col[c, j]; med[c] = median(m, ncol[c] + 0) }
    printf "%-6s %10s %10s %14s %14s %12s\n", "median", fmtr(med[1]), fmtr(med[2]), fmtr(med[3]), fmtr(med[4]), fmtr(med[5])
  }
  if (norows) {
    print ""
    print "Open loop (latency from the scheduled send time)"
    printf "%-8s %8s %7s %7s %7s %8s %8s %8s %6s %6s %13s %11s\n",
      "server", "req/s", "p50ms", "p90ms", "p99ms", "maxms", "CPUus/r", "fsync/r", "errs", "other%", "dlv/missing", "ack>dlv p50/p99ms"
    for (i = 1; i <= norows; i++) print orows[i]
  }
  print ""
}
