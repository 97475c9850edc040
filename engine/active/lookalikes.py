"""Look-alikes: siblings and cousins with the same name shape, to label in one step.
"""


from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from engine.core.jobs import UserError
from engine.core.settings import StorageSettings
from engine.storage import schema as S

# ============================================================================= propagate

_DIGITS = re.compile(r"\d+")


def name_key(name: str) -> tuple[str, ...]:
    """The words of a name that carry meaning, canonical: :func:`engine.core.text.normalize_name`
    tokens (ordering prefix, grid size, ``_various`` and format suffix removed, lower case),
    with every digit run written ``#`` (``floor_2`` and ``floor_3`` are the same shape)."""
    from engine.core.text import normalize_name

    toks = normalize_name(name).tokens
    return tuple(_DIGITS.sub("#", t) for t in toks) or (name.strip().lower(),)


def shape_match(a: tuple[str, ...], b: tuple[str, ...]) -> str | None:
    """Why two name keys have the same shape, or None.

    * ``same name`` — equal keys: ``Night`` ~ ``night``, ``01_Night_30x30`` ~ ``Night``,
      ``floor_2`` ~ ``floor_3``.
    * ``same pattern`` — two or more words each, same count, exactly one word differs and a
      differing word is not the only non-number word: ``01_inn_fog`` ~ ``02_tavern_fog``
      (pattern ``* fog``), ``Dungeon Day`` ~ ``Dungeon Night`` (pattern ``dungeon *``).
    """
    if a == b:
        return "same name"
    if len(a) >= 2 and len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            shared = [t for i, t in enumerate(a) if i != diff[0] and t != "#"]
            if shared:
                return "same pattern"
    return None


@dataclass(frozen=True)
class Candidate:
    folder_id: int
    path: str
    name: str
    current_label: str | None
    reason: str = ""  # same name | same pattern | variant set
    relation: str = ""  # sibling | cousin
    suggested: bool = True  # pre-ticked in the preview dialog


def look_alikes(
    settings: StorageSettings,
    folder_id: int,
    *,
    label: str | None = None,
    include_variants: bool = True,
) -> list[Candidate]:
    """Folders that look like ``folder_id``: its siblings and its cousins (children of its
    parent's siblings) whose name has the same shape (:func:`shape_match`).

    With ``include_variants``, also the *variant set*: a name that recurs under two or
    more of those parents together with the folder's own name (``Day`` next to ``Night``
    under every sibling map) and that the heuristic puts in the same label as the folder
    (so ``Tokens``, which also recurs next to ``Night``, is left out once features exist)
    is offered too, not pre-ticked (``suggested=False``), since it is a sibling variant
    rather than the same thing. Folders already labelled ``label``
    are listed unticked. Ordered siblings first, then by path.
    """
    from engine.labels.saving import labels_for_snapshot
    from engine.storage.db import open_index

    index = open_index(settings)
    try:
        f = S.folders.c
        with index.connect() as c:
            me = c.execute(
                select(f.id, f.snapshot_id, f.parent_id, f.rel_path, f.name).where(f.id == folder_id)
            ).first()
            if me is None:
                raise UserError(f"There is no folder {folder_id} in this library (was it rescanned?).")
            if me.parent_id is None:
                return []
            parent = c.execute(select(f.id, f.parent_id).where(f.id == me.parent_id)).first()
            parent_ids = [me.parent_id]
            if parent is not None and parent.parent_id is not None:
                parent_ids = [
                    pid
                    for (pid,) in c.execute(
                        select(f.id).where(f.snapshot_id == me.snapshot_id, f.parent_id == parent.parent_id)
                    )
                ]
            family = c.execute(
                select(f.id, f.parent_id, f.rel_path, f.name).where(
                    f.snapshot_id == me.snapshot_id, f.parent_id.in_(parent_ids)
                )
            ).all()
    finally:
        index.dispose()
    _, labels = labels_for_snapshot(settings, me.snapshot_id)
    kind = _heuristic_labels(settings, [r.id for r in family])
    my_key = name_key(me.name)
    keys = {r.id: name_key(r.name) for r in family}
    # which parents each key occurs under
    where: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for r in family:
        where[keys[r.id]].add(r.parent_id)
    my_parents = where[my_key]
    out = []
    for r in family:
        if r.id == me.id:
            continue
        why = shape_match(my_key, keys[r.id])
        suggested = True
        if why is None and include_variants:
            both = where[keys[r.id]] & my_parents
            same_kind = kind.get(r.id) == kind.get(me.id) or not kind
            if len(both) >= 2 and same_kind:
                why, suggested = "variant set", False
        if why is None:
            continue
        cur = labels.get(r.id)
        if label is not None and cur == label:
            suggested = False
        out.append(
            Candidate(
                r.id,
                r.rel_path,
                r.name,
                cur,
                why,
                "sibling" if r.parent_id == me.parent_id else "cousin",
                suggested,
            )
        )
    out.sort(key=lambda cd: (cd.relation != "sibling", cd.reason == "variant set", cd.path.casefold()))
    return out


def _heuristic_labels(settings: StorageSettings, folder_ids: Sequence[int]) -> dict[int, str | None]:
    """The heuristic's label per folder where features were extracted ({} when none were)."""
    from engine.storage.db import open_training

    if not settings.training_db.exists():
        return {}
    training = open_training(settings)
    try:
        t = S.folder_features.c
        out: dict[int, str | None] = {}
        ids = list(folder_ids)
        with training.connect() as c:
            for i in range(0, len(ids), 900):
                out.update(
                    c.execute(
                        select(t.folder_id, t.heuristic_label).where(t.folder_id.in_(ids[i : i + 900]))
                    ).all()
                )
        return out
    finally:
        training.dispose()


