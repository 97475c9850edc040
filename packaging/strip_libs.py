#!/usr/bin/env python3
"""Strip symbol tables and debug info from every ELF file in a bundle, safely.

    python3 packaging/strip_libs.py DIR     (slim_bundle.sh runs it on dist/fsorg)

``strip --strip-unneeded`` writes a stripped copy of each shared library / executable; the
copy replaces the original only when what the dynamic loader reads is byte-for-byte the same:
the ELF header (except where it points at the section headers), every program header (the TLS
block's size as rounded up to its alignment), and the file bytes of every loadable segment
(PT_LOAD: the dynamic symbol table, relocations, code, data). Only
sections nothing maps (``.symtab``, ``.strtab``, ``.debug_*``, ``.comment``) may go. Libraries
that auditwheel rewrote with patchelf (``numpy.libs``, ``scipy.libs``) are where a plain strip
used to move segments ("ELF load command address/offset not page-aligned"); this check keeps
the original of any file whose strip changes its mapped layout, so such a file is never
corrupted, whatever binutils does.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

PT_LOAD = 1
PT_TLS = 7


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def loader_view(data: bytes) -> tuple:
    """What the dynamic loader reads of an ELF64 little-endian file: header fields, program
    headers, and the bytes of each loadable segment (less the section-header fields of the ELF
    header and the program header table, which are compared as parsed values)."""
    if data[4] != 2 or data[5] != 1:  # ELFCLASS64, little-endian: all this bundle holds
        raise ValueError("not an ELF64 LSB file")
    (e_type, e_machine, _ver, e_entry, e_phoff, _shoff, _flags, _ehsize, e_phentsize, e_phnum) = (
        struct.unpack_from("<HHIQQQIHHH", data, 16)
    )
    blank = ((40, 48), (58, 64), (e_phoff, e_phoff + e_phnum * e_phentsize))  # e_shoff; e_sh*; phdrs
    phdrs = []
    segments = []
    for i in range(e_phnum):
        ph = list(struct.unpack_from("<IIQQQQQQ", data, e_phoff + i * e_phentsize))
        p_type, _pflags, p_offset, _vaddr, _paddr, p_filesz, p_memsz, p_align = ph
        if p_type == PT_TLS and p_align > 1:
            # strip may trim the TLS block's trailing padding (libtorch_cpu.so: 0x7b40 -> 0x7b08);
            # the loader and the linker's thread-pointer offsets use the size rounded up to
            # p_align, which is what must not change.
            ph[6] = -(-p_memsz // p_align) * p_align
        phdrs.append(tuple(ph))
        if p_type == PT_LOAD:
            seg = bytearray(data[p_offset : p_offset + p_filesz])
            for lo, hi in blank:
                lo, hi = max(lo - p_offset, 0), min(hi - p_offset, p_filesz)
                if lo < hi:
                    seg[lo:hi] = bytes(hi - lo)
            segments.append(bytes(seg))
    return (e_type, e_machine, e_entry, e_phoff, tuple(phdrs), tuple(segments))


def strip_one(path: Path) -> int:
    """Strip ``path`` in place when that leaves the loader's view unchanged; the bytes saved."""
    tmp = path.with_name(path.name + ".strip-tmp")
    try:
        done = subprocess.run(
            ["strip", "--strip-unneeded", "-o", str(tmp), str(path)], capture_output=True, check=False
        )
        if done.returncode != 0 or not tmp.exists():
            return 0
        before, after = path.read_bytes(), tmp.read_bytes()
        if len(after) >= len(before) or loader_view(before) != loader_view(after):
            return 0
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
        return len(before) - len(after)
    except (ValueError, struct.error):
        return 0
    finally:
        tmp.unlink(missing_ok=True)


def main() -> int:
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        print("usage: strip_libs.py DIR", file=sys.stderr)
        return 2
    if shutil.which("strip") is None:
        print("[strip] no strip on PATH: libraries left as they are", file=sys.stderr)
        return 0
    saved = stripped = kept = 0
    for path in sorted(Path(sys.argv[1]).rglob("*")):
        if path.is_symlink() or not path.is_file() or not _is_elf(path):
            continue
        n = strip_one(path)
        saved += n
        stripped += n > 0
        kept += n == 0
    print(
        f"[strip] {stripped} ELF files stripped ({saved / 1e6:.0f} MB); {kept} left as they were "
        "(nothing to strip, or stripping would change what the loader maps)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
