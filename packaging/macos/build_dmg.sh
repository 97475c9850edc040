#!/usr/bin/env bash
# macOS: turn dist/fsorg.app (made by `pyinstaller packaging/fsorg.spec` on a Mac) into a .dmg.
# Untested here (no macOS machine). Needs `brew install create-dmg`.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=$(python -c "import engine; print(engine.__version__)")
[ -d dist/fsorg.app ] || { echo "dist/fsorg.app is missing: run pyinstaller packaging/fsorg.spec first" >&2; exit 1; }
rm -f "dist/fsorg-${VERSION}.dmg"
create-dmg \
  --volname "fsorg ${VERSION}" \
  --volicon resources/icons/fsorg.icns \
  --window-size 540 360 \
  --icon-size 96 \
  --icon "fsorg.app" 140 170 \
  --app-drop-link 400 170 \
  --hide-extension "fsorg.app" \
  "dist/fsorg-${VERSION}.dmg" dist/fsorg.app
