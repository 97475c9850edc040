"""Shared colours of the results panel and its tables: readable text colours, label
colours and titles (no pyqtgraph here: the item models read it too). The charts' plot style is
in :mod:`.plot_style`. Kept apart so the heatmap, the bars and the history line look like one panel
(and follow a dark system theme instead of pyqtgraph's fixed black background)."""

from __future__ import annotations

from PySide6.QtGui import QColor

from engine.core.taxonomy import label_by_name

# Blue for what the model got right, red for its mistakes: a mistake must catch the eye.
CORRECT_LIGHT, CORRECT_DARK = (222, 235, 247), (8, 69, 148)
ERROR_LIGHT, ERROR_DARK = (254, 224, 210), (165, 15, 21)
EMPTY_CELL = (246, 247, 249)
POSITIVE = QColor("#1e8449")
NEGATIVE = QColor("#c0392b")


def _linear(c: float) -> float:
    c /= 255.0
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG relative luminance of an sRGB colour (0 black .. 1 white)."""
    r, g, b = (_linear(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_color_for(rgb: tuple[int, int, int]) -> QColor:
    """Black or white, whichever contrasts more with ``rgb`` (WCAG contrast ratio)."""
    lum = luminance(rgb)
    on_white = 1.05 / (lum + 0.05)
    on_black = (lum + 0.05) / 0.05
    return QColor(255, 255, 255) if on_white > on_black else QColor(20, 20, 20)


def ramp(light: tuple[int, int, int], dark: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    """A colour between ``light`` (t=0) and ``dark`` (t=1)."""
    t = min(max(t, 0.0), 1.0)
    return tuple(round(a + (b - a) * t) for a, b in zip(light, dark))  # type: ignore[return-value]


def label_color(name: str) -> QColor:
    """The taxonomy colour of a label (grey for a label outside the taxonomy)."""
    try:
        return QColor(label_by_name(name).color)
    except KeyError:
        return QColor("#95a5a6")


def label_title(name: str) -> str:
    try:
        return label_by_name(name).title
    except KeyError:
        return name
