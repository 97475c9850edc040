"""The plan: one reviewable CSV row per folder with files (source -> target).

Written with :func:`engine.core.csvio.write_csv` (opens cleanly in a spreadsheet). The user
may edit the ``target`` column (or delete rows) and apply the file; reading it back
validates every row and lists each bad one with its line — nothing is applied from
a plan with a bad row.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.core.csvio import read_csv, write_csv
from engine.core.jobs import UserError
from engine.organize.layout import Layout, safe_name

COLUMNS = (
    "source", "target", "files", "item_id", "creator", "asset_type", "subject", "variant",
    "variant_rule", "status", "conflict", "folder_id", "library_root",
)
REQUIRED = ("source", "target", "library_root")


@dataclass(frozen=True)
class PlanRow:
    line: int
    source: str  # relative to the library root ('' = the root)
    target: str  # relative to the target root
    files: int


@dataclass
class Plan:
    path: Path
    library_root: str
    rows: list[PlanRow]

    @property
    def files(self) -> int:
        return sum(r.files for r in self.rows)


def write_plan(layout: Layout, library_root: str, path) -> int:
    """Write the layout's placements as a plan CSV; returns the row count."""
    return write_csv(
        path,
        COLUMNS,
        (
            {
                "source": p.source,
                "target": p.target,
                "files": p.files,
                "item_id": p.item_id,
                "creator": p.creator,
                "asset_type": p.asset_type,
                "subject": p.subject,
                "variant": p.variant,
                "variant_rule": p.rule,
                "status": p.status,
                "conflict": p.conflict,
                "folder_id": p.folder_id,
                "library_root": library_root,
            }
            for p in layout.placements
            if not p.conflict.startswith("unresolved") and "; unresolved" not in p.conflict
        ),
    )


def _rel_ok(value: str, what: str, *, backslash_ok: bool = False) -> str | None:
    if value.startswith(("/", "\\")) or (len(value) > 1 and value[1] == ":"):
        return f"{what} {value!r} must be relative"
    if value and any(p in ("..", ".") for p in value.split("/")):
        return f"{what} {value!r} must not contain '.' or '..'"
    if "\\" in value and not backslash_ok:  # a Linux folder name may hold one; a target may not
        return f"{what} {value!r} must use '/' between folders"
    return None


def read_plan(path, *, check_sources: bool = True) -> Plan:
    """Read and validate a plan CSV. A UserError listing every bad row when any is bad."""
    if not Path(path).is_file():
        raise UserError(f"{path} does not exist or is not a file. Make a plan with: organize plan --output {path}")
    table = read_csv(path, expected_columns=COLUMNS)
    missing = [c for c in REQUIRED if c not in table.header]
    if missing:
        raise UserError(
            f"{path} is not an fsorg plan: it has no {', '.join(repr(m) for m in missing)} column. "
            "Make one with: python organizer.py organize plan --target DIR --output plan.csv"
        )
    if not table.rows:
        raise UserError(f"{path} has no rows: nothing to apply.")
    errors: list[str] = []
    roots = {r.get("library_root") for r in table.rows}
    if len(roots) != 1 or not next(iter(roots)):
        raise UserError(f"{path}: every row must have the same, non-empty library_root (found {len(roots)}).")
    root = next(iter(roots))
    if check_sources and not os.path.isdir(root):
        raise UserError(f"{path}: the library root {root} does not exist (any more).")
    rows: list[PlanRow] = []
    seen_src: dict[str, int] = {}
    seen_dst: dict[str, int] = {}
    for r in table.rows:
        src, dst = r.get("source").strip("/"), r.get("target").strip().strip("/")
        bad = _rel_ok(src, "source", backslash_ok=True) or _rel_ok(dst, "target")
        if not bad and not dst:
            bad = "target is empty"
        if not bad:
            for comp in dst.split("/"):
                fixed, why = safe_name(comp)
                if why:
                    bad = f"target folder {comp!r} is not a valid name ({why}); e.g. {fixed!r}"
                    break
        if not bad and src in seen_src:
            bad = f"source {src!r} is also on line {seen_src[src]}"
        if not bad and dst.casefold() in seen_dst:
            bad = f"target {dst!r} is also the target of line {seen_dst[dst.casefold()]}"
        if not bad and check_sources and not os.path.isdir(os.path.join(root, src)):
            bad = f"source folder {src!r} does not exist under {root}"
        files = r.get("files").strip()
        if not bad and files and not files.isdigit():
            bad = f"files {files!r} is not a number"
        if bad:
            errors.append(f"  line {r.line}: {bad}")
            continue
        seen_src[src] = r.line
        seen_dst[dst.casefold()] = r.line
        rows.append(PlanRow(r.line, src, dst, int(files or 0)))
    if errors:
        shown = errors[:20] + ([f"  … and {len(errors) - 20} more"] if len(errors) > 20 else [])
        raise UserError(
            f"{path} has {len(errors)} bad row{'s' if len(errors) != 1 else ''}; nothing was applied.",
            details="\n".join(shown),
        )
    return Plan(Path(path), root, rows)
