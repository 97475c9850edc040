"""The suspect labels the window shows (``engine.active.suspects.find_suspects`` → ``flag_suspects``).

One shared holder so the tree, the sample table and the filter agree. A flag is about a
*label*: once the user relabels the folder (or clears it) the marker goes, and it comes
back on undo. The holder is in memory: "Find suspect labels" is re-run after a
relabelling session rather than trusted from an older label run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from engine.core.taxonomy import label_by_name


def _title(name: str) -> str:
    try:
        return label_by_name(name).title
    except KeyError:
        return name


@dataclass(frozen=True)
class SuspectFlag:
    """One flagged label (the fields of ``engine.active.suspects.Suspect``)."""

    folder_id: int
    path: str
    label: str  # the user's label when it was judged
    predicted: str  # the out-of-fold model's label
    p_label: float
    p_predicted: float
    score: float

    @classmethod
    def from_dict(cls, d: Mapping) -> "SuspectFlag":
        return cls(int(d["folder_id"]), str(d["path"]), str(d["label"]), str(d["predicted"]),
                   float(d["p_label"]), float(d["p_predicted"]), float(d["score"]))


class SuspectSet(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._by_id: dict = {}

    def set_suspects(self, suspects: Iterable) -> None:
        self._by_id = {s.folder_id: s for s in suspects}
        self.changed.emit()

    def clear(self) -> None:
        if self._by_id:
            self._by_id = {}
            self.changed.emit()

    def __len__(self) -> int:
        return len(self._by_id)

    def ids(self) -> list[int]:
        return list(self._by_id)

    def get(self, folder_id: int, current_label: str | None):
        """The Suspect for ``folder_id`` while its label is still the one judged, else None."""
        s = self._by_id.get(folder_id)
        return s if s is not None and s.label == current_label else None

    @staticmethod
    def tooltip(s) -> str:
        return (
            f"Suspect label: a model trained without it says {_title(s.predicted)} (p={s.p_predicted:.2f}) "
            f"and gives your label {_title(s.label)} p={s.p_label:.2f}. "
            "Press 1–6 to relabel, or leave it if you are sure."
        )
