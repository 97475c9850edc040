"""The confusion matrix as a pyqtgraph heatmap: rows are the true labels, columns the
predicted ones, a count in every cell, and a click (or Enter on the keyboard-selected
cell) asks for the folders behind it.

Why two colour ramps: the diagonal (right answers) is blue and the rest (mistakes) red,
each scaled to its own maximum, so the biggest error is the most saturated red cell even
when the diagonal holds ten times more folders. Text is black or white by the cell's
luminance, so every count stays readable. The row-normalised view shows each cell as a
share of its true class (recall on the diagonal), which makes small classes comparable.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QKeyEvent, QPalette, QTextOption
from PySide6.QtWidgets import QGraphicsRectItem, QToolTip

from fsorg_desktop.style.plot_style import style_plot
from fsorg_desktop.style.results_style import (
    CORRECT_DARK,
    CORRECT_LIGHT,
    EMPTY_CELL,
    ERROR_DARK,
    ERROR_LIGHT,
    label_title,
    ramp,
    text_color_for,
)


def _wrap(title: str, width: int = 11) -> str:
    """Two lines at the space nearest the middle, so column names fit under narrow cells."""
    if len(title) <= width or " " not in title:
        return title
    spaces = [i for i, ch in enumerate(title) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - len(title) / 2))
    return title[:cut].rstrip() + "\n" + title[cut + 1 :].lstrip()


def fit_title(title: str, width_px: float, text_width) -> str:
    """The longest form of ``title`` whose every line fits ``width_px`` (``text_width(str)``
    measures a line): the title, the title on two lines, then each word shortened with a dot
    ("Desc.", "Cont.\nsubj."), then the initials. Column names never overlap, so the axis
    never drops one (the full title is in the cell tooltip)."""

    def fits(text: str) -> bool:
        return all(text_width(line) <= width_px for line in text.split("\n"))

    for cand in (title, _wrap(title, 1)):
        if fits(cand):
            return cand
    words = [w for w in title.replace("/", " ").split() if w]

    def shorten(word: str) -> str:  # the longest prefix (with a dot) that fits
        if fits(word):
            return word
        for n in range(len(word) - 1, 1, -1):
            if fits(word[:n] + "."):
                return word[:n] + "."
        return word[:1]

    short = "\n".join(shorten(w) for w in words[:2])
    if fits(short):
        return short
    return "".join(w[0] for w in words).upper()


def _key(label: str, i: int) -> str:
    """The label's key (1–6) as the column name of a narrow matrix."""
    from fsorg_desktop.style.label_style import label_key

    try:
        return label_key(label)
    except KeyError:
        return str(i + 1)


def cell_colors(counts: np.ndarray, normalised: bool) -> np.ndarray:
    """RGB (uint8, rows x cols x 3) of every cell: blue ramp on the diagonal, red off it,
    each scaled to its own maximum; a pale neutral for empty cells."""
    k = counts.shape[0]
    values = row_shares(counts) if normalised else counts.astype(float)
    diag = np.eye(k, dtype=bool)
    out = np.empty((k, k, 3), dtype=np.uint8)
    dmax = values[diag].max() if k else 0.0
    emax = values[~diag].max() if k > 1 else 0.0
    for r in range(k):
        for c in range(k):
            v = values[r, c]
            if counts[r, c] == 0:
                out[r, c] = EMPTY_CELL
                continue
            top = dmax if r == c else emax
            t = 0.25 + 0.75 * (v / top if top else 0.0)  # a single folder still shows colour
            out[r, c] = ramp(CORRECT_LIGHT, CORRECT_DARK, t) if r == c else ramp(ERROR_LIGHT, ERROR_DARK, t)
    return out


def row_shares(counts: np.ndarray) -> np.ndarray:
    """Each cell divided by its row total (0 for an empty row)."""
    totals = counts.sum(axis=1, keepdims=True).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 0.0)
    return shares


class ConfusionHeatmap(pg.PlotWidget):
    """Heatmap of one confusion matrix. ``cell_activated(true, predicted)`` on a click or
    on Enter/Space; the arrow keys move the selected cell."""

    cell_activated = Signal(str, str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style_plot(self, self)
        self.setMinimumSize(300, 260)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._labels: list[str] = []
        self._counts = np.zeros((0, 0), dtype=int)
        self._normalised = False
        self._selected: tuple[int, int] | None = None
        item = self.getPlotItem()
        item.setLabel("left", "True label")
        item.setLabel("bottom", "Predicted label")
        self._vb = item.getViewBox()
        self._vb.invertY(True)
        self._image = pg.ImageItem()
        self.addItem(self._image)
        self._grid = pg.PlotCurveItem(connect="pairs")
        self.addItem(self._grid)
        self._texts: list[list[pg.TextItem]] = []
        self._selection_box = QGraphicsRectItem()
        self._selection_box.setPen(pg.mkPen(self.palette().color(QPalette.ColorRole.Highlight), width=3))
        self._selection_box.setZValue(20)
        self._selection_box.hide()
        self._vb.addItem(self._selection_box)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self.scene().sigMouseMoved.connect(self._on_scene_moved)

    # ------------------------------------------------------------------ data
    def set_matrix(self, labels: list[str], confusion: list[list[int]]) -> None:
        """Show a matrix (rows true, columns predicted, both in ``labels`` order)."""
        self._labels = list(labels)
        self._counts = np.array(confusion, dtype=int).reshape(len(labels), len(labels))
        self._selected = None
        self._selection_box.hide()
        self._redraw()

    def set_normalised(self, on: bool) -> None:
        if on != self._normalised:
            self._normalised = on
            self._redraw()

    @property
    def normalised(self) -> bool:
        return self._normalised

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    def counts(self) -> list[list[int]]:
        return self._counts.tolist()

    def cell_texts(self) -> list[list[str]]:
        """What is written in each cell, as drawn (for tests and the accessible name)."""
        return [[t.textItem.toPlainText() for t in row] for row in self._texts]

    def cell_rgb(self, row: int, col: int) -> tuple[int, int, int]:
        return tuple(int(v) for v in self._rgb[row, col])  # type: ignore[return-value]

    def cell_text_rgb(self, row: int, col: int) -> tuple[int, int, int]:
        c = self._texts[row][col].color
        return c.red(), c.green(), c.blue()

    def selected_cell(self) -> tuple[int, int] | None:
        return self._selected

    def cell_widget_pos(self, row: int, col: int) -> QPoint:
        """The viewport point at the centre of a cell (where a user would click)."""
        scene = self._vb.mapViewToScene(QPointF(col + 0.5, row + 0.5))
        return self.mapFromScene(scene)

    # ------------------------------------------------------------------ drawing
    def _redraw(self) -> None:
        for row in self._texts:
            for t in row:
                self._vb.removeItem(t)
        self._texts = []
        k = len(self._labels)
        self._rgb = cell_colors(self._counts, self._normalised) if k else np.zeros((0, 0, 3), np.uint8)
        if k == 0:
            self._image.clear()
            self._grid.setData([], [])
            return
        rgba = np.concatenate([self._rgb, np.full((k, k, 1), 255, np.uint8)], axis=2)
        # ImageItem indexes [x, y]: transpose so x is the predicted column, y the true row.
        self._image.setImage(np.ascontiguousarray(rgba.transpose(1, 0, 2)), autoLevels=False, levels=(0, 255))
        self._image.setRect(QRectF(0, 0, k, k))
        xs, ys = [], []
        for i in range(k + 1):
            xs += [i, i, 0, k]
            ys += [0, k, i, i]
        self._grid.setData(xs, ys, pen=pg.mkPen(self.palette().color(QPalette.ColorRole.Base), width=2))
        shares = row_shares(self._counts)
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(max(font.pointSizeF(), 9.0) + 1)
        for r in range(k):
            row_items = []
            for c in range(k):
                n = int(self._counts[r, c])
                color = text_color_for(tuple(self._rgb[r, c]))
                if n == 0:
                    color = pg.mkColor(140, 140, 140)
                # Normalised: the share, and the count under it; an empty cell just says 0.
                text = f"{shares[r, c] * 100:.0f}%\n({n})" if self._normalised and n else f"{n}"
                t = pg.TextItem(text, color=color, anchor=(0.5, 0.5))
                t.setFont(font)
                t.textItem.document().setDefaultTextOption(_centered())
                t.setPos(c + 0.5, r + 0.5)
                t.setZValue(10)
                self._vb.addItem(t)
                row_items.append(t)
            self._texts.append(row_items)
        self._layout_columns()
        self._vb.setRange(xRange=(0, k), yRange=(0, k), padding=0)
        self._vb.disableAutoRange()
        self.setAccessibleName(
            "Confusion matrix; rows true, columns predicted: "
            + "; ".join(f"{lb}: {' '.join(map(str, self._counts[i]))}" for i, lb in enumerate(self._labels))
        )
        if self._selected is not None:
            self._show_selection(*self._selected)

    def _layout_columns(self) -> None:
        """Column names that fit the cells at the current width, and an axis tall enough for
        them and its title (so nothing overlaps the checkbox below). When even a shortened
        name does not fit, every column shows its label key (1–6, the keys the user labels
        with) and the row names say which key is which."""
        k = len(self.__dict__.get("_labels") or ())  # (pyqtgraph resizes before __init__ has run)
        if not k:
            return
        axis = self.getPlotItem().getAxis("bottom")
        left_axis = self.getPlotItem().getAxis("left")
        fm = QFontMetrics(axis.style.get("tickFont") or self.font())
        view_w = self._vb.width() or 0  # the matrix's own width, once laid out
        cell = max(20.0, min(self.width() - left_axis.width() - 16, view_w or 1e9) / k)
        titles = [label_title(lb) for lb in self._labels]
        ticks = [fit_title(t, cell - 14, fm.horizontalAdvance) for t in titles]
        readable = all(len(word) >= 4 or word == t for t, tick in zip(titles, ticks) for word in tick.split())
        if readable:
            left_axis.setTicks([[(i + 0.5, t) for i, t in enumerate(titles)]])
        else:
            keys = [_key(lb, i) for i, lb in enumerate(self._labels)]
            ticks = keys
            left_axis.setTicks([[(i + 0.5, f"{t}  {key}") for i, (t, key) in enumerate(zip(titles, keys))]])
        axis.setTicks([[(i + 0.5, t) for i, t in enumerate(ticks)]])
        lines = max(t.count("\n") + 1 for t in ticks)
        axis.setHeight(lines * fm.lineSpacing() + fm.lineSpacing() + 30)
        self._column_ticks = ticks

    def column_titles(self) -> list[str]:
        """The column names as drawn (after fitting them to the cell width)."""
        return list(getattr(self, "_column_ticks", []))

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        self._layout_columns()

    def _show_selection(self, r: int, c: int) -> None:
        self._selection_box.setRect(QRectF(c, r, 1, 1))
        self._selection_box.show()

    # ------------------------------------------------------------------ interaction
    def _cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        if not self._labels or not self._vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = self._vb.mapSceneToView(scene_pos)
        c, r = math.floor(p.x()), math.floor(p.y())
        k = len(self._labels)
        return (r, c) if 0 <= r < k and 0 <= c < k else None

    def select_cell(self, row: int, col: int, *, activate: bool = True) -> None:
        """Select a cell (and, by default, ask for its folders)."""
        self._selected = (row, col)
        self._show_selection(row, col)
        if activate:
            self.cell_activated.emit(self._labels[row], self._labels[col])

    def _on_scene_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        cell = self._cell_at(ev.scenePos())
        if cell is not None:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self.select_cell(*cell)

    def tooltip_for(self, r: int, c: int) -> str:
        n = int(self._counts[r, c])
        total = int(self._counts[r].sum())
        t, p = label_title(self._labels[r]), label_title(self._labels[c])
        share = f" ({n / total:.0%} of {t})" if total else ""
        what = "correct" if r == c else "errors"
        return (
            f"True: {t}\nPredicted: {p}\n{n} folder{'s' if n != 1 else ''}{share}, {what}\nClick to list them"
        )

    def _on_scene_moved(self, scene_pos: QPointF) -> None:
        cell = self._cell_at(scene_pos)
        text = self.tooltip_for(*cell) if cell else ""
        if text != self.toolTip():
            self.setToolTip(text)
            if text:
                QToolTip.showText(self.mapToGlobal(self.mapFromScene(scene_pos)), text, self)

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802 - Qt override
        k = len(self._labels)
        if not k:
            return super().keyPressEvent(ev)
        r, c = self._selected or (0, 0)
        key = ev.key()
        moves = {
            Qt.Key.Key_Up: (-1, 0),
            Qt.Key.Key_Down: (1, 0),
            Qt.Key.Key_Left: (0, -1),
            Qt.Key.Key_Right: (0, 1),
        }
        if key in moves:
            dr, dc = moves[key]
            if self._selected is not None:
                r, c = min(max(r + dr, 0), k - 1), min(max(c + dc, 0), k - 1)
            self.select_cell(r, c, activate=False)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.select_cell(r, c)
        else:
            super().keyPressEvent(ev)


def _centered() -> QTextOption:
    opt = QTextOption()
    opt.setAlignment(Qt.AlignmentFlag.AlignHCenter)
    return opt
