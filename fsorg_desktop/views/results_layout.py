"""The results panel's widgets and their layout, built once (split from :mod:`.results_view`,
which keeps the behaviour: queries, drill-down, relabelling, exports).

Layout rules (issue 17): nothing in the panel is wider than the Results tab — the matrix and the
F1 bars sit side by side when they fit and one above the other when not (``ResultsPanel.
resizeEvent``); titles are short single lines; the drill-down never scrolls sideways.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fsorg_desktop.models.results_drill_model import ResultsDrillModel
from fsorg_desktop.models.results_errors_model import ResultsErrorsModel
from fsorg_desktop.models.results_history_model import ResultsHistoryModel
from fsorg_desktop.style.certainty import LEGEND as CERTAINTY_LEGEND
from fsorg_desktop.views.confusion_heatmap import ConfusionHeatmap
from fsorg_desktop.views.empty_hint import set_empty_text
from fsorg_desktop.views.f1_bars import F1Bars
from fsorg_desktop.views.history_view import ResultsHistoryView
from fsorg_desktop.views.results_comparison_view import ResultsComparisonView
from fsorg_desktop.views.results_drill_view import ResultsDrillView

if TYPE_CHECKING:
    from fsorg_desktop.views.results_view import ResultsPanel


def build_results_panel(panel: "ResultsPanel") -> None:
    """Create the panel's widgets as attributes of ``panel`` and lay them out."""
    # -- header: the number, the verdict, what run this is, actions
    panel.score_label = QLabel("–")
    big = QFont(panel.font())
    big.setPointSizeF(big.pointSizeF() * 2.4)
    big.setBold(True)
    panel.score_label.setFont(big)
    panel.score_label.setToolTip("Macro F1: the average of the per-class F1 scores")
    panel.score_caption = QLabel("Macro F1")
    panel.score_caption.setEnabled(False)
    panel.verdict_label = QLabel()
    vf = QFont(panel.font())
    vf.setPointSizeF(vf.pointSizeF() * 1.15)
    vf.setBold(True)
    panel.verdict_label.setFont(vf)
    panel.verdict_label.setWordWrap(True)
    panel.gain_label = QLabel()
    panel.gain_label.setWordWrap(True)
    panel.run_label = QLabel()
    panel.run_label.setWordWrap(True)
    panel.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    verdict_box = QVBoxLayout()
    verdict_box.addWidget(panel.verdict_label)
    verdict_box.addWidget(panel.gain_label)
    verdict_box.addWidget(panel.run_label)
    score_box = QVBoxLayout()
    score_box.addWidget(panel.score_caption)
    score_box.addWidget(panel.score_label)
    panel.export_button = QToolButton()
    panel.export_button.setText("Export")
    panel.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    menu = QMenu(panel.export_button)
    menu.addAction("Charts as PNG…", lambda: panel._ask_export("png"))
    menu.addAction("Numbers as CSV…", lambda: panel._ask_export("csv"))
    menu.addAction("Numbers as JSON…", lambda: panel._ask_export("json"))
    panel.export_button.setMenu(menu)
    panel.refresh_button = QPushButton("Refresh")
    panel.refresh_button.clicked.connect(panel.refresh)
    actions = QVBoxLayout()
    actions.addWidget(panel.export_button)
    actions.addWidget(panel.refresh_button)
    actions.addStretch(1)
    # The score and the buttons on one row, the words under them at the full width of the
    # panel: on a narrow side panel a column of wrapped words beside the score grew taller than
    # the charts could spare.
    top = QHBoxLayout()
    top.addLayout(score_box)
    top.addStretch(1)
    top.addLayout(actions)
    header = QVBoxLayout()
    header.addLayout(top)
    header.addLayout(verdict_box)

    # -- charts
    panel.heatmap = ConfusionHeatmap()
    panel.heatmap.cell_activated.connect(panel._on_cell_activated)
    panel.normalise_box = QCheckBox("Row-normalised (share of each true label)")
    panel.normalise_box.toggled.connect(panel.heatmap.set_normalised)
    legend = QLabel(
        "Blue: right answers · red: mistakes (darker = more) · click a cell to list its folders"
    )
    legend.setEnabled(False)
    legend.setWordWrap(True)
    heat_box = QVBoxLayout()
    heat_box.setContentsMargins(0, 0, 0, 0)
    heat_title = QLabel("<b>Confusion matrix</b>")
    heat_box.addWidget(heat_title)
    heat_box.addWidget(panel.heatmap, 1)
    heat_row = QHBoxLayout()
    heat_row.addWidget(panel.normalise_box)
    heat_row.addStretch(1)
    heat_box.addLayout(heat_row)
    heat_box.addWidget(legend)
    heat_w = QWidget()
    heat_w.setLayout(heat_box)

    panel.bars = F1Bars()
    panel.bars.class_activated.connect(lambda lb: panel._request_drill(lb, None))
    panel.errors_model = ResultsErrorsModel(panel)
    panel.errors_view = QListView()
    panel.errors_view.setModel(panel.errors_model)
    panel.errors_view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
    panel.errors_view.clicked.connect(panel._on_error_activated)
    panel.errors_view.activated.connect(panel._on_error_activated)
    panel.errors_view.setMinimumHeight(90)
    panel.errors_view.setIconSize(QSize(12, 12))
    set_empty_text(panel.errors_view, "No errors: every scored folder was predicted right.")
    right = QVBoxLayout()
    right.setContentsMargins(0, 0, 0, 0)
    # short one-line titles (a wrapped title's height is not reserved by the layout); the
    # reading hints are their tooltips
    f1_title = QLabel("<b>F1 per class</b>")
    f1_title.setToolTip("Hover a bar for its precision and recall; click it to list its folders")
    errors_title = QLabel("<b>Most common errors</b>")
    errors_title.setToolTip("True label → predicted label: number of folders. Click a line to list them")
    right.addWidget(f1_title)
    right.addWidget(panel.bars, 3)
    right.addWidget(errors_title)
    right.addWidget(panel.errors_view, 2)
    right_w = QWidget()
    right_w.setLayout(right)
    # Side by side when there is room, one above the other when not (see resizeEvent):
    # the panel never needs a horizontal scrollbar.
    charts_split = QSplitter(Qt.Orientation.Horizontal)
    charts_split.addWidget(heat_w)
    charts_split.addWidget(right_w)
    charts_split.setChildrenCollapsible(False)
    charts_split.setSizes([560, 440])
    panel.charts_split = charts_split

    # The part exported as PNG: header + charts.
    panel.charts = QFrame()
    charts_lay = QVBoxLayout(panel.charts)
    charts_lay.setContentsMargins(6, 6, 6, 6)
    charts_lay.addLayout(header)
    charts_lay.addWidget(charts_split, 1)

    # -- drill-down
    panel.drill_title = QLabel("Click a matrix cell, an error line or a bar to list its folders.")
    panel.drill_title.setWordWrap(True)
    panel.drill_note = QLabel()
    panel.drill_note.setWordWrap(True)
    panel.drill_note.setStyleSheet("QLabel { color: #9a6700; }")
    panel.drill_note.hide()
    panel.drill_model = ResultsDrillModel(panel)
    panel.drill_view = ResultsDrillView(panel.drill_model)
    panel.drill_view.label_requested.connect(panel._on_label_requested)
    panel.drill_view.folder_selected.connect(panel.folder_activated)
    set_empty_text(panel.drill_view, "No folders listed yet: click a matrix cell, an error line or a bar.")
    panel.changes_label = QLabel()
    panel.retrain_button = QPushButton("Retrain with my corrections")
    panel.retrain_button.setToolTip(
        "Train a new model on your current labels, then compare it with this run"
    )
    panel.retrain_button.clicked.connect(panel._on_retrain_clicked)
    drill_head = QHBoxLayout()
    drill_head.addWidget(panel.drill_title, 1)
    panel.certainty_legend = QLabel(CERTAINTY_LEGEND)  # one rule with the tree and Explain
    panel.certainty_legend.setWordWrap(True)
    panel.certainty_legend.setEnabled(False)
    drill_foot = QHBoxLayout()
    drill_foot.addWidget(panel.changes_label, 1)
    drill_foot.addWidget(panel.retrain_button)
    drill_w = QWidget()
    drill_lay = QVBoxLayout(drill_w)
    drill_lay.setContentsMargins(6, 0, 6, 6)
    drill_lay.addLayout(drill_head)
    drill_lay.addWidget(panel.drill_note)
    drill_lay.addWidget(panel.drill_view, 1)
    drill_lay.addWidget(panel.certainty_legend)
    drill_lay.addLayout(drill_foot)

    report_split = QSplitter(Qt.Orientation.Vertical)
    report_split.addWidget(panel.charts)
    report_split.addWidget(drill_w)
    report_split.setChildrenCollapsible(False)
    drill_w.setMinimumHeight(180)  # the drill-down never shrinks to its header
    panel.report_split = report_split
    report_split.setStretchFactor(0, 3)
    report_split.setStretchFactor(1, 2)
    report_split.setSizes([520, 300])

    panel.empty_label = QLabel(
        "No evaluation yet.\n\nTrain a model, or run the baseline or zero-shot model on labelled "
        "folders: its Macro F1, confusion matrix and errors will appear here."
    )
    panel.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    panel.empty_label.setWordWrap(True)
    panel.report_stack = QStackedWidget()
    panel.report_stack.addWidget(panel.empty_label)
    panel.report_stack.addWidget(report_split)

    # -- history and comparison
    panel.history_model = ResultsHistoryModel(panel)
    panel.history_view = ResultsHistoryView(panel.history_model)
    panel.history_view.run_requested.connect(panel._on_history_run_requested)
    panel.history_view.compare_requested.connect(panel.show_comparison)
    panel.comparison_view = ResultsComparisonView()
    panel.comparison_view.run_requested.connect(panel._on_history_run_requested)

    panel.tabs = QTabWidget()
    panel.tabs.setDocumentMode(True)
    panel.tabs.addTab(panel.report_stack, "Report")
    # History and Compare keep their natural width; on a narrow Results tab they scroll
    # (the Report page always fits)
    panel.tabs.addTab(_scrolled(panel.history_view), "History")
    panel.tabs.addTab(_scrolled(panel.comparison_view), "Compare")

    panel.message_label = QLabel()
    panel.message_label.setWordWrap(True)
    panel.message_label.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
    )
    panel.message_label.linkActivated.connect(lambda _link: panel._show_message(""))
    panel.message_label.hide()
    panel._message = ""
    panel._message_is_error = False
    lay = QVBoxLayout(panel)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(panel.message_label)
    lay.addWidget(panel.tabs, 1)
    panel.charts.setMinimumHeight(panel._charts_min_height(Qt.Orientation.Horizontal))
    panel._update_changes()


def _scrolled(page: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(page)
    area.setMinimumWidth(200)
    return area
