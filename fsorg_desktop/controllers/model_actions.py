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
    from fsorg_desktop.app_settings import AppSettings
    from fsorg_desktop.controllers.host import Host


class ModelActions(QObject):
    results_available = Signal(object)  # an eval run id (or None) after a model job
    # (title, one-line summary) of a finished evaluation: the window shows a non-blocking notice
    report_ready = Signal(str, str)
    model_trained = Signal(str)  # the folder of a model just trained

    def __init__(self, host: "Host", app_settings: "AppSettings") -> None:
        super().__init__(host.parent)
        self.h = host
        self.app_settings = app_settings  # where the measured training speed is remembered
        self.model_path: str | None = None  # the model trained (or chosen) in this session

    def trained_model(self) -> str | None:
        """The model folder this session trained, if it is still there (None: the engine takes
        the newest trained model, or the baseline)."""
        path = self.model_path
        return path if path and Path(path).is_dir() else None

    def _snapshot_id(self) -> int | None:
        """The snapshot on screen: "predict all" means its folders (after a rescan, not the
        older snapshot the labels were made on)."""
        st = self.h.state
        return st.snapshot.id if st is not None and st.snapshot is not None else None

    def _needs_labels(self, what: str) -> bool:
        if self.h.labels.count() == 0:
            self.h.dialogs.message(
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
                    self.h.dialogs.error(f"{what} did not finish", error, what)
                return
            self.h.refresh_predictions()
            self.results_available.emit(getattr(result, "eval_run_id", None))
            report = getattr(result, "report", None)
            if report is not None:
                self._show_report(what, report)
            else:
                n = getattr(result, "n", None)
                self.h.status(f"{what}: done" + (f" ({n:,} folders)" if n else "") + ".", 15_000)

        return done

    def _show_report(self, what: str, report) -> None:
        """A one-line summary for the window's notice (never a modal box: a result must not
        stop the user's work or pile up on other results). The details are in the Results tab.
        The wording is the CLI's (``headline``): one story in both front ends."""
        from engine.evaluation.report import headline

        self.report_ready.emit(
            what,
            f"<b>{what}: Macro F1 {report.macro_f1:.1%}</b> (accuracy {report.accuracy:.1%}). "
            + headline(report).replace("\n", " "),
        )

    def evaluate_baseline(self) -> None:
        if self.h.state is None or self.h.state.snapshot is None or not self._needs_labels("Evaluating the baseline"):
            return
        from engine.core.config import fine_tuning_dir, load_config

        settings = self.h.state.settings
        try:
            cfg = load_config("predict", fine_tuning_dir() / "predict_baseline.json")
        except UserError as e:
            self.h.dialogs.error("Invalid config", e, "Reading predict_baseline.json")
            return
        self.h.labels.when_saved(
            lambda: model_ops.predict_op(
                self.h.runner, settings, cfg, self._model_job_done("Baseline evaluation"), title="Evaluate baseline"
            )
        )

    def run_zero_shot(self) -> None:
        if self.h.state is None or self.h.state.snapshot is None or not self._needs_labels("Zero-shot evaluation"):
            return
        from engine.core.config import load_config

        settings = self.h.state.settings
        cfg = load_config("zero_shot")
        self.h.labels.when_saved(
            lambda: model_ops.zero_shot_op(self.h.runner, settings, cfg, self._model_job_done("Zero-shot evaluation"))
        )

    def train(self) -> None:
        if self.h.state is None or self.h.state.snapshot is None or not self._needs_labels("Training"):
            return
        from engine.core.config import load_config

        try:
            cfg = load_config("train")
        except UserError as e:
            self.h.dialogs.error("Invalid config", e, "Reading train.json")
            return
        path = self.model_path or str(model_ops.default_model_path(self.h.state.settings))
        from fsorg_desktop.app_settings import MODEL_LOAD_S
        from fsorg_desktop.train_timing import remembered

        load_s, speed = remembered(self.app_settings)
        dlg = TrainDialog(cfg, self.h.labels.count(), path, self.h.parent, load_s=load_s, speed=speed,
                          measured=bool(self.app_settings.get(MODEL_LOAD_S)))
        dlg.config_accepted.connect(lambda c, d=dlg: self.start_training(c, d.model_path.text().strip() or path))
        self.h.dialogs.keep(dlg)

    def start_training(self, cfg, model_path: str) -> None:
        if self.h.state is None:
            return
        settings = self.h.state.settings
        n_labels = self.h.labels.count()
        clock: dict = {}

        def done(result, error) -> None:
            if error is None and "clock" in clock:  # the next estimate includes what this one took
                from fsorg_desktop.views.config_dialogs import estimate_training_seconds

                steps_s = estimate_training_seconds(n_labels, cfg)
                clock["clock"].remember(self.app_settings, steps_s, float(result.seconds))
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.h.dialogs.error("Training did not finish", error, "Training")
                else:
                    self.h.status("Training cancelled; no model was saved.", 10_000)
                return
            self.model_path = str(result.model_path)
            self.model_trained.emit(self.model_path)
            self.results_available.emit(result.eval_run_id)
            if result.report is not None:
                self._show_report("Training", result.report)
            sc = result.report.scope if result.report is not None else None
            if sc is not None and sc.baseline_macro_f1 is not None and result.report.macro_f1 < sc.baseline_macro_f1:
                if self.h.dialogs.confirm(
                    "The fine-tuned model is worse than the baseline",
                    f"On the same {sc.n} held-out folders the fine-tuned model scored "
                    f"{result.report.macro_f1:.1%} and the shipped baseline {sc.baseline_macro_f1:.1%}.\n\n"
                    "Label the library with the baseline's predictions instead?",
                ):
                    self.predict_with_baseline()
                    return
            self.h.status(
                f"Model saved to {result.model_path} in {result.seconds:.0f} s. Predicting every folder…", 15_000
            )
            self.predict_all()

        def start() -> None:
            from fsorg_desktop.train_timing import TrainingClock

            job = model_ops.train_op(self.h.runner, settings, cfg, model_path, done)
            clock["clock"] = TrainingClock(job)

        self.h.labels.when_saved(start)

    def predict_with_baseline(self) -> None:
        """Every folder labelled by the shipped baseline (``config/fine_tuning/keep_baseline.json``)."""
        if self.h.state is None:
            return
        from engine.core.config import fine_tuning_dir, load_config

        settings = self.h.state.settings
        cfg = load_config("predict", fine_tuning_dir() / "keep_baseline.json")
        self.h.labels.when_saved(
            lambda: model_ops.predict_op(
                self.h.runner, settings, cfg, self._model_job_done("Baseline predictions"), title="Predict with baseline",
                snapshot_id=self._snapshot_id(),
            )
        )

    def predict_all(self) -> None:
        if self.h.state is None or self.h.state.snapshot is None:
            return
        from engine.core.config import load_config

        path = self.model_path or str(model_ops.default_model_path(self.h.state.settings))
        if not Path(path).exists():
            self.h.dialogs.message(
                "No trained model yet",
                f"There is no model in {path}. Train one first (Model ▸ Train model…, Ctrl+T), or "
                "evaluate the baseline (Ctrl+B) to see its predictions.",
            )
            return
        settings = self.h.state.settings
        cfg = load_config("predict")
        self.h.labels.when_saved(
            lambda: model_ops.predict_op(
                self.h.runner, settings, cfg, self._model_job_done("Prediction"), model_path=path,
                snapshot_id=self._snapshot_id(),
            )
        )
