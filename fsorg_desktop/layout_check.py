"""Is anything cut off? A check the tests and ``--screenshot`` run on the real window.

A widget is *clipped* when it is visible and its layout gave it less room than its
``minimumSizeHint`` (a button reading "Ex" instead of "Export", a chart squeezed below its
readable size). Widgets inside a scroll area's viewport are exempt (scrolling is their way
to fit), except that the Results tab must never need a horizontal scrollbar. A toolbar whose
actions overflow behind its » button is clipped too.
"""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractScrollArea, QScrollArea, QScrollBar, QToolBar, QWidget

# Widgets that are drawn smaller than their hint on purpose and stay readable.
_EXEMPT = ("QScrollBar", "QSplitterHandle", "QToolBarExtension", "QRubberBand", "QTipLabel", "QFocusFrame",
           "QComboBoxPrivateContainer", "QDockWidgetTitleButton", "QHeaderView")


def _in_scroll_viewport(w: QWidget) -> bool:
    """Inside an item view or a chart's viewport (their content scrolls or is drawn, not laid
    out). The content of a QScrollArea is checked: the area gives it at least its minimum."""
    p = w.parentWidget()
    while p is not None:
        gp = p.parentWidget()
        if isinstance(gp, QAbstractScrollArea) and not isinstance(gp, QScrollArea) and gp.viewport() is p:
            return True
        p = gp
    return False


def _name(w: QWidget) -> str:
    text = ""
    for attr in ("text", "title", "windowTitle", "placeholderText"):
        fn = getattr(w, attr, None)
        if callable(fn):
            try:
                t = fn()
            except TypeError:
                continue
            if isinstance(t, str) and t:
                text = t
                break
    cls = type(w).__name__
    obj = w.objectName()
    return f"{cls}{'#' + obj if obj else ''}{' “' + text[:40] + '”' if text else ''}"


def clipped_widgets(root: QWidget, *, slack: int = 1) -> list[str]:
    """One line per visible widget under ``root`` that got less than its minimum size hint."""
    out: list[str] = []
    for w in root.findChildren(QWidget):
        if not w.isVisibleTo(root) or not w.isVisible() or w.isWindow():
            continue
        if type(w).__name__ in _EXEMPT or w.metaObject().className() in _EXEMPT:
            continue
        if _in_scroll_viewport(w):
            continue
        hint = w.minimumSizeHint().expandedTo(w.minimumSize())  # what Qt's layouts honour
        if not hint.isValid() or hint.isEmpty():
            continue
        # a maximum below the hint is a deliberate choice (a 6 px busy bar), not a clip
        need_w = min(max(hint.width(), 0), w.maximumWidth())
        need_h = min(max(hint.height(), 0), w.maximumHeight())
        if w.width() + slack < need_w or w.height() + slack < need_h:
            out.append(f"{_name(w)}: {w.width()}x{w.height()} < minimum {need_w}x{need_h}")
    for tb in root.findChildren(QToolBar):
        if not tb.isVisible():
            continue
        ext = next((c for c in tb.findChildren(QWidget) if c.metaObject().className() == "QToolBarExtension"), None)
        if ext is not None and ext.isVisible():
            out.append(f"{_name(tb)}: actions hidden behind the » overflow button")
    return out


def horizontal_scrollbars(root: QWidget) -> list[str]:
    """Visible horizontal scrollbars of scroll areas under ``root`` (incl. ``root`` itself)."""
    areas = [root] if isinstance(root, QAbstractScrollArea) else []
    areas += root.findChildren(QAbstractScrollArea)
    out = []
    for a in areas:
        if not a.isVisible():
            continue
        bar: QScrollBar = a.horizontalScrollBar()
        if bar.isVisible() and bar.maximum() > 0:
            out.append(f"{_name(a)}: horizontal scrollbar (content {bar.maximum()} px wider)")
        inner = a.widget() if isinstance(a, QScrollArea) else None
        if inner is not None and inner.isVisible() and inner.width() > a.viewport().width() + 1:
            # a hidden scrollbar does not make content that does not fit any less cut off
            out.append(f"{_name(a)}: content {inner.width()} px wide in a {a.viewport().width()} px view")
    return out
