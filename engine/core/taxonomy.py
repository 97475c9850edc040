"""The six labels, read from ``config/taxonomy.json`` (one place for all of fsorg)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from engine.core.config import repo_config_dir


@dataclass(frozen=True)
class Label:
    name: str
    title: str
    description: str
    examples: tuple[str, ...]
    color: str


@lru_cache(maxsize=1)
def labels() -> tuple[Label, ...]:
    data = json.loads((repo_config_dir() / "taxonomy.json").read_text(encoding="utf-8"))
    return tuple(
        Label(
            name=d["name"],
            title=d["title"],
            description=d["description"],
            examples=tuple(d["examples"]),
            color=d["color"],
        )
        for d in data["labels"]
    )


def label_names() -> tuple[str, ...]:
    return tuple(lb.name for lb in labels())


def normalize_label(value: str) -> str | None:
    """The canonical label for ``value`` (case and surrounding spaces forgiven), else None."""
    v = value.strip().lower()
    for name in label_names():
        if v == name:
            return name
    return None


def label_by_name(name: str) -> Label:
    for lb in labels():
        if lb.name == name:
            return lb
    raise KeyError(name)
