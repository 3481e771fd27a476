#!/usr/bin/env bash
# CPU per fire of a cronhost binary, for A/B runs of two builds on this machine:
#   scripts/cpu-per-fire.sh BINARY [SECONDS]
# Makes a home of 1,000 jobs `S * * * * *` running `true` (about 17 due each second; the peer
# bench's job set), runs `BINARY run` on a fresh copy of it, and after a warm-up (WARM, 6 s:
# the start's catch-up) reads the daemon's CPU (utime + stime, /proc/PID/stat) over SECONDS
# (40), then the runs scheduled in that window from the store. Prints the fires, the CPU
# seconds per 1,000 fires and the lateness p50/p99/max. The machine's speed drifts: compare
# two builds only in alternating runs (A B A B), never against a figure from another hour.
set -euo pipefail
bin="$(realpath "$1")"; seconds="${2:-40}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
home="$work/home"; mkdir -m 700 "$home"
for i in $(seq 0 999); do
  "$bin" --home "$home" jobs add "$((i % 60)) * * * * *" --name "job-$i" -- true >/dev/null
done
sync
"$bin" --home "$home" run >/dev/null 2>"$work/log" &
pid=$!
sleep "${WARM:-6}"
t0=$(date +%s%3N); c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
sleep "$seconds"
t1=$(date +%s%3N); c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
kill -TERM "$pid"; wait "$pid" || true
python3 - "$home/cron/cronhost.db" "$t0" "$t1" "$c0" "$c1" "$(getconf CLK_TCK)" <<'PY'
import sqlite3, sys
db, t0, t1, c0, c1, hz = sys.argv[1], *map(int, sys.argv[2:])
late = sorted(r[0] for r in sqlite3.connect(db).execute(
    "SELECT lateness_ms FROM runs WHERE scheduled_at >= ? AND scheduled_at < ? AND lateness_ms IS NOT NULL",
    (t0, t1)))
n = len(late)
pct = lambda p: late[min(n - 1, round((n - 1) * p))] if n else 0
print(f"fires {n}  CPU s per 1,000 fires {(c1 - c0) / hz * 1000 / max(n, 1):.3f}  "
      f"lateness ms p50 {pct(.5)} p99 {pct(.99)} max {late[-1] if n else 0}")
PY
