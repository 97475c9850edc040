#!/usr/bin/env bash
# fsorg developer entry point: sets everything up (idempotent, fast on a second run), then
#   bash scripts/dev.sh [--storage DIR]  -> starts the desktop app (fsorg-desktop) [on that data folder]
#   bash scripts/dev.sh test             -> runs the default test suite (+ import contracts, ruff)
#   bash scripts/dev.sh test-slow        -> runs only the slow tests (real training runs)
#   bash scripts/dev.sh cli ARGS         -> runs the command line (python organizer.py ARGS)
#   bash scripts/dev.sh setup            -> only sets up
# `app` and `cli` run in the caller's folder, so relative paths (a library, --storage DIR,
# --output-csv F) mean what the user typed; set-up and tests run in the checkout.
set -euo pipefail
CALLER=$(pwd)
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="${FSORG_VENV:-$ROOT/.venv}"  # FSORG_VENV: the tests point it at their own environment
what="${1:-app}"
case "$what" in
  -*) what=app ;;  # bash scripts/dev.sh --storage DIR: options for the app
  *) [ $# -gt 0 ] && shift ;;
esac

log() { printf '[fsorg setup] %s\n' "$*" >&2; }

find_python() {
  for py in "${FSORG_PYTHON:-}" python3.11 python3.12 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  log "fsorg needs Python 3.11 or 3.12 (python3.11 on PATH). Install it and run this again."
  exit 1
}

# Debian/Ubuntu libraries that Qt needs even offscreen (and for a real window: the xcb set).
qt_system_libs() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local pkgs="libgl1 libegl1 libxkbcommon0 libglib2.0-0 libfreetype6 libfontconfig1 libdbus-1-3"
  if [ -z "${CI:-}" ] && [ "${QT_QPA_PLATFORM:-}" != "offscreen" ]; then
    pkgs="$pkgs libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0"
  fi
  local missing=""
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  local sudo=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      log "Qt needs these system packages:$missing — install them (apt-get install$missing) and run again."
      exit 1
    fi
  fi
  log "installing system libraries Qt needs:$missing"
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  local out
  if ! out=$(DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing 2>&1 >/dev/null); then
    printf '%s\n' "$out" >&2
    if printf '%s' "$out" | grep -qiE "could not get lock|unable to acquire the dpkg|lock-frontend"; then
      log "another installer (apt, dpkg or the software updater) is running; try again in a minute."
    else
      log "installing$missing failed (above); install them yourself and run this again."
    fi
    exit 1
  fi
}

setup() {
  qt_system_libs
  if [ ! -x "$VENV/bin/python" ]; then
    local py; py=$(find_python)
    log "creating virtual environment in .venv with $py"
    "$py" -m venv "$VENV"
  fi
  # Reinstall only when the dependency pins changed.
  local stamp="$VENV/.fsorg-deps"
  local want; want=$(cat pyproject.toml scripts/constraints.txt | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing fsorg and its pinned dependencies (first run: a few minutes)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -c scripts/constraints.txt -e ".[dev]" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    echo "$want" > "$stamp"
  fi
}

[ "${FSORG_SKIP_SETUP:-}" = "1" ] || setup  # FSORG_SKIP_SETUP=1: the tests, which must not install
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
case "$what" in
  setup) log "ready: .venv" ;;
  app) cd "$CALLER"; PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$VENV/bin/python" -m fsorg_desktop "$@" ;;
  cli) cd "$CALLER"; exec "$VENV/bin/python" "$ROOT/organizer.py" "$@" ;;
  test|test-slow)
    export QT_QPA_PLATFORM=offscreen
    "$VENV/bin/lint-imports" --no-cache >/dev/null || "$VENV/bin/lint-imports" --no-cache
    "$VENV/bin/ruff" check --quiet engine fsorg_desktop tests bench organizer.py
    if [ "$what" = "test-slow" ]; then
      rc=0; "$VENV/bin/python" -m pytest -m slow "$@" || rc=$?
      # 5 = no test selected (e.g. -k matched no slow test): nothing failed.
      if [ "$rc" = 5 ]; then log "no slow test selected"; rc=0; fi
      exit "$rc"
    else
      exec "$VENV/bin/python" -m pytest "$@"
    fi ;;
  *) log "unknown command '$what' (use: app, test, test-slow, cli, setup)"; exit 2 ;;
esac
