#!/usr/bin/env bash
# Re-checks the systemd and croniter columns of docs/dst-comparison.md.
#
#   scripts/dst-peers.sh            # systemd-analyze from PATH, croniter $CRONITER_VERSION
#   CRONITER_VERSION=6.0.0 scripts/dst-peers.sh
#   SKIP_CRONITER=1 scripts/dst-peers.sh   # or SKIP_SYSTEMD=1
#
# systemd: `systemd-analyze calendar --iterations=N --base-time=...` walks OnCalendar= the way a
# running timer does (each elapse computed from the previous one). Each spec is run with the
# zone in TZ (prints local and UTC) and again with the zone as a suffix of the spec; the script
# says whether the two agree. croniter: installed with pip into a throwaway venv, walked with
# get_next from zone-aware datetimes (zoneinfo, then pytz; the script says whether they agree).
# The cronie column comes from reading its source (see the document), not from this script.
set -euo pipefail

CRONITER_VERSION=${CRONITER_VERSION:-7.0.0}

section() { printf '\n=== %s\n' "$*"; }

# cal N BASE ZONE SPEC: the next N elapses after BASE (a UTC time), SPEC read in ZONE.
cal() {
    local n=$1 base=$2 zone=$3 spec=$4 local_form suffix_form
    printf -- "--- TZ=%s systemd-analyze calendar --iterations=%s --base-time='%s' '%s'\n" \
        "$zone" "$n" "$base UTC" "$spec"
    local_form=$(TZ=$zone systemd-analyze calendar --iterations="$n" --base-time="$base UTC" "$spec" |
        grep -v 'From now')
    printf '%s\n' "$local_form"
    suffix_form=$(systemd-analyze calendar --iterations="$n" --base-time="$base UTC" "$spec $zone" |
        grep -v 'From now')
    if [[ "$(grep -o '[0-9-]* [0-9:]* UTC' <<<"$local_form")" == \
        "$(grep -o '[0-9-]* [0-9:]* UTC' <<<"$suffix_form")" ]]; then
        printf "    (same UTC instants with the zone as a suffix: '%s')\n" "$spec $zone"
    else
        printf '    DIFFERENT with the zone as a suffix:\n%s\n' "$suffix_form"
    fi
}

if [[ -n "${SKIP_SYSTEMD:-}" ]]; then
    :
elif command -v systemd-analyze >/dev/null; then
    section "systemd: $(systemd-analyze --version | head -n1)"
    section "1. fixed time in the spring-forward gap"
    cal 3 '2026-03-07 12:00:00' America/New_York '*-*-* 02:30:00'
    cal 3 '2026-03-28 12:00:00' Europe/Berlin '*-*-* 02:30:00'
    section "2. several times in the gap"
    cal 6 '2026-03-07 12:00:00' America/New_York '*-*-* 02:00,15,30,45:00'
    section "3. fixed time in the repeated hour (from before it; from inside each pass)"
    cal 3 '2026-10-31 12:00:00' America/New_York '*-*-* 01:30:00'
    cal 2 '2026-11-01 05:30:00' America/New_York '*-*-* 01:30:00'
    cal 2 '2026-11-01 06:00:00' America/New_York '*-*-* 01:30:00'
    section "4. wildcard hour in the repeated hour (from before it; from inside the second pass)"
    cal 4 '2026-11-01 04:00:00' America/New_York '*-*-* *:30:00'
    cal 9 '2026-11-01 04:50:00' America/New_York '*-*-* *:00/15:00'
    cal 2 '2026-11-01 06:00:00' America/New_York '*-*-* *:30:00'
    cal 3 '2026-11-01 06:00:00' America/New_York '*-*-* *:00/15:00'
    section "4b. wildcard hour in the spring-forward gap"
    cal 3 '2026-03-08 06:40:00' America/New_York '*-*-* *:00/15:00'
    section "5. Pacific/Apia skipped 2011-12-30"
    cal 3 '2011-12-28 23:00:00' Pacific/Apia '*-*-* 12:00:00'
    cal 3 '2011-12-28 23:00:00' Pacific/Apia '*-*-* 00:00:00'
    cal 1 '2011-12-28 23:00:00' Pacific/Apia '*-12-30 12:00:00'
    cal 1 '2011-12-28 23:00:00' Pacific/Apia '*-12-30 00:00:00'
else
    section "systemd: systemd-analyze not found, skipped"
fi

if [[ -n "${SKIP_CRONITER:-}" ]]; then
    exit 0
fi

venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "croniter==$CRONITER_VERSION" pytz

"$venv/bin/python" - <<'PY'
import importlib.metadata as meta
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytz
from croniter import croniter

versions = ", ".join(f"{p} {meta.version(p)}" for p in ("croniter", "python-dateutil", "pytz"))
print(f"\n=== croniter: {versions}, Python {sys.version.split()[0]}")

CASES = [
    ("1. fixed time in the gap", "30 2 * * *", "America/New_York", (2026, 3, 7, 12, 0), 3),
    ("1. fixed time in the gap", "30 2 * * *", "Europe/Berlin", (2026, 3, 28, 12, 0), 3),
    ("2. several times in the gap", "0,15,30,45 2 * * *", "America/New_York", (2026, 3, 7, 12, 0), 6),
    ("3. fixed time, repeated hour", "30 1 * * *", "America/New_York", (2026, 10, 31, 12, 0), 3),
    ("4. wildcard hour, repeated hour", "30 * * * *", "America/New_York", (2026, 11, 1, 0, 0), 4),
    ("4. wildcard hour, repeated hour", "*/15 * * * *", "America/New_York", (2026, 11, 1, 0, 50), 10),
    ("4b. wildcard hour, gap", "*/15 * * * *", "America/New_York", (2026, 3, 8, 1, 40), 3),
    ("5. Apia", "0 12 * * *", "Pacific/Apia", (2011, 12, 28, 13, 0), 3),
    ("5. Apia", "0 0 * * *", "Pacific/Apia", (2011, 12, 28, 13, 0), 3),
    ("5. Apia", "0 12 30 12 *", "Pacific/Apia", (2011, 12, 28, 13, 0), 1),
    ("5. Apia", "0 0 30 12 *", "Pacific/Apia", (2011, 12, 28, 13, 0), 1),
]


def walk(expr, zone, start, n):
    it = croniter(expr, start)
    out = []
    for _ in range(n):
        t = it.get_next(datetime)
        at = t.astimezone(timezone.utc)
        real = at.astimezone(ZoneInfo(zone))  # the local time of that instant
        line = f"{at.strftime('%Y-%m-%d %H:%MZ')} = {real.strftime('%Y-%m-%d %H:%M')} {real.isoformat()[-6:]}"
        if t.replace(tzinfo=None) != real.replace(tzinfo=None):
            line += f"  (croniter returned {t.isoformat()}, a wall time that is not the instant's)"
        out.append(line)
    return out


for label, expr, zone, (y, mo, d, h, mi), n in CASES:
    start_zi = datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(zone))
    start_pytz = pytz.timezone(zone).localize(datetime(y, mo, d, h, mi))
    print(f"--- {label}: croniter({expr!r}, {start_zi.isoformat()} {zone}).get_next() x{n}")
    zi = walk(expr, zone, start_zi, n)
    for line in zi:
        print(f"    {line}")
    pz = walk(expr, zone, start_pytz, n)
    if [line.split(" = ")[0] for line in pz] == [line.split(" = ")[0] for line in zi]:
        print("    (same instants with a pytz start)")
    else:
        print("    DIFFERENT with a pytz start:")
        for line in pz:
            print(f"    {line}")
PY
