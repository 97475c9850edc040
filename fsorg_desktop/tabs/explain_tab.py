"""The Explain tab: an empty state, or the open library's :class:`ExplainView` and the
:class:`ExplainService` (model child process) it asks.

Explanations run only while the tab is on screen (the first one starts a model process: no
reason to pay for it unseen), debounced so arrow keys do not queue a request per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget

from fsorg_desktop.services.explain import ExplainService
from fsorg_desktop.views.explain_view import ExplainView

if TYPE_CHECKING:
    from fsorg_desktop.jobs import JobRunner
    from fsorg_desktop.library import LibraryState

EMPTY_TEXT = (
    "<h3>Explain</h3><p>Open a library, then select a folder: this tab shows the heuristic rule "
    "that fired, the model's top three labels and the three nearest folders you labelled.</p>"
)


class ExplainTab(QStackedWidget):
    folder_activated = Signal(int)  # a nearest folder was double-clicked (ask)
    message_shown = Signal(str)

    def __init__(
        self,
        runner: "JobRunner",
        *,
        note_for: Callable[[int], str | None],
        current_folder: Callable[[], int | None],
        name_for: Callable[[int], str | None] = lambda _fid: None,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._note_for = note_for  # a line above the explanation (a suspect label's verdict)
        self._current_folder = current_folder  # the folder selected when the tab is opened
        self._name_for = name_for  # a folder's name for "Explaining “maps”…"
        self.service: ExplainService | None = None
        self.view: ExplainView | None = None
        self._pending: int | None = None
        self._timer = QTimer(self, singleShot=True, interval=300)  # debounce: arrow keys race
        self._timer.timeout.connect(self.explain_now)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.empty.setMargin(16)
        self.addWidget(self.empty)

    def is_current(self) -> bool:
        """Whether this is the side tab on top (also before the window is shown)."""
        stack = self.parentWidget()
        return isinstance(stack, QStackedWidget) and stack.currentWidget() is self

    def set_library(self, state: "LibraryState", model_path: str | None) -> None:
        """Stop the old library's model process; a new service and view for ``state``."""
        self.shutdown()
        if self.view is not None:
            self.removeWidget(self.view)
            self.view.deleteLater()
            self.view = self.service = None
        self._pending = None
        if state.snapshot is None:
            self.setCurrentWidget(self.empty)
            return
        self.service = ExplainService(state.settings, model=model_path, runner=self._runner, parent=self)
        self.view = ExplainView(self.service)
        self.view.folder_activated.connect(self.folder_activated)
        self.view.message_shown.connect(self.message_shown)
        self.addWidget(self.view)
        self.setCurrentWidget(self.view)

    def set_model(self, path: str | None) -> None:
        if self.view is not None:
            self.view.set_model(path)

    def shutdown(self) -> None:
        if self.service is not None:
            self.service.shutdown()

    def schedule(self, folder_id: int) -> None:
        self._pending = folder_id
        if self.is_current():
            self._timer.start()

    def shown(self) -> None:
        """The tab became current: explain the selected folder."""
        if self._pending is None:
            self._pending = self._current_folder()
        QTimer.singleShot(0, self, self.explain_now)  # (start(0) would change the debounce interval)

    def explain_now(self) -> None:
        """Explain the folder selected last, only while the tab is on screen."""
        view, fid = self.view, self._pending
        if view is None or fid is None or not self.is_current():
            return
        view.set_note(self._note_for(fid))
        if view.folder_id != fid or (view.explanation is None and not view.is_busy()):
            view.show_folder(fid, self._name_for(fid))
