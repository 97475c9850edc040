"""What a model learned from: stored in its folder, left out of every evaluation by default.

``metadata.json["trained_on"]`` lists the folders (ids and relative paths) the body was
fine-tuned on and the head was fitted on. An evaluation of the model on labelled folders
leaves out every folder either part learned from (matched by id, or by relative path: after
a rescan the same folder has a new id), so its figure is on folders the model never saw.
Including them is an explicit choice whose report is titled as training-set figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.models.inputs import FolderRecord


def trained_on_metadata(
    body: Sequence[FolderRecord] | None, head: Sequence[FolderRecord]
) -> dict[str, Any]:
    """The ``trained_on`` block: ``body`` None when the body was not fine-tuned (the base body)."""

    def part(recs: Sequence[FolderRecord]) -> dict[str, Any]:
        return {"folder_ids": [int(r.folder_id) for r in recs], "rel_paths": [r.rel_path for r in recs]}

    return {"body": part(body) if body is not None else None, "head": part(head)}


def learned_from(metadata: Mapping[str, Any]) -> tuple[set[int], set[str]] | None:
    """(folder ids, relative paths) the model learned from; None when the folder does not say
    (a model saved before fsorg recorded it, or the shipped baseline: not your folders)."""
    t = metadata.get("trained_on")
    if not isinstance(t, Mapping):
        return None
    ids: set[int] = set()
    paths: set[str] = set()
    for part in (t.get("body"), t.get("head")):
        if isinstance(part, Mapping):
            ids.update(int(i) for i in part.get("folder_ids", []))
            paths.update(str(p) for p in part.get("rel_paths", []))
    return ids, paths


def learned_folder_ids(records: Iterable[FolderRecord], metadata: Mapping[str, Any]) -> set[int] | None:
    """Of ``records``, the ids of those the model learned from (None: it does not say)."""
    got = learned_from(metadata)
    if got is None:
        return None
    ids, paths = got
    return {r.folder_id for r in records if r.folder_id in ids or r.rel_path in paths}


__all__ = ["trained_on_metadata", "learned_from", "learned_folder_ids"]
