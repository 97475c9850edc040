"""The catalogue: every item of a library with its creator, asset type, tags and variants.

An *item* is a ``content_subject`` folder (what a map, a token set or an adventure is
about), or — where no subject sits above it — a folder that holds files. Each folder
that holds files belongs to exactly one item: the deepest subject at or above it (so a
``Night``/``Gridless`` folder inside ``Fantasy Tavern`` is part of that tavern).

For an item: its **creator** is the nearest ``creator_or_studio`` folder above it; its
**asset types** the nearest ``asset_type`` folder above it, plus the ones inside it;
its **tags** the ``descriptor`` folders above and inside it. Which label a folder has:
the user's label where there is one (the newest label run, matched by path across
snapshots), else the newest complete prediction run's. A prediction the model
abstained on counts as ``unknown``; a folder with neither is ``unlabelled``. An item
that rests on such a folder says so in ``notes`` — nothing is guessed silently.

Pure SQL over read-only connections, no Qt; about 1 s for 100,000 folders.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.jobs import UserError, check_stop, never_stop, no_progress
from engine.organize import variants as V

CREATOR, SUBJECT, DESCRIPTOR, ASSET_TYPE = "creator_or_studio", "content_subject", "descriptor", "asset_type"
UNKNOWN, UNLABELLED = "unknown", "unlabelled"


@dataclass(slots=True)
class Folder:
    id: int
    parent: int | None
    name: str
    rel_path: str
    depth: int
    files: int
    raw_name: bytes | None = None
    label: str = UNLABELLED  # the effective label (see module doc)
    source: str = "none"  # user | model | abstained | none


@dataclass
class Member:
    """A folder with files that belongs to an item, and where it sits inside the item."""

    folder_id: int
    rel_path: str
    files: int
    asset_type: str | None  # nearest asset_type folder at or above it
    inner: tuple[str, ...]  # folder names from the item down to it, asset-type folders left out


@dataclass
class Item:
    id: int  # the item folder's id
    path: str
    name: str
    kind: str  # 'subject' (a content_subject folder) | 'folder' (files without a subject above)
    label: str  # the item folder's effective label
    source: str  # where that label came from: user | model | abstained | none
    subject: tuple[str, ...]  # subject names from the outermost enclosing subject down to this one
    creator: str | None = None
    creator_path: str | None = None
    asset_types: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # unknown/abstained/unlabelled folders it rests on
    folder_variants: list[tuple[str, str]] = field(default_factory=list)  # (inner folder name, rule)
    file_groups: int = 0  # groups of files that are variants of one another (with_files)
    file_examples: list[str] = field(default_factory=list)  # a few, "name: day, night"
    group: int | None = None  # VariantGroup id among sibling items
    variant: str = ""  # this item's variant label inside its group ('' = plain)
    scope: tuple = ()  # (creator folder id, enclosing subjects): variants are looked for inside one scope
    parent_item: int | None = None  # the enclosing subject item

    @property
    def files(self) -> int:
        return sum(m.files for m in self.members)

    @property
    def status(self) -> str:
        """``ok``, or the reason the item is not sure (unknown / abstained / unlabelled)."""
        if self.label in (UNKNOWN, UNLABELLED):
            return "abstained" if self.source == "abstained" else self.label
        return "ok"


@dataclass
class Catalogue:
    root: str  # the library's absolute root path
    snapshot_id: int
    label_run_id: int | None
    prediction_run_id: int | None
    folders: dict[int, Folder]
    items: list[Item]
    groups: list[V.VariantGroup]
    label_counts: dict[str, int] = field(default_factory=dict)  # effective labels over all folders

    def counts(self) -> dict[str, Counter]:
        by = {"creator": Counter(), "asset_type": Counter(), "tag": Counter(), "status": Counter()}
        for it in self.items:
            by["creator"][it.creator or ""] += 1
            for t in it.asset_types or [""]:
                by["asset_type"][t] += 1
            for t in it.tags:
                by["tag"][t] += 1
            by["status"][it.status] += 1
        return by

    def item_index(self) -> dict[int, Item]:
        cache = getattr(self, "_icache", None)
        if cache is None:
            cache = {it.id: it for it in self.items}
            self._icache = cache
        return cache

    def group_of(self, item: Item) -> V.VariantGroup | None:
        return self._groups_by_id().get(item.group) if item.group is not None else None

    def _groups_by_id(self) -> dict[int, V.VariantGroup]:
        cache = getattr(self, "_gcache", None)
        if cache is None:
            cache = {g.id: g for g in self.groups}
            self._gcache = cache
        return cache


# ---------------------------------------------------------------------------- loading
def _ro(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.execute("PRAGMA query_only=ON")
    return con


def load_folders(settings, snapshot_id: int | None = None) -> tuple[int, str, dict[int, Folder]]:
    """(snapshot id, root path, {id: Folder}) of ``snapshot_id`` or the newest complete snapshot."""
    if not Path(settings.index_db).exists():
        raise UserError(
            f"No library scanned in {settings.data_dir}. Scan it first: python organizer.py gather PATH --storage DIR"
        )
    con = _ro(settings.index_db)
    try:
        if snapshot_id is None:
            row = con.execute(
                "SELECT id, root FROM snapshots WHERE status = 'complete' ORDER BY id DESC LIMIT 1"
            ).fetchone()
        else:
            row = con.execute(
                "SELECT id, root FROM snapshots WHERE id = ? AND status = 'complete'", (snapshot_id,)
            ).fetchone()
        if row is None:
            raise UserError(
                "No complete snapshot yet. Scan your library first: python organizer.py gather PATH --storage DIR"
                if snapshot_id is None
                else f"There is no complete snapshot {snapshot_id}."
            )
        sid, root = row
        folders = {
            r[0]: Folder(r[0], r[1], r[2], r[3], r[4], r[5], r[6])
            for r in con.execute(
                "SELECT id, parent_id, name, rel_path, depth, file_count, raw_name FROM folders "
                "WHERE snapshot_id = ? ORDER BY id",
                (sid,),
            )
        }
    finally:
        con.close()
    return sid, root, folders


def apply_labels(settings, snapshot_id: int, folders: dict[int, Folder]) -> tuple[int | None, int | None]:
    """Set every folder's effective label; returns (label run id, prediction run id)."""
    if not Path(settings.training_db).exists():
        return None, None
    con = _ro(settings.training_db)
    try:
        pred_run = con.execute(
            "SELECT id FROM prediction_runs WHERE snapshot_id = ? AND status = 'complete' "
            "ORDER BY labeled_only ASC, id DESC LIMIT 1",
            (snapshot_id,),
        ).fetchone()
        pred_run_id = pred_run[0] if pred_run else None
        if pred_run_id is not None:
            cols = {r[1] for r in con.execute("PRAGMA table_info(predictions)")}
            abst = "abstained" if "abstained" in cols else "NULL"
            for fid, label, abstained in con.execute(
                f"SELECT folder_id, label, {abst} FROM predictions WHERE prediction_run_id = ?", (pred_run_id,)
            ):
                f = folders.get(fid)
                if f is not None:
                    if abstained:
                        f.label, f.source = UNKNOWN, "abstained"
                    else:
                        f.label, f.source = label, "model"
        run = con.execute("SELECT id FROM label_runs ORDER BY id DESC LIMIT 1").fetchone()
        run_id = run[0] if run else None
        if run_id is not None:
            by_path = None
            for fid, sid, rel, label in con.execute(
                "SELECT folder_id, snapshot_id, rel_path, label FROM labels WHERE label_run_id = ?", (run_id,)
            ):
                if sid != snapshot_id:  # labelled on an older snapshot: match by path
                    if by_path is None:
                        by_path = {f.rel_path: f.id for f in folders.values()}
                    fid = by_path.get(rel)
                f = folders.get(fid) if fid is not None else None
                if f is not None and (sid == snapshot_id or f.source != "user"):
                    f.label, f.source = label, "user"
    finally:
        con.close()
    return run_id, pred_run_id


# ---------------------------------------------------------------------------- building
def build_catalogue(
    settings, snapshot_id: int | None = None, *, with_files: bool = False, progress=no_progress, should_stop=never_stop
) -> Catalogue:
    """Read the snapshot and its labels and build the catalogue (see module doc). ``with_files``
    also groups the files inside each item's folders (``Item.file_groups``; slower)."""
    progress(0.0, "Reading folders")
    sid, root, folders = load_folders(settings, snapshot_id)
    check_stop(should_stop)
    progress(0.2, "Reading labels and predictions")
    run_id, pred_id = apply_labels(settings, sid, folders)
    check_stop(should_stop)
    progress(0.4, "Finding items")
    items = find_items(folders, should_stop=should_stop)
    progress(0.7, "Grouping variants")
    groups = group_items(items, folders, should_stop=should_stop)
    if with_files:
        progress(0.85, "Grouping file variants")
        _group_files(settings, items, should_stop)
    cat = Catalogue(root, sid, run_id, pred_id, folders, items, groups)
    cat.label_counts = dict(Counter(f.label for f in folders.values() if f.parent is not None))
    progress(1.0, f"{len(items):,} items, {len(groups):,} variant groups")
    return cat


def _children(folders: dict[int, Folder]) -> tuple[int | None, dict[int, list[int]]]:
    kids: dict[int, list[int]] = defaultdict(list)
    root_id = None
    for f in folders.values():  # id order = name order within a parent
        if f.parent is None:
            root_id = f.id if root_id is None else root_id
        else:
            kids[f.parent].append(f.id)
    return root_id, kids


def _scope_owner(creator: Folder | None, f: Folder) -> int | str:
    """Variants are looked for among one creator's items, or (no creator) one top-level folder's."""
    return creator.id if creator is not None else "top:" + f.rel_path.split("/", 1)[0]


def _doubt(f: Folder) -> str | None:
    if f.label == UNKNOWN:
        return f"'{f.rel_path}' is {'abstained (the model was not sure)' if f.source == 'abstained' else 'unknown'}"
    if f.label == UNLABELLED:
        return f"'{f.rel_path}' has no label and no prediction"
    return None


def find_items(folders: dict[int, Folder], *, should_stop=never_stop) -> list[Item]:
    """Walk the tree once (iteratively: any depth) and collect the items in path order."""
    root_id, kids = _children(folders)
    if root_id is None:
        return []
    items: list[Item] = []
    # Stack entries: (folder id, creator, asset type stack, descriptor tags, item, inner path, doubts, subjects)
    stack: list[tuple] = [(root_id, None, (), (), None, (), (), ())]
    n = 0
    while stack:
        fid, creator, atypes, tags, item, inner, doubts, subjects = stack.pop()
        f = folders[fid]
        n += 1
        if n % 20000 == 0:
            check_stop(should_stop)
        is_root = f.parent is None
        lab = f.label
        if not is_root:
            if lab == SUBJECT:
                subjects = subjects + (f.name,)
                outer = item
                item = Item(f.id, f.rel_path, f.name, "subject", lab, f.source, subjects)
                item.parent_item = outer.id if outer is not None else None
                item.creator, item.creator_path = (creator.name, creator.rel_path) if creator else (None, None)
                if atypes:
                    item.asset_types.append(atypes[-1].name)
                item.tags.extend(t for t in tags if t not in item.tags)
                item.notes.extend(doubts)
                item.scope = (_scope_owner(creator, f), subjects[:-1])
                items.append(item)
                inner = ()
            else:
                if item is not None:
                    if lab != ASSET_TYPE:
                        inner = inner + (f.name,)
                    rule = V.is_variant_name(f.name)
                    if rule and (f.name, rule) not in item.folder_variants:
                        item.folder_variants.append((f.name, rule))
                if lab == CREATOR:
                    creator = f
                elif lab == ASSET_TYPE:
                    atypes = atypes + (f,)
                    if item is not None and f.name not in item.asset_types:
                        item.asset_types.append(f.name)
                elif lab == DESCRIPTOR:
                    tags = tags + (f.name,)
                    if item is not None and f.name not in item.tags:
                        item.tags.append(f.name)
                else:
                    d = _doubt(f)
                    if d is not None:
                        if item is not None:
                            item.notes.append(d)
                        else:
                            doubts = doubts + (d,)
        if f.files > 0:
            owner = item
            if owner is None:
                owner = Item(f.id, f.rel_path, f.name, "folder", lab if not is_root else UNLABELLED, f.source, ())
                owner.creator, owner.creator_path = (creator.name, creator.rel_path) if creator else (None, None)
                owner.asset_types = [atypes[-1].name] if atypes else []
                owner.tags = list(dict.fromkeys(tags))
                owner.notes = list(doubts)
                if not is_root and lab not in (CREATOR, ASSET_TYPE):
                    owner.subject = (f.name,)
                owner.scope = (_scope_owner(creator, f), None)
                items.append(owner)
            owner.members.append(
                Member(f.id, f.rel_path, f.files, atypes[-1].name if atypes else None, inner if owner is item else ())
            )
        for cid in reversed(kids.get(fid, ())):
            stack.append((cid, creator, atypes, tags, item, inner, doubts, subjects))
    for it in items:
        if it.kind == "subject" and it.label == SUBJECT and it.source not in ("user", "model"):
            it.notes.insert(0, f"'{it.path}' label source: {it.source}")
    return items


def group_items(items: list[Item], folders: dict[int, Folder], *, should_stop=never_stop) -> list[V.VariantGroup]:
    """Variant groups of subject items.

    Among the items of one scope (same creator, same enclosing subjects — so the same map
    as a static map, an animated map and a scene is one group; the rule says ``asset type``);
    and a subject nested in a subject whose name it extends (``01_barn/02_barn_missing_sheep``)
    joins its parent's group (rule ``extends parent``).
    """
    scopes: dict[tuple, list[Item]] = defaultdict(list)
    for it in items:
        if it.kind == "subject":
            scopes[it.scope].append(it)
    groups: list[V.VariantGroup] = []
    by_id = {it.id: it for it in items}
    for n, (_scope, members) in enumerate(scopes.items()):
        if n % 2000 == 0:
            check_stop(should_stop)
        if len(members) < 2:
            continue
        for g in V.group([(it.id, it.name) for it in members], start_id=len(groups) + 1):
            groups.append(g)
            if len({tuple(by_id[k].asset_types[:1]) for k in g.members}) > 1:
                g.joined_by.append("asset type")
            for k in g.members:
                by_id[k].group = g.id
                by_id[k].variant = V.variant_label([g.variant.get(k, "")])
    gby = {g.id: g for g in groups}
    for it in items:  # parents come first (path order), so chains resolve top-down
        p = by_id.get(it.parent_item) if it.parent_item is not None else None
        if p is None or it.group is not None:
            continue
        pb, cb = V.parse(p.name), V.parse(it.name)
        if not pb.base or not (cb.base == pb.base or cb.base.startswith(pb.base + " ")):
            continue
        if cb.base != pb.base and not V.extends_ok(cb.base[len(pb.base):].split()):
            continue
        g = gby.get(p.group) if p.group is not None else None
        if g is None:
            g = V.VariantGroup(id=len(groups) + 1, base=pb.base, display=V._display(pb))
            g.members.append(p.id)
            g.variant[p.id] = ""
            g.rules[p.id] = pb.rules
            groups.append(g)
            gby[g.id] = g
            p.group = g.id
        if "extends parent" not in g.joined_by:
            g.joined_by.append("extends parent")
        label = " ".join([cb.base[len(pb.base):].strip(), cb.variant]).strip()
        g.members.append(it.id)
        g.variant[it.id] = label
        g.rules[it.id] = cb.rules
        it.group = g.id
        it.variant = V.variant_label([label])
    return groups


def _group_files(settings, items: list[Item], should_stop) -> None:
    owner = {m.folder_id: it for it in items for m in it.members}
    names: dict[int, list[str]] = defaultdict(list)
    con = sqlite3.connect(f"file:{settings.index_db}?mode=ro", uri=True)  # a TEMP table: not query_only
    try:
        con.execute("CREATE TEMP TABLE want(id INTEGER PRIMARY KEY)")
        con.executemany("INSERT INTO want VALUES (?)", ((i,) for i in owner))
        for fid, name in con.execute("SELECT f.folder_id, f.name FROM files f JOIN want w ON w.id = f.folder_id"):
            names[fid].append(name)
    finally:
        con.close()
    for n, (fid, files) in enumerate(names.items()):
        if n % 2000 == 0:
            check_stop(should_stop)
        if len(files) < 2:
            continue
        it = owner[fid]
        for g in file_variant_groups(sorted(files)):
            it.file_groups += 1
            if len(it.file_examples) < 3:
                forms = sorted({g.variant[k] for k in g.members if g.variant[k]})
                it.file_examples.append(f"{g.display}: {', '.join(forms[:4]) or 'copies'}")


def file_variant_groups(names: list[str]) -> list[V.VariantGroup]:
    """Variant groups among the files of one folder (by name without the extension)."""
    entries = [(i, n.rsplit(".", 1)[0] if "." in n[1:] else n) for i, n in enumerate(names)]
    return V.group(entries, fuzzy=False, prefix=False)


# ---------------------------------------------------------------------------- export
CSV_COLUMNS = (
    "item_id", "path", "kind", "subject", "creator", "asset_types", "tags", "files", "status",
    "label_source", "variant_group", "group_name", "variant", "variant_rule", "folder_variants",
    "file_variant_groups", "file_variant_examples", "notes",
)


def item_rows(cat: Catalogue):
    gby = {g.id: g for g in cat.groups}
    for it in cat.items:
        g = gby.get(it.group) if it.group is not None else None
        yield {
            "item_id": it.id,
            "path": it.path,
            "kind": it.kind,
            "subject": "/".join(it.subject),
            "creator": it.creator or "",
            "asset_types": "; ".join(it.asset_types),
            "tags": "; ".join(it.tags),
            "files": it.files,
            "status": it.status,
            "label_source": it.source,
            "variant_group": g.id if g else "",
            "group_name": g.display if g else "",
            "variant": it.variant,
            "variant_rule": g.rule if g else "",
            "folder_variants": "; ".join(f"{n} ({r})" for n, r in it.folder_variants),
            "file_variant_groups": it.file_groups,
            "file_variant_examples": "; ".join(it.file_examples),
            "notes": "; ".join(it.notes),
        }


def to_json(cat: Catalogue) -> dict:
    return {
        "root": cat.root,
        "snapshot_id": cat.snapshot_id,
        "label_run_id": cat.label_run_id,
        "prediction_run_id": cat.prediction_run_id,
        "counts": {k: dict(v.most_common()) for k, v in cat.counts().items()},
        "items": list(item_rows(cat)),
        "variant_groups": [
            {
                "id": g.id,
                "name": g.display,
                "base": g.base,
                "rule": g.rule,
                "similarity": g.similarity,
                "members": [
                    {"item_id": m, "path": cat.folders[m].rel_path, "variant": g.variant.get(m, "")}
                    for m in g.members
                ],
            }
            for g in cat.groups
        ],
    }


def write_json(cat: Catalogue, path) -> None:
    import os
    import tempfile

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(to_json(cat), fh, ensure_ascii=False, indent=1)
    os.replace(tmp, target)
