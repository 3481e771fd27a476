#!/usr/bin/env bash
# Build the host and the bundled providers, install the providers into plugins.d/, and run
# the host on the sample job set in the home demo/: its config demo/cronhost.toml, its job store
# demo/cron/cronhost.db (the sample jobs are added there once), job output in
# demo/cron/output/. Stops on Ctrl-C, or after DEMO_SECONDS if set.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p cronhost-cli -p cronhost-provider-example -p cronhost-provider-postgres

case "$(uname -s)" in
  Darwin) ext=dylib ;;
  MINGW*|MSYS*|CYGWIN*) ext=dll ;;
  *) ext=so ;;
esac
# Plugins load only from a directory nobody else may write to (see README, "vetting").
chmod go-w plugins.d
for lib in target/release/*cronhost_provider_*."$ext"; do
  install -m 0644 "$lib" plugins.d/
done
echo "installed into plugins.d/: $(cd plugins.d && ls ./*."$ext" | tr '\n' ' ')"

# The home, like ~/.ssh for sshd, must be writable by nobody else (README, "Security model").
home=demo
config="$home/cronhost.toml"
store="$home/cron/cronhost.db"
chmod go-w "$home"
cronhost="./target/release/cronhost --home $home"
$cronhost providers

# The sample job set (added once; the store keeps it between runs).
add() { $cronhost jobs show "$1" >/dev/null 2>&1 || $cronhost jobs add --name "$1" "${@:2}" >/dev/null; }
add hello '*/2 * * * * *' --shell -- 'echo "$(date -u +%H:%M:%S.%N) hello from cronhost"'
add disk-usage 'every 5s' -- df -h /
add nightly 'every day at 3am' --tz Europe/Berlin --timeout 600 -- sh -c 'echo nightly work'
$cronhost jobs list

# Name only files that are there.
for file in "$config" "$store"; do
  [ -f "$file" ] || { echo "demo: $file is missing" >&2; exit 1; }
done
echo "running the host in $home/: config $config, jobs in $store, their output in $home/cron/output/"
if [ -z "${DEMO_SECONDS:-}" ]; then
  echo "Ctrl-C stops it"
  exec $cronhost run
fi

$cronhost run &
pid=$!
sleep "$DEMO_SECONDS"
kill -TERM "$pid"
wait "$pid"
$cronhost runs --limit 5
$cronhost status || true
