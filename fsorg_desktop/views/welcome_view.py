"""The empty state: what a new user sees before any library is scanned.

A big drop target that says exactly what to drop, an Open button and the recent
libraries. Dropping works anywhere on the window (the main window handles drops); this
view only draws the invitation and emits requests.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fsorg_desktop.app_settings import RecentLibrary


class WelcomeView(QWidget):
    open_requested = Signal()
    recent_requested = Signal(object)  # RecentLibrary

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.zone = QFrame()
        self.zone.setObjectName("dropZone")
        self.zone.setFrameShape(QFrame.Shape.StyledPanel)
        self.zone.setMinimumHeight(220)
        self.zone.setStyleSheet(
            "#dropZone { border: 2px dashed palette(mid); border-radius: 12px; }"
            "#dropZone[active=\"true\"] { border-color: palette(highlight); background: palette(alternate-base); }"
        )
        title = QLabel("Drop the root folder of your library here")
        f = title.font()
        f.setPointSizeF(f.pointSizeF() * 1.6)
        f.setBold(True)
        title.setFont(f)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "fsorg scans every folder under it (nothing is moved or changed), then guesses what "
            "each folder is.\nYou label a small sample with the number keys and train a model for the rest."
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        self._last: RecentLibrary | None = None
        self.open_button = QPushButton("Open a folder…")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self.open_requested)
        zl = QVBoxLayout(self.zone)
        zl.addStretch(1)
        zl.addWidget(title)
        zl.addWidget(hint)
        zl.addSpacing(12)
        zl.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignCenter)
        zl.addStretch(1)

        # The library used last is offered, never reopened behind the user's back.
        self.reopen_button = QPushButton()
        self.reopen_button.setObjectName("reopenLast")
        self.reopen_button.clicked.connect(self._on_reopen)
        self.reopen_button.hide()
        zl.insertWidget(zl.count() - 1, self.reopen_button, 0, Qt.AlignmentFlag.AlignCenter)
        self.recent_title = QLabel("<b>Recent libraries</b>")
        self.recent = QListWidget()
        self.recent.setMaximumHeight(160)
        self.recent.itemActivated.connect(self._on_recent)
        self.recent.itemDoubleClicked.connect(self._on_recent)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(40, 30, 40, 30)
        lay.addWidget(self.zone, 1)
        lay.addSpacing(12)
        lay.addWidget(self.recent_title)
        lay.addWidget(self.recent)

    def set_recent(self, items: list[RecentLibrary]) -> None:
        self._last = items[0] if items else None
        if self._last is not None:
            name = self._last.title.rstrip("/\\").rsplit("/", 1)[-1] or self._last.title
            self.reopen_button.setText(f"Reopen “{name}”")
            self.reopen_button.setToolTip(f"Scanned folder: {self._last.root or '?'}\nData folder: {self._last.data_dir}")
        self.reopen_button.setVisible(self._last is not None)
        self.recent.clear()
        for lib in items:
            it = QListWidgetItem(lib.title)
            it.setToolTip(f"Scanned folder: {lib.root or '?'}\nData folder: {lib.data_dir}")
            it.setData(Qt.ItemDataRole.UserRole, lib)
            self.recent.addItem(it)
        self.recent_title.setVisible(bool(items))
        self.recent.setVisible(bool(items))

    def set_drag_active(self, active: bool) -> None:
        self.zone.setProperty("active", "true" if active else "false")
        self.zone.style().unpolish(self.zone)
        self.zone.style().polish(self.zone)

    def _on_reopen(self) -> None:
        if self._last is not None:
            self.recent_requested.emit(self._last)

    def _on_recent(self, item: QListWidgetItem) -> None:
        self.recent_requested.emit(item.data(Qt.ItemDataRole.UserRole))
