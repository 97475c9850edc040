#!/usr/bin/env bash
# Smoke test of the built bundle (dist/fsorg), as a user without Python would run it, offline:
#   the app draws its window (--screenshot, offscreen) and the CLI inside the bundle runs
#   gather -> extract-features -> baseline predict on a small real tree.
# Usage: bash packaging/smoke_test.sh [DIST_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DIST="${1:-$ROOT/dist/fsorg}"
BIN="$DIST/fsorg"
[ -x "$BIN" ] || { echo "smoke: $BIN is missing; run bash packaging/build.sh first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A clean environment: no Python on PATH from the venv, no PYTHONPATH, no network hub, own HOME.
run() { env -i PATH=/usr/bin:/bin HOME="$work/home" QT_QPA_PLATFORM=offscreen LANG=C.UTF-8 "$BIN" "$@"; }

echo "smoke: version: $(run --version)"

# A small real tree: one creator's part of the dev library (empty files, real names).
listing="$ROOT/../shared/datasets/ttrpg-dev/files.txt"
if [ -f "$listing" ]; then
  grep -E '^library/(BattlemapsOfTheFrostmaiden|dnd-maps|zahi-cartography-free-maps|jb2a-extras)/' "$listing" > "$work/files.txt"
  python3 "$ROOT/../shared/datasets/materialize.py" "$work/files.txt" "$work/tree" >/dev/null
  tree="$work/tree/library"
else
  tree="$work/tree/library"
  mkdir -p "$tree/Tom Cartos/Maps/Forest Camp/night" "$tree/Tom Cartos/Tokens/Goblins" "$tree/Misc/2023"
  touch "$tree/Tom Cartos/Maps/Forest Camp/camp.jpg" "$tree/Tom Cartos/Maps/Forest Camp/night/camp_night.jpg" \
        "$tree/Tom Cartos/Tokens/Goblins/goblin.png" "$tree/Misc/2023/readme.txt"
fi

data="$work/data"
run cli gather "$tree" --storage "$data"
run cli model extract-features --storage "$data"
printf '{"use_baseline": true, "labeled_only": false}\n' > "$work/baseline_all.json"
run cli model predict --storage "$data" --config "$work/baseline_all.json" --output-csv "$work/pred.csv"
rows=$(($(wc -l < "$work/pred.csv") - 1))
[ "$rows" -gt 0 ] || { echo "smoke: no predictions written" >&2; exit 1; }
echo "smoke: baseline predicted $rows folders"

run --storage "$data" --screenshot "$work/window.png"
[ -s "$work/window.png" ] || { echo "smoke: no screenshot" >&2; exit 1; }
mkdir -p "$ROOT/build"
cp "$work/window.png" "$ROOT/build/smoke_window.png"
echo "smoke: window drawn ($(stat -c %s "$work/window.png") bytes PNG, copied to build/smoke_window.png)"
echo "smoke: ok"
