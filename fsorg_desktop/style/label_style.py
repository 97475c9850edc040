"""How a label looks everywhere in the app: its colour (from the taxonomy), a small
round swatch icon and a faint background tint. One place, so the tree, the sample
table, the legend and the menus agree."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap

from engine.core.taxonomy import label_by_name, labels


@lru_cache(maxsize=32)
def label_color(name: str) -> QColor:
    return QColor(label_by_name(name).color)


@lru_cache(maxsize=32)
def label_icon(name: str) -> QIcon:
    """A round swatch with a white ring (it stays visible on a selected row's highlight),
    drawn at 2x so it stays crisp on high-DPI screens."""
    icon = QIcon()
    for size in (16, 32):
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(255, 255, 255, 230), size / 10))
        p.setBrush(label_color(name))
        m = size * 0.17
        p.drawEllipse(QRectF(m, m, size - 2 * m, size - 2 * m))
        p.end()
        icon.addPixmap(pm)
    return icon


@lru_cache(maxsize=32)
def label_brush(name: str) -> QBrush:
    """A tint light enough for dark text on a light palette and light text on a dark one."""
    c = QColor(label_color(name))
    c.setAlpha(55)
    return QBrush(c)


def label_key(name: str) -> str:
    """The key that sets ``name`` ('1'..'6' in taxonomy order)."""
    for i, lb in enumerate(labels(), start=1):
        if lb.name == name:
            return str(i)
    raise KeyError(name)
