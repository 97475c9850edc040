"""The model actions of the window: evaluate the baseline, zero-shot, train, predict.

A controller apart from the main window for the same reason as
:mod:`fsorg_desktop.controllers.sample_actions`. Each action waits until every label edit
is in the database (the jobs read labels from there), starts an op from
:mod:`fsorg_desktop.ops.models` (a child process), and reports back: the report in a
dialog, new predictions through ``MainWindow.refresh_predictions``, a new eval run
through :attr:`results_available`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from engine.core.jobs import Cancelled, UserError
from fsorg_desktop.ops import models as model_ops
from fsorg_desktop.views.config_dialogs import TrainDialog

if TYPE_CHECKING:
    from fsorg_desktop.main_window import MainWindow


class ModelActions(QObject):
    results_available = Signal(object)  # an eval run id (or None) after a model job
    model_trained = Signal(str)  # the folder of a model just trained

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.w = window
        self.model_path: str | None = None  # the model trained (or chosen) in this session

    def _needs_labels(self, what: str) -> bool:
        if self.w.labels.count() == 0:
            self.w.dialogs.message(
                f"{what} needs labels",
                "Label some folders first: generate a sample (Ctrl+G) and press 1–6 on its rows, "
                "or import a labelled CSV (Ctrl+I).",
            )
            return False
        return True

    def _model_job_done(self, what: str):
        def done(result, error) -> None:
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.w.dialogs.error(f"{what} did not finish", error, what)
                return
            self.w.refresh_predictions()
            self.results_available.emit(getattr(result, "eval_run_id", None))
            report = getattr(result, "report", None)
            if report is not None:
                self._show_report(what, report)
            else:
                n = getattr(result, "n", None)
                self.w.statusBar().showMessage(f"{what}: done" + (f" ({n:,} folders)" if n else "") + ".", 15_000)

        return done

    def _show_report(self, what: str, report) -> None:
        from engine.evaluation.report import headline

        per_class = "\n".join(
            f"{name:>18}  P {s.precision:5.1%}  R {s.recall:5.1%}  F1 {s.f1:5.1%}  n={s.support}"
            for name, s in report.per_class.items()
        )
        errors = "\n".join(f"{t} -> {p} : {n} errors" for t, p, n in report.errors[:10])
        self.w.dialogs.message(
            f"{what}: Macro F1 {report.macro_f1:.1%}",
            f"<b>Macro F1 {report.macro_f1:.1%}</b> (accuracy {report.accuracy:.1%}, n={report.n:,}).<br>"
            + headline(report).replace("\n", "<br>"),
            informative="The Results tab shows the confusion matrix and per-class scores.",
            details=f"Per class:\n{per_class}\n\nMost common errors:\n{errors or '(none)'}",
        )

    def evaluate_baseline(self) -> None:
        if self.w.state is None or self.w.state.snapshot is None or not self._needs_labels("Evaluating the baseline"):
            return
        from engine.core.config import fine_tuning_dir, load_config

        settings = self.w.state.settings
        try:
            cfg = load_config("predict", fine_tuning_dir() / "predict_baseline.json")
        except UserError as e:
            self.w.dialogs.error("Invalid config", e, "Reading predict_baseline.json")
            return
        self.w.labels.when_saved(
            lambda: model_ops.predict_op(
                self.w.runner, settings, cfg, self._model_job_done("Baseline evaluation"), title="Evaluate baseline"
            )
        )

    def run_zero_shot(self) -> None:
        if self.w.state is None or self.w.state.snapshot is None or not self._needs_labels("Zero-shot evaluation"):
            return
        from engine.core.config import load_config

        settings = self.w.state.settings
        cfg = load_config("zero_shot")
        self.w.labels.when_saved(
            lambda: model_ops.zero_shot_op(self.w.runner, settings, cfg, self._model_job_done("Zero-shot evaluation"))
        )

    def train(self) -> None:
        if self.w.state is None or self.w.state.snapshot is None or not self._needs_labels("Training"):
            return
        from engine.core.config import load_config

        try:
            cfg = load_config("train")
        except UserError as e:
            self.w.dialogs.error("Invalid config", e, "Reading train.json")
            return
        path = self.model_path or str(model_ops.default_model_path(self.w.state.settings))
        dlg = TrainDialog(cfg, self.w.labels.count(), path, self.w)
        dlg.config_accepted.connect(lambda c, d=dlg: self.start_training(c, d.model_path.text().strip() or path))
        self.w.dialogs.keep(dlg)

    def start_training(self, cfg, model_path: str) -> None:
        if self.w.state is None:
            return
        settings = self.w.state.settings

        def done(result, error) -> None:
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.w.dialogs.error("Training did not finish", error, "Training")
                else:
                    self.w.statusBar().showMessage("Training cancelled; no model was saved.", 10_000)
                return
            self.model_path = str(result.model_path)
            self.model_trained.emit(self.model_path)
            self.results_available.emit(result.eval_run_id)
            if result.report is not None:
                self._show_report("Training", result.report)
            sc = result.report.scope if result.report is not None else None
            if sc is not None and sc.baseline_macro_f1 is not None and result.report.macro_f1 < sc.baseline_macro_f1:
                if self.w.dialogs.confirm(
                    "The fine-tuned model is worse than the baseline",
                    f"On the same {sc.n} held-out folders the fine-tuned model scored "
                    f"{result.report.macro_f1:.1%} and the shipped baseline {sc.baseline_macro_f1:.1%}.\n\n"
                    "Label the library with the baseline's predictions instead?",
                ):
                    self.predict_with_baseline()
                    return
            self.w.statusBar().showMessage(
                f"Model saved to {result.model_path} in {result.seconds:.0f} s. Predicting every folder…", 15_000
            )
            self.predict_all()

        self.w.labels.when_saved(lambda: model_ops.train_op(self.w.runner, settings, cfg, model_path, done))

    def predict_with_baseline(self) -> None:
        """Every folder labelled by the shipped baseline (``config/fine_tuning/keep_baseline.json``)."""
        if self.w.state is None:
            return
        from engine.core.config import fine_tuning_dir, load_config

        settings = self.w.state.settings
        cfg = load_config("predict", fine_tuning_dir() / "keep_baseline.json")
        self.w.labels.when_saved(
            lambda: model_ops.predict_op(
                self.w.runner, settings, cfg, self._model_job_done("Baseline predictions"), title="Predict with baseline"
            )
        )

    def predict_all(self) -> None:
        if self.w.state is None or self.w.state.snapshot is None:
            return
        from engine.core.config import load_config

        path = self.model_path or str(model_ops.default_model_path(self.w.state.settings))
        if not Path(path).exists():
            self.w.dialogs.message(
                "No trained model yet",
                f"There is no model in {path}. Train one first (Model ▸ Train model…, Ctrl+T), or "
                "evaluate the baseline (Ctrl+B) to see its predictions.",
            )
            return
        settings = self.w.state.settings
        cfg = load_config("predict")
        self.w.labels.when_saved(
            lambda: model_ops.predict_op(
                self.w.runner, settings, cfg, self._model_job_done("Prediction"), model_path=path
            )
        )
