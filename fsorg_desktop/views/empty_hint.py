"""A grey sentence in an empty list or table ("No errors: …"), instead of a blank box."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView


class _EmptyHint(QObject):
    def __init__(self, view: QAbstractItemView, text: str) -> None:
        super().__init__(view)
        self.view = view
        self.text = text
        view.viewport().installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint and self.is_shown():
            p = QPainter(self.view.viewport())
            p.setPen(self.view.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            rect = self.view.viewport().rect().adjusted(8, 8, -8, -8)
            p.drawText(rect, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self.text)
            p.end()
        return False

    def is_shown(self) -> bool:
        m = self.view.model()
        return m is not None and m.rowCount() == 0


def set_empty_text(view: QAbstractItemView, text: str) -> None:
    """Paint ``text`` in ``view`` while its model has no rows (set it again to change it)."""
    hint = getattr(view, "_empty_hint", None)
    if hint is None:
        view._empty_hint = _EmptyHint(view, text)
    else:
        hint.text = text
    view.viewport().update()


def empty_text(view: QAbstractItemView) -> str:
    """The sentence shown now ("" while the view has rows)."""
    hint = getattr(view, "_empty_hint", None)
    return hint.text if hint is not None and hint.is_shown() else ""
