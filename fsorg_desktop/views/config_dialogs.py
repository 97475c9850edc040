"""Small dialogs that edit an engine config (the same dataclasses the CLI loads).

Defaults come from ``config/fine_tuning/<command>.json`` through ``engine.core.config``; the
dialog only edits a copy and validates it with ``config.update(...)``, so the app and
the CLI can never disagree about what a value means or what range is allowed.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.config import ConfigError, GenerateSamplesConfig, TrainConfig


def _limits(cfg, name: str) -> tuple[float, float]:
    f = next(f for f in dataclasses.fields(cfg) if f.name == name)
    return f.metadata.get("min", 0), f.metadata.get("max", 1_000_000)


class _ConfigDialog(QDialog):
    config_accepted = Signal(object)  # the validated config

    def __init__(self, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.error = QLabel()
        self.error.setStyleSheet("color: #c0392b")
        self.error.setWordWrap(True)
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._on_ok)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)

    def _int(self, cfg, name: str, label: str, tip: str = "") -> QSpinBox:
        lo, hi = _limits(cfg, name)
        w = QSpinBox()
        w.setRange(int(lo), int(min(hi, 2**31 - 1)))
        w.setValue(int(getattr(cfg, name) or 0))
        w.setToolTip(tip)
        self.form.addRow(label, w)
        return w

    def _float(self, cfg, name: str, label: str, decimals: int = 2, step: float = 0.05, tip: str = "") -> QDoubleSpinBox:
        lo, hi = _limits(cfg, name)
        w = QDoubleSpinBox()
        w.setDecimals(decimals)
        w.setRange(float(lo), float(hi))
        w.setSingleStep(step)
        w.setValue(float(getattr(cfg, name) or 0.0))
        w.setToolTip(tip)
        self.form.addRow(label, w)
        return w

    def values(self) -> dict:
        raise NotImplementedError

    def build(self):
        """The edited config, validated by the engine (raises ConfigError)."""
        return self._config.update(**self.values())

    def _on_ok(self) -> None:
        try:
            cfg = self.build()
        except (ConfigError, ValueError) as e:
            self.error.setText(str(e).replace("<changes>: ", ""))
            self.error.show()
            return
        self.config_accepted.emit(cfg)
        self.accept()


class SamplesDialog(_ConfigDialog):
    """Sample size and depth range (defaults: generate_samples.json)."""

    def __init__(self, config: GenerateSamplesConfig, parent: QWidget | None = None) -> None:
        super().__init__("Generate samples", parent)
        self._config = config
        intro = QLabel(
            "Pick folders to label, spread over depths, parents and the heuristic's guesses. "
            "Folders you already labelled are never offered again."
        )
        intro.setWordWrap(True)
        self.form.addRow(intro)
        self.size = self._int(config, "sample_size", "Sample size", "200 is enough for a first evaluation; "
                              "800–1,200 for training a good model")
        self.min_depth = self._int(config, "min_depth", "Shallowest depth", "1 = folders directly in the library root")
        self.max_depth = self._int(config, "max_depth", "Deepest depth")
        self.diversity = self._float(config, "diversity_factor", "Diversity", tip="0 = proportional to the "
                                     "heuristic's classes, 1 = as even across classes as possible")

    def values(self) -> dict:
        return {
            "sample_size": self.size.value(),
            "min_depth": self.min_depth.value(),
            "max_depth": self.max_depth.value(),
            "diversity_factor": round(self.diversity.value(), 3),
        }


def estimate_training_seconds(
    n_labels: int, cfg: TrainConfig, *, load_s: float = 0.0, speed: float = 1.0
) -> float:
    """A rough duration for the dialog: contrastive pairs per epoch over the batch size,
    at the speed MiniLM-L6 reaches on a laptop CPU (~0.35 s per step of 32 pairs) times
    ``speed`` (this computer's measured factor), plus embedding the labelled folders, plus
    ``load_s`` (loading torch and the base model, measured on this computer). Capped by the
    time budget when set."""
    n_train = max(1, int(n_labels * (1 - cfg.test_size)))
    pairs = n_train * (max(cfg.positives_per_anchor, 1) + cfg.hardneg_k * cfg.hardneg_factor)
    steps = max(1, int(pairs / max(cfg.batch_size, 1))) * max(cfg.num_epochs, 1)
    if cfg.max_steps:
        steps = min(steps, cfg.max_steps)
    seconds = (8 + steps * 0.35 * (cfg.batch_size / 32) + n_labels * 0.01) * speed
    if cfg.time_budget_s:
        seconds = min(seconds, cfg.time_budget_s + 10)
    return seconds + load_s


def fmt_duration(seconds: float) -> str:
    if seconds < 90:
        return f"about {max(5, round(seconds / 5) * 5):.0f} seconds"
    return f"about {round(seconds / 60):.0f} minutes"


class TrainDialog(_ConfigDialog):
    """The main hyperparameters of train.json, the model folder and an estimated duration."""

    def __init__(
        self, config: TrainConfig, n_labels: int, model_path: str, parent: QWidget | None = None,
        *, load_s: float = 0.0, speed: float = 1.0, measured: bool = False,
    ) -> None:
        super().__init__("Train a model", parent)
        self._config = config
        self._n = n_labels
        self._load_s, self._speed, self._measured = load_s, speed, measured
        intro = QLabel(
            f"Fine-tune a classifier on your <b>{n_labels:,}</b> labelled folders. A share is held "
            "out to report Macro F1 at the end. Training runs in the background; you can keep labelling."
        )
        intro.setWordWrap(True)
        self.form.addRow(intro)
        self.model_path = QLineEdit(model_path)
        self.model_path.setToolTip("The folder the trained model is saved to (replaced atomically)")
        self.form.addRow("Model folder", self.model_path)
        self.epochs = self._int(config, "num_epochs", "Epochs")
        self.batch = self._int(config, "batch_size", "Batch size")
        self.lr = self._float(config, "learning_rate", "Learning rate", decimals=6, step=1e-5)
        self.test_size = self._float(config, "test_size", "Held-out share", tip="share of labels kept for the test")
        self.hardneg = self._int(config, "hardneg_k", "Hard negatives per folder",
                                 "pairs of look-alike folders with different labels, mined per folder")
        self.budget_on = QCheckBox("Stop after")
        self.budget = QSpinBox()
        self.budget.setRange(1, 24 * 60)
        self.budget.setSuffix(" min")
        self.budget.setValue(int((config.time_budget_s or 600) / 60))
        self.budget_on.setChecked(config.time_budget_s is not None)
        self.budget.setEnabled(self.budget_on.isChecked())
        self.budget_on.toggled.connect(self.budget.setEnabled)
        row = QWidget()
        rl = QVBoxLayout(row)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.budget_on)
        rl.addWidget(self.budget)
        self.form.addRow("Time budget", row)
        self.estimate = QLabel()
        self.form.addRow("Estimated time", self.estimate)
        for w in (self.epochs, self.batch, self.hardneg, self.budget):
            w.valueChanged.connect(self._update_estimate)
        self.test_size.valueChanged.connect(self._update_estimate)
        self.budget_on.toggled.connect(self._update_estimate)
        self._update_estimate()
        if n_labels < 12:
            self.error.setText(
                f"Only {n_labels} labelled folders: label at least a few per class (ideally 100+ in total) first."
            )
            self.error.show()

    def values(self) -> dict:
        return {
            "num_epochs": self.epochs.value(),
            "batch_size": self.batch.value(),
            "learning_rate": float(self.lr.value()),
            "test_size": round(self.test_size.value(), 3),
            "hardneg_k": self.hardneg.value(),
            "time_budget_s": float(self.budget.value() * 60) if self.budget_on.isChecked() else None,
        }

    def _update_estimate(self) -> None:
        try:
            cfg = self.build()
        except (ConfigError, ValueError):
            self.estimate.setText("—")
            return
        total = estimate_training_seconds(self._n, cfg, load_s=self._load_s, speed=self._speed)
        how = "measured on this computer" if self._measured else "a first guess until one training has run"
        self.estimate.setText(
            f"{fmt_duration(total)}, of which {fmt_duration(self._load_s)[6:]} loading the model ({how})"
        )
