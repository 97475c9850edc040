"""A one-line notice at the top of the window that never blocks: a finished evaluation,
training or prediction says what came out and offers one action ("Show results",
"Retrain now"). A newer notice replaces the older one; ✕ closes it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStatusBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)


class Banner(QFrame):
    action_triggered = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#resultBanner { background: palette(alternate-base); border: 1px solid palette(mid);"
            " border-left: 4px solid #2e86de; border-radius: 3px; }"
        )
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.button = QPushButton()
        self.button.clicked.connect(self._on_action)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Close this notice")
        self.close_button.clicked.connect(self.hide)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.button)
        lay.addWidget(self.close_button)
        self._action: Callable[[], None] | None = None
        self.hide()

    def show_notice(self, html: str, action: str | None = None, on_action: Callable[[], None] | None = None) -> None:
        """Show ``html`` (replacing any notice on screen) with an optional action button."""
        self.text.setText(html)
        self._action = on_action
        self.button.setText(action or "")
        self.button.setVisible(bool(action))
        self.show()

    def offer_retrain(self, n_rows: int, retrain: Callable[[], None]) -> None:
        """The sample on screen is fully labelled: suggest the next step."""
        self.show_notice(
            f"<b>All {n_rows} folder{'s' if n_rows != 1 else ''} of this sample are labelled.</b> Retrain so "
            "the model learns from them (then Label next picks where it still hesitates).",
            "Retrain now",
            retrain,
        )

    def message(self) -> str:
        return self.text.text() if self.isVisible() or not self.isHidden() else ""

    def _on_action(self) -> None:
        action = self._action
        self.hide()
        if action is not None:
            action()
        self.action_triggered.emit()


def with_banner(banner: Banner, content: QWidget) -> QWidget:
    """``banner`` above ``content``, as one central widget."""
    central = QWidget()
    lay = QVBoxLayout(central)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(2)
    lay.addWidget(banner)
    lay.addWidget(content, 1)
    return central


def status_labels(bar: QStatusBar) -> tuple[QLabel, QLabel]:
    """(labels count, library facts) as two permanent status bar texts with a line between
    them, never one run-together sentence."""
    labels, library = QLabel(), QLabel()
    sep = QFrame()
    sep.setFrameShape(QFrame.Shape.VLine)
    sep.setFrameShadow(QFrame.Shadow.Sunken)
    for w in (labels, sep, library):
        bar.addPermanentWidget(w)
    return labels, library
