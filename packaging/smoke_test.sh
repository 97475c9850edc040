#!/usr/bin/env bash
# Smoke test of the built bundle (dist/fsorg), as a user without Python would run it, offline:
#   the app draws its window (--screenshot, offscreen) and the CLI inside the bundle runs
#   gather -> extract-features -> baseline predict -> generate-samples -> apply-classifications
#   -> train (2 fine-tuning steps) -> predict with the trained model, on a small real tree.
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

# Label a sample (the dev library's own labels where it has them, else the heuristic's guess),
# fine-tune for 2 steps and predict with the trained model: all inside the bundle.
run cli model generate-samples --storage "$data" --sample-size 40 --output-csv "$work/samples.csv"
python3 - "$work/samples.csv" "$ROOT/../shared/datasets/ttrpg-dev/folders.csv" <<'PY'
import csv, os, sys
samples, truth_csv = sys.argv[1], sys.argv[2]
truth = {}
if os.path.exists(truth_csv):
    with open(truth_csv, encoding="utf-8-sig", newline="") as fh:
        truth = {r["path"]: r["label"] for r in csv.DictReader(fh)}
with open(samples, encoding="utf-8-sig", newline="") as fh:
    rows = list(csv.DictReader(fh))
for r in rows:
    r["label"] = truth.get(r["path"]) or r["heuristic_prediction"] or "other"
with open(samples, "w", encoding="utf-8", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
PY
run cli model apply-classifications --storage "$data" --input-csv "$work/samples.csv"
printf '{"max_steps": 2}\n' > "$work/train.json"
run cli model train --storage "$data" --config "$work/train.json" --model-path "$work/model"
[ -f "$work/model/model.safetensors" ] || ls "$work/model" | grep -q . || { echo "smoke: no model saved" >&2; exit 1; }
printf '{"use_baseline": false, "labeled_only": false}\n' > "$work/trained_all.json"
run cli model predict --storage "$data" --config "$work/trained_all.json" --output-csv "$work/pred_trained.csv"
rows=$(($(wc -l < "$work/pred_trained.csv") - 1))
[ "$rows" -gt 0 ] || { echo "smoke: the trained model wrote no predictions" >&2; exit 1; }
echo "smoke: trained model (2 steps) predicted $rows folders"

run --storage "$data" --screenshot "$work/window.png"
[ -s "$work/window.png" ] || { echo "smoke: no screenshot" >&2; exit 1; }
mkdir -p "$ROOT/build"
cp "$work/window.png" "$ROOT/build/smoke_window.png"
echo "smoke: window drawn ($(stat -c %s "$work/window.png") bytes PNG, copied to build/smoke_window.png)"
echo "smoke: ok"
