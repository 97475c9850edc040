"""packaging/strip_libs.py: stripping keeps what the dynamic loader maps, on real ELF files."""

from __future__ import annotations

import ctypes
import importlib.util
import shutil
import struct
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("strip_libs", ROOT / "packaging" / "strip_libs.py")
strip_libs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(strip_libs)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("strip") is None,
    reason="needs Linux and binutils' strip",
)


def _unstripped_extension() -> Path:
    """An extension module of the environment that still carries its symbol table."""
    for name in ("regex._regex", "yaml._yaml", "sqlalchemy.util._collections_cy"):  # pinned dependencies
        try:
            path = Path(importlib.import_module(name).__file__)
        except ImportError:
            continue
        if b".symtab" in path.read_bytes():
            return path
    pytest.fail("no extension module with a symbol table in this environment")


def test_strip_shrinks_a_library_and_it_still_loads(tmp_path):
    original = _unstripped_extension()
    lib = tmp_path / original.name
    shutil.copy2(original, lib)
    before = lib.read_bytes()

    saved = strip_libs.strip_one(lib)

    after = lib.read_bytes()
    assert saved == len(before) - len(after) > 0
    assert b".symtab" not in after
    assert strip_libs.loader_view(before) == strip_libs.loader_view(after)
    ctypes.CDLL(str(lib))  # the dynamic loader maps and links the stripped copy
    assert strip_libs.strip_one(lib) == 0  # nothing left to strip: the file stays as it is
    assert lib.read_bytes() == after


def test_loader_view_sees_a_change_in_mapped_bytes(tmp_path):
    data = bytearray(_unstripped_extension().read_bytes())
    view = strip_libs.loader_view(bytes(data))
    e_phoff, e_phentsize, e_phnum = (
        struct.unpack_from("<Q", data, 32)[0],
        *struct.unpack_from("<HH", data, 54),
    )
    loads = [struct.unpack_from("<IIQ", data, e_phoff + i * e_phentsize) for i in range(e_phnum)]
    last_load_offset = [off for p_type, _flags, off in loads if p_type == 1][-1]
    data[last_load_offset] ^= 0xFF  # one byte of the last loadable segment (code or data)
    assert strip_libs.loader_view(bytes(data)) != view


def test_main_strips_a_tree_and_leaves_other_files(tmp_path, capsys, monkeypatch):
    (tmp_path / "sub").mkdir()
    lib = tmp_path / "sub" / "lib.so"
    shutil.copy2(_unstripped_extension(), lib)
    text = tmp_path / "notes.txt"
    text.write_text("not an ELF file", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["strip_libs.py", str(tmp_path)])

    assert strip_libs.main() == 0

    assert b".symtab" not in lib.read_bytes()
    assert text.read_text(encoding="utf-8") == "not an ELF file"
    assert "1 ELF files stripped" in capsys.readouterr().err


def test_main_refuses_a_missing_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["strip_libs.py", str(tmp_path / "nope")])
    assert strip_libs.main() == 2
    assert "usage" in capsys.readouterr().err
