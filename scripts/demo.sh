#!/usr/bin/env bash
# Build the host and the bundled providers, install the providers into plugins.d/, and run
# the host on the demo job set (demo/). Stops on Ctrl-C, or after DEMO_SECONDS if set.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p cronhost -p cronhost-provider-example

case "$(uname -s)" in
  Darwin) ext=dylib ;;
  MINGW*|MSYS*|CYGWIN*) ext=dll ;;
  *) ext=so ;;
esac
for lib in target/release/*cronhost_provider_*."$ext"; do
  install -m 0644 "$lib" plugins.d/
done
echo "installed into plugins.d/: $(cd plugins.d && ls ./*."$ext" | tr '\n' ' ')"

./target/release/cronhost --home demo providers

if [ -z "${DEMO_SECONDS:-}" ]; then
  echo "running the host on demo/jobs.toml; Ctrl-C stops it"
  exec ./target/release/cronhost --home demo run
fi

./target/release/cronhost --home demo run &
pid=$!
sleep "$DEMO_SECONDS"
kill -TERM "$pid"
wait "$pid"
echo "demo output:"
tail -n 3 demo/cron/output/heartbeat.log
