#!/usr/bin/env bash
# Build the native bundle and the Linux .deb:
#   bash packaging/build.sh            -> dist/fsorg/fsorg  (+ dist/fsorg_<version>_amd64.deb on Linux)
#   bash packaging/build.sh --no-deb   -> only the bundle
#   bash packaging/build.sh --deb-only -> only the .deb, from an existing dist/fsorg
# Sizes are printed in MB (10^6 bytes). FSORG_DEB_FAST=1: zstd instead of xz for the .deb.
# Uses the project's .venv (created by scripts/dev.sh) plus PyInstaller from the `packaging` extra;
# FSORG_PY=/path/to/python builds with that interpreter's environment instead (no setup step).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
make_deb=1
make_bundle=1
[ "${1:-}" = "--no-deb" ] && make_deb=0
[ "${1:-}" = "--deb-only" ] && make_bundle=0
start=$(date +%s)

if [ -n "${FSORG_PY:-}" ]; then
  PY="$FSORG_PY"
else
  bash scripts/dev.sh setup
  PY="$ROOT/.venv/bin/python"
fi
if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  echo "[build] installing PyInstaller (packaging extra)" >&2
  "$PY" -m pip install -q --disable-pip-version-check -c scripts/constraints.txt -e ".[packaging]" \
      2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
fi
VERSION=$("$PY" -c "import engine; print(engine.__version__)")

if [ "$make_bundle" = 1 ]; then
  echo "[build] PyInstaller bundle (fsorg $VERSION)" >&2
  rm -rf dist/fsorg
  "$PY" -m PyInstaller --noconfirm --log-level WARN \
      --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" packaging/fsorg.spec 2>&1 \
    | grep -v -E "DeprecationWarning|^  __import__" >&2 || true
  [ -x dist/fsorg/fsorg ] || { echo "[build] PyInstaller failed: no dist/fsorg/fsorg" >&2; exit 1; }
  bash packaging/slim_bundle.sh dist/fsorg
fi
echo "[build] bundle: dist/fsorg ($(( $(du -sb dist/fsorg | cut -f1) / 1000000 )) MB unpacked)" >&2

if [ "$make_deb" = 1 ] && [ "$(uname -s)" = "Linux" ] && command -v dpkg-deb >/dev/null; then
  arch=$(dpkg --print-architecture)
  stage="$ROOT/build/deb/fsorg_${VERSION}_${arch}"
  rm -rf "$stage"
  mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
           "$stage/usr/share/icons/hicolor/256x256/apps" "$stage/usr/share/icons/hicolor/scalable/apps"
  cp -a dist/fsorg "$stage/opt/fsorg"
  cat > "$stage/usr/bin/fsorg" <<'SH'
#!/bin/sh
# fsorg launcher: the app, or `fsorg cli ...` for the command line. Never goes online.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
exec /opt/fsorg/fsorg "$@"
SH
  chmod 755 "$stage/usr/bin/fsorg"
  # In the .deb the app is /usr/bin/fsorg (the pip install names it fsorg-desktop).
  sed 's/^Exec=.*/Exec=fsorg/' resources/fsorg.desktop > "$stage/usr/share/applications/fsorg.desktop"
  chmod 644 "$stage/usr/share/applications/fsorg.desktop"
  install -m 644 resources/icons/fsorg.png "$stage/usr/share/icons/hicolor/256x256/apps/fsorg.png"
  [ -f resources/icons/fsorg.svg ] && install -m 644 resources/icons/fsorg.svg "$stage/usr/share/icons/hicolor/scalable/apps/fsorg.svg"
  installed_kb=$(du -sk "$stage" | cut -f1)
  cat > "$stage/DEBIAN/control" <<CTRL
Package: fsorg
Version: $VERSION
Section: graphics
Priority: optional
Architecture: $arch
Installed-Size: $installed_kb
Maintainer: fsorg developers <fsorg@localhost>
Depends: libc6 (>= 2.28), libgl1, libegl1, libxkbcommon0, libxkbcommon-x11-0, libglib2.0-0, libfreetype6, libfontconfig1, libdbus-1-3, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0
Homepage: https://example.invalid/fsorg
Description: organize chaotic asset libraries with a small offline classifier
 fsorg scans a messy library of tabletop-RPG maps, tokens and assets, lets you
 label a small diverse sample of its folders, and labels every folder as
 creator, subject, descriptor, asset type or other. Runs offline; the sentence
 model is included.
CTRL
  cat > "$stage/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q /usr/share/applications || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q /usr/share/icons/hicolor || true
exit 0
SH
  chmod 755 "$stage/DEBIAN/postinst"
  # xz -6 (dpkg's default level) makes the smallest .deb: 11 % smaller than zstd -9 here, but
  # it takes 4-8 minutes on 2 cores; FSORG_DEB_FAST=1 uses zstd -9 (seconds) for a quick local
  # package. xz -9 is not worth it: under 1 % smaller, twice as slow, 2 GB of memory.
  if [ "${FSORG_DEB_FAST:-0}" = 1 ]; then deb_z=(-Zzstd -z9); else deb_z=(-Zxz -z6); fi
  echo "[build] compressing the .deb (${deb_z[*]})" >&2
  dpkg-deb --root-owner-group "${deb_z[@]}" --build "$stage" "dist/fsorg_${VERSION}_${arch}.deb" >/dev/null
  echo "[build] deb: dist/fsorg_${VERSION}_${arch}.deb ($(( $(stat -c %s "dist/fsorg_${VERSION}_${arch}.deb") / 1000000 )) MB)" >&2
fi
echo "[build] done in $(( $(date +%s) - start )) s" >&2
