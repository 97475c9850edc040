"""The proposed layout: where every folder that holds files goes in the new tree.

A template such as ``{creator}/{asset_type}/{subject}/{variant}`` is rendered for each
folder with files (a *placement*). Placeholders:

``{creator}``     nearest creator_or_studio folder (``_unknown creator`` when none)
``{asset_type}``  nearest asset_type folder (``_unknown type``)
``{subject}``     the enclosing subjects down to the item, variant groups by their
                  group name (may be several folders deep; ``_no subject``)
``{item}``        the item's own (group) name only
``{variant}``     the item's variant in its group, then the folders inside the item
                  (asset-type folders left out); empty segments are dropped
``{tags}``        the descriptor folders above the item, as folders
``{first_tag}``   the first of them

Conflicts are found and resolved **deterministically** (input order) before anything
is written, and listed:

* ``bad_name``  a name the filesystem refuses (``<>:"\\|?*``, control characters,
  trailing dots/spaces, ``CON``/``NUL``…, ``.``/``..``, over 255 bytes): replaced;
* ``same_target`` two folders to one path (compared case-insensitively, as on
  Windows/macOS): the later one gets `` (2)``, `` (3)``…;
* ``too_long``  the path (plus its longest file name) over ``max_path`` bytes: the
  longest components are shortened with a stable hash; ``unresolved`` if still too long;
* ``exists``    the target folder already exists and is not empty: suffixed like
  ``same_target`` (apply never writes into someone else's files).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.jobs import UserError, check_stop, never_stop, no_progress
from engine.organize.catalogue import Catalogue, Item

DEFAULT_TEMPLATE = "{creator}/{asset_type}/{subject}/{variant}"
PLACEHOLDERS = ("creator", "asset_type", "subject", "item", "variant", "tags", "first_tag")
MISSING = {
    "creator": "_unknown creator",
    "asset_type": "_unknown type",
    "subject": "_no subject",
    "item": "_no subject",
    "tags": "",
    "first_tag": "",
    "variant": "",
}
DEFAULT_MAX_PATH = 1024  # bytes: macOS's PATH_MAX, and far under Linux's 4096
MAX_NAME = 255  # bytes per name on every common filesystem
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_FIELD = re.compile(r"\{([^{}]*)\}")


@dataclass
class Placement:
    folder_id: int
    source: str  # relative to the library root, '/' separators ('' = the root itself)
    target: str  # relative to the target root
    files: int
    item_id: int
    creator: str
    asset_type: str
    subject: str
    variant: str
    rule: str  # why it is grouped ('' when not in a variant group)
    status: str  # the item's status (ok / unknown / abstained / unlabelled)
    conflict: str = ""  # what was changed to resolve a conflict ('' = nothing)


@dataclass
class Conflict:
    kind: str  # bad_name | same_target | too_long | exists | unresolved
    source: str
    target_before: str
    target_after: str
    message: str


@dataclass
class Layout:
    template: str
    target_root: str
    placements: list[Placement]
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(p.files for p in self.placements)

    @property
    def unresolved(self) -> list[Conflict]:
        return [c for c in self.conflicts if c.kind == "unresolved"]


def check_template(template: str) -> list[str]:
    """The template's segments; a UserError naming the problem when it is not usable."""
    t = template.strip().strip("/")
    if not t:
        raise UserError("The template is empty. Example: {creator}/{asset_type}/{subject}/{variant}")
    if t.count("{") != t.count("}"):
        raise UserError(f"The template {template!r} has unbalanced braces.")
    for name in _FIELD.findall(t):
        if name not in PLACEHOLDERS:
            raise UserError(
                f"Unknown placeholder {{{name}}} in the template. Use: " + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            )
    if "{subject}" not in t and "{item}" not in t:
        raise UserError("The template needs {subject} or {item}: otherwise different items land in one folder.")
    if "{variant}" not in t:
        raise UserError("The template needs {variant}: otherwise an item's variants land in one folder.")
    segs = [s for s in t.split("/")]
    if any(not s.strip() or s.strip() in (".", "..") for s in segs):
        raise UserError(f"The template {template!r} has an empty, '.' or '..' folder.")
    return segs


@functools.lru_cache(maxsize=1 << 16)
def safe_name(name: str) -> tuple[str, str]:
    """(a name every common filesystem accepts, why it changed or '')."""
    why = []
    out = _BAD_CHARS.sub("_", name)
    if out != name:
        why.append("characters the filesystem refuses")
    stripped = out.rstrip(" .")
    if stripped != out:
        why.append("trailing dot or space")
        out = stripped
    out = out.strip()
    if not out or out in (".", ".."):
        out, why = "_", [*why, "empty name"]
    if out.split(".")[0].lower() in _RESERVED:
        out = "_" + out
        why.append("reserved name on Windows")
    if len(out.encode("utf-8", "surrogateescape")) > MAX_NAME:
        out = _shorten(out, MAX_NAME)
        why.append(f"longer than {MAX_NAME} bytes")
    return out, "; ".join(why)


def _shorten(name: str, max_bytes: int) -> str:
    tag = "~" + hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:6]
    keep = name
    while len((keep + tag).encode("utf-8", "surrogateescape")) > max_bytes and keep:
        keep = keep[:-1]
    return keep.rstrip(" .") + tag


def compile_template(segs: list[str]) -> list[list[tuple[str, str | None]]]:
    """Each segment as (literal, field or None) pieces, parsed once."""
    out = []
    for seg in segs:
        pieces: list[tuple[str, str | None]] = []
        pos = 0
        for m in _FIELD.finditer(seg):
            pieces.append((seg[pos : m.start()], m.group(1)))
            pos = m.end()
        pieces.append((seg[pos:], None))
        out.append(pieces)
    return out


def _render(compiled, values: dict[str, str]) -> list[str]:
    """Render each template segment; values holding '/' expand into several folders."""
    out: list[str] = []
    for pieces in compiled:
        if len(pieces) == 2 and not pieces[0][0] and not pieces[1][0]:  # a bare "{field}" segment
            val = values.get(pieces[0][1], "")
            if val:
                out.extend(x for x in (p.strip() for p in val.split("/")) if x)
            continue
        parts: list[str] = [""]
        for lit, name in pieces:
            parts[-1] += lit
            if name is not None:
                val = values.get(name, "")
                sub = val.split("/") if val else [""]
                parts[-1] += sub[0]
                parts.extend(sub[1:])
        out.extend(p for p in (x.strip() for x in parts) if p)
    return out


def _undecodable(cat: Catalogue) -> set[int]:
    """Folders whose path holds a name that is not valid UTF-8 (the plan CSV cannot name them)."""
    bad: set[int] = set()
    if all(f.raw_name is None for f in cat.folders.values()):
        return bad
    for f in sorted(cat.folders.values(), key=lambda f: f.depth):
        if f.raw_name is not None or (f.parent is not None and f.parent in bad):
            bad.add(f.id)
    return bad


def _item_values(cat: Catalogue, it: Item) -> dict[str, str]:
    """The placeholders shared by every folder of one item."""
    g = cat.group_of(it)
    item_name = g.display if g is not None else (it.subject[-1] if it.subject else "")
    outer = _outer_subjects(cat, it)
    subject = "/".join([*outer, item_name]) if item_name else ""
    inner = _inner_tags(it) if it.kind != "folder" else set()
    tags = [t for t in it.tags if t not in inner]
    return {
        "creator": it.creator or MISSING["creator"],
        "subject": subject or MISSING["subject"],
        "item": item_name or MISSING["item"],
        "tags": "/".join(tags),
        "first_tag": tags[0] if tags else "",
        "_variant": it.variant if (g is not None and it.variant) else "",
        "_asset_type": it.asset_types[0] if it.asset_types else MISSING["asset_type"],
    }


def _values(base: dict[str, str], m) -> dict[str, str]:
    variant = [base["_variant"]] if base["_variant"] else []
    variant.extend(m.inner)
    return {
        **base,
        "asset_type": m.asset_type or base["_asset_type"],
        "variant": "/".join(v for v in variant if v),
    }


def _outer_subjects(cat: Catalogue, it: Item) -> list[str]:
    """Names of the enclosing subject items (by their group name when grouped), outermost first."""
    chain: list[str] = []
    by_id = cat.item_index()
    p = by_id.get(it.parent_item) if it.parent_item is not None else None
    if p is not None and it.group is not None and it.group == p.group:
        # A nested variant of its parent ("01_barn/02_barn_missing_sheep") sits beside it.
        p = by_id.get(p.parent_item) if p.parent_item is not None else None
    while p is not None:
        g = cat.group_of(p)
        chain.append(g.display if g is not None else p.name)
        p = by_id.get(p.parent_item) if p.parent_item is not None else None
    chain.reverse()
    return chain


def _inner_tags(it: Item) -> set[str]:
    inner: set[str] = set()
    for m in it.members:
        inner.update(m.inner)
    return inner


def _longest_file_names(settings, folder_ids: list[int]) -> dict[int, int]:
    """Bytes of the longest file name in each folder (for the path-length check)."""
    out: dict[int, int] = {}
    if not folder_ids:
        return out
    con = sqlite3.connect(f"file:{settings.index_db}?mode=ro", uri=True)
    try:
        con.execute("CREATE TEMP TABLE want(id INTEGER PRIMARY KEY)")
        con.executemany("INSERT INTO want VALUES (?)", ((i,) for i in folder_ids))
        for fid, n in con.execute(
            "SELECT f.folder_id, max(length(CAST(f.name AS BLOB))) FROM files f JOIN want w ON w.id = f.folder_id "
            "GROUP BY f.folder_id"
        ):
            out[fid] = n or 0
    finally:
        con.close()
    return out


def propose(
    cat: Catalogue,
    target_root: str | os.PathLike,
    template: str = DEFAULT_TEMPLATE,
    *,
    settings=None,
    max_path: int = DEFAULT_MAX_PATH,
    progress=no_progress,
    should_stop=never_stop,
) -> Layout:
    """Place every folder with files; resolve and list the conflicts (nothing is written)."""
    segs = compile_template(check_template(template))
    target_root = str(Path(target_root).expanduser().absolute())
    root = str(Path(cat.root).absolute())
    if os.path.abspath(target_root) == os.path.abspath(root):
        raise UserError("The target is the library root itself. Choose a new folder (e.g. next to the library).")
    placements: list[Placement] = []
    conflicts: list[Conflict] = []
    by_group = {g.id: g for g in cat.groups}
    n_items = max(len(cat.items), 1)
    undecodable = _undecodable(cat)
    for n, it in enumerate(cat.items):
        if n % 5000 == 0:
            check_stop(should_stop)
            progress(0.8 * n / n_items, f"Placing {n:,} of {n_items:,} items")
        g = by_group.get(it.group) if it.group is not None else None
        base = _item_values(cat, it) if it.members else None
        for m in it.members:
            vals = _values(base, m)
            comps = _render(segs, vals)
            safe: list[str] = []
            why_all: list[str] = []
            for c in comps:
                s, why = safe_name(c)
                safe.append(s)
                if why:
                    why_all.append(f"{c!r} -> {s!r} ({why})")
            target = "/".join(safe)
            p = Placement(
                m.folder_id, m.rel_path, target, m.files, it.id, vals["creator"], vals["asset_type"],
                vals["subject"], vals["variant"], g.rule if g is not None else "", it.status,
            )
            if why_all:
                p.conflict = "bad name: " + "; ".join(why_all)
                conflicts.append(Conflict("bad_name", m.rel_path, "/".join(comps), target, p.conflict))
            if m.folder_id in undecodable:
                msg = "its path has a name that is not valid UTF-8: rename that folder and scan again"
                p.conflict = "; ".join(x for x in (p.conflict, "unresolved: " + msg) if x)
                conflicts.append(Conflict("unresolved", m.rel_path, target, target, msg))
            placements.append(p)
    progress(0.8, "Checking for conflicts")
    if settings is not None:
        longest = _longest_file_names(settings, [p.folder_id for p in placements])
        _resolve_too_long(placements, conflicts, target_root, longest, max_path)
    check_stop(should_stop)
    _resolve_same_target(placements, conflicts, target_root)
    progress(1.0, f"{len(placements):,} folders placed, {len(conflicts):,} conflicts resolved")
    return Layout(template, target_root, placements, conflicts)


def _resolve_same_target(placements: list[Placement], conflicts: list[Conflict], target_root: str) -> None:
    taken: dict[str, str] = {}  # casefolded target -> the source that has it
    exists_cache: dict[str, bool] = {}
    if not os.path.isdir(target_root):  # a new target: nothing in it can be occupied
        exists_cache["\0" + target_root] = False
    for p in placements:
        key = p.target.casefold()
        occupied = _occupied(os.path.join(target_root, p.target), exists_cache)
        if key not in taken and not occupied:
            taken[key] = p.source
            continue
        before = p.target
        head, _, last = p.target.rpartition("/")
        k = 2
        while True:
            cand = f"{head}/{last} ({k})" if head else f"{last} ({k})"
            if cand.casefold() not in taken and not _occupied(os.path.join(target_root, cand), exists_cache):
                break
            k += 1
        p.target = cand
        taken[cand.casefold()] = p.source
        if key in taken and not occupied:
            kind, msg = "same_target", f"{before!r} is also the target of {taken[key]!r}: renamed to {cand!r}"
        else:
            kind, msg = "exists", f"{before!r} already exists in the target and is not empty: renamed to {cand!r}"
        p.conflict = "; ".join(x for x in (p.conflict, msg) if x)
        conflicts.append(Conflict(kind, p.source, before, cand, msg))


def _occupied(path: str, cache: dict[str, bool]) -> bool:
    """``path`` is an existing folder with something in it. A missing parent answers for
    all its children (one stat per missing folder, not one per target)."""
    hit = cache.get(path)
    if hit is None:
        parent = os.path.dirname(path)
        if parent != path and not _exists(parent, cache):
            hit = False
        else:
            try:
                with os.scandir(path) as it:
                    hit = next(it, None) is not None
            except OSError:
                hit = False
        cache[path] = hit
    return hit


def _exists(path: str, cache: dict[str, bool]) -> bool:
    key = "\0" + path
    hit = cache.get(key)
    if hit is None:
        parent = os.path.dirname(path)
        hit = (parent == path or _exists(parent, cache)) and os.path.isdir(path)
        cache[key] = hit
    return hit


def _resolve_too_long(
    placements: list[Placement], conflicts: list[Conflict], target_root: str, longest: dict[int, int], max_path: int
) -> None:
    base = len(target_root.encode("utf-8", "surrogateescape")) + 1
    for p in placements:
        need = base + len(p.target.encode("utf-8", "surrogateescape")) + 1 + longest.get(p.folder_id, 0)
        if need <= max_path:
            continue
        before = p.target
        comps = p.target.split("/")
        over = need - max_path
        while over > 0:
            i = max(range(len(comps)), key=lambda j: len(comps[j].encode("utf-8", "surrogateescape")))
            cur = len(comps[i].encode("utf-8", "surrogateescape"))
            if cur <= 16:
                break
            new = _shorten(comps[i], max(16, cur - over))
            over -= cur - len(new.encode("utf-8", "surrogateescape"))
            comps[i] = new
        p.target = "/".join(comps)
        if over > 0:
            msg = f"{before!r} is {need} bytes with its longest file name, over {max_path}, even shortened"
            p.conflict = "; ".join(x for x in (p.conflict, "unresolved: " + msg) if x)
            conflicts.append(Conflict("unresolved", p.source, before, p.target, msg))
        else:
            msg = f"path over {max_path} bytes: shortened to {p.target!r}"
            p.conflict = "; ".join(x for x in (p.conflict, msg) if x)
            conflicts.append(Conflict("too_long", p.source, before, p.target, msg))
