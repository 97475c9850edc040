"""The results charts' look: palette-aware pyqtgraph plots (they follow a dark system theme
instead of pyqtgraph's fixed black background)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QWidget


def style_plot(plot: pg.PlotWidget, owner: QWidget) -> None:
    """A static chart in the palette's colours: no pan/zoom, no context menu, no 'A' button
    (a results chart is read, not explored; a stray drag must not move the matrix away)."""
    pal = owner.palette()
    bg = pal.color(QPalette.ColorRole.Base)
    fg = pal.color(QPalette.ColorRole.Text)
    plot.setBackground(bg)
    item = plot.getPlotItem()
    item.setMouseEnabled(x=False, y=False)
    item.setMenuEnabled(False)
    item.hideButtons()
    font = QFont(owner.font())
    for name in ("left", "bottom", "top", "right"):
        ax = item.getAxis(name)
        ax.setPen(pg.mkPen(fg))
        ax.setTextPen(pg.mkPen(fg))
        ax.setTickFont(font)


def foreground(owner: QWidget) -> QColor:
    return owner.palette().color(QPalette.ColorRole.Text)
