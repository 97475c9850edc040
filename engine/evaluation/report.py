"""The evaluation report: Macro F1, what it was measured on, per-class
precision/recall/F1/support, the confusion matrix and the most common errors.

Every figure says what it was measured on (:class:`ScoredOn`, stored with the report) and
one function words it for the CLI and the app alike (:func:`headline`): a baseline or
zero-shot figure gets the fine-tuning guide's verdict (that table answers "should I
fine-tune?"); a fine-tuned model's figure says which folders it never learned from and,
after training, what fine-tuning gained over the shipped baseline on the same folders.

``Report.to_dict()`` is the JSON stored in ``eval_runs.report`` and drawn by the app.
Macro F1 averages the classes that occur in the true labels (a class the user never
used is not scored as 0); predictions into such a class still count as errors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

DECISION_GUIDE = (
    (0.70, "Fine-tuning may not be needed.", "-"),
    (0.60, "Fine-tuning optional.", "Moderate gain (~10-20%)"),
    (0.40, "Fine-tuning recommended.", "Significant gain (~20-30%)"),
    (-1.0, "Fine-tuning strongly recommended.", "High potential for improvement"),
)


GUIDED_KINDS = ("baseline", "zero_shot")  # the evaluations the decision guide is about
ROUGH_BELOW = 50  # fewer scored folders than this: the figure is rough (bootstrap interval shown)
KEEP_BASELINE_COMMAND = "python organizer.py model predict --config config/fine_tuning/keep_baseline.json"


def verdict(macro_f1: float) -> tuple[str, str]:
    """(decision, expected improvement) for a Macro F1 in [0, 1]."""
    for threshold, decision, gain in DECISION_GUIDE:
        if macro_f1 > threshold:
            return decision, gain
    return DECISION_GUIDE[-1][1], DECISION_GUIDE[-1][2]


@dataclass
class ClassScore:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Report:
    labels: list[str]  # order of the confusion matrix rows (true) and columns (predicted)
    macro_f1: float
    accuracy: float
    n: int
    per_class: dict[str, ClassScore]
    confusion: list[list[int]]
    errors: list[tuple[str, str, int]] = field(default_factory=list)  # (true, predicted, count)
    scored_labels: list[str] = field(default_factory=list)  # classes averaged into macro F1
    scope: ScoredOn | None = None  # what the figure was measured on (None: stored before fsorg said)

    @property
    def guided(self) -> bool:
        """Does the fine-tuning guide's verdict apply (a baseline / zero-shot figure)?"""
        return self.scope is None or self.scope.kind in GUIDED_KINDS

    @property
    def decision(self) -> str:
        return verdict(self.macro_f1)[0] if self.guided else ""

    def to_dict(self) -> dict:
        out = self._dict()
        if self.scope is not None:
            out["scope"] = self.scope.to_dict()
        return out

    def _dict(self) -> dict:
        return {
            "labels": self.labels,
            "macro_f1": self.macro_f1,
            "accuracy": self.accuracy,
            "n": self.n,
            "decision": self.decision,
            "expected_improvement": verdict(self.macro_f1)[1] if self.guided else "",
            "per_class": {k: vars(v) for k, v in self.per_class.items()},
            "confusion": self.confusion,
            "errors": [list(e) for e in self.errors],
            "scored_labels": self.scored_labels,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Report":
        return cls(
            labels=list(d["labels"]),
            macro_f1=float(d["macro_f1"]),
            accuracy=float(d["accuracy"]),
            n=int(d["n"]),
            per_class={k: ClassScore(**v) for k, v in d["per_class"].items()},
            confusion=[list(map(int, row)) for row in d["confusion"]],
            errors=[(a, b, int(n)) for a, b, n in d["errors"]],
            scored_labels=list(d.get("scored_labels", [])),
            scope=ScoredOn.from_dict(d["scope"]) if isinstance(d.get("scope"), dict) else None,
        )

    def format_text(self, title: str = "EVALUATION REPORT") -> str:
        out = []
        bar = "=" * 64
        out += [bar, title, bar]
        out.append(f"MACRO F1: {self.macro_f1 * 100:.1f}%   (accuracy {self.accuracy * 100:.1f}%, n={self.n})")
        out.append(headline(self))
        out.append("")
        out.append(f"{'label':<20} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}")
        for lb in self.labels:
            s = self.per_class[lb]
            if s.support == 0 and lb not in self.scored_labels and s.precision == 0:
                continue
            out.append(f"{lb:<20} {s.precision:>9.3f} {s.recall:>9.3f} {s.f1:>9.3f} {s.support:>8d}")
        out.append("")
        out.append("CONFUSION MATRIX (rows: true, columns: predicted)")
        # Full label names as column headers (a column is as wide as its name, at least 6).
        widths = [max(6, len(lb)) + 2 for lb in self.labels]
        out.append(" " * 20 + "".join(f"{lb:>{w}}" for lb, w in zip(self.labels, widths)))
        for lb, row in zip(self.labels, self.confusion):
            out.append(f"{lb:<20}" + "".join(f"{v:>{w}d}" for v, w in zip(row, widths)))
        out.append("")
        out.append("MOST COMMON ERRORS")
        if not self.errors:
            out.append("  (none)")
        for t, p, n in self.errors[:10]:
            out.append(f"  {t:<20} -> {p:<20} : {n} error{'s' if n != 1 else ''}")
        return "\n".join(out)


@dataclass
class ScoredOn:
    """What a figure was measured on, stored with the report (``report["scope"]``)."""

    kind: str  # baseline | zero_shot | finetuned
    n: int  # folders scored
    held_out: bool | None = True  # none of them taught the model (None: not recorded)
    n_learned_from: int = 0  # scored folders the model learned from (training-set figures)
    n_left_out: int = 0  # labelled folders left out because the model learned from them
    baseline_macro_f1: float | None = None  # the shipped baseline on the same folders
    interval90: tuple[float, float] | None = None  # bootstrap, when n < ROUGH_BELOW
    folder_set: str = ""  # folder_set_key of the scored folders (like with like)
    where: str = "labelled folders"  # "held-out test folders", "split 'test'", ...

    def to_dict(self) -> dict:
        d = dict(vars(self))
        d["interval90"] = list(self.interval90) if self.interval90 else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ScoredOn":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        iv = known.get("interval90")
        known["interval90"] = (float(iv[0]), float(iv[1])) if iv else None
        return cls(**known)


def folder_set_key(folder_ids: Sequence[int]) -> str:
    """A short fingerprint of a set of folders: two runs compare only when theirs are equal."""
    import hashlib

    ids = ",".join(str(i) for i in sorted({int(f) for f in folder_ids}))
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


def bootstrap_interval(
    y_true: Sequence[str], y_pred: Sequence[str], *, rounds: int = 1000, level: float = 0.9, seed: int = 0
) -> tuple[float, float]:
    """The central ``level`` interval of Macro F1 over folders resampled with replacement."""
    import numpy as np

    labels = sorted(set(y_true) | set(y_pred))
    idx = {lb: i for i, lb in enumerate(labels)}
    t = np.asarray([idx[v] for v in y_true])
    p = np.asarray([idx[v] for v in y_pred])
    n, k = len(t), len(labels)
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(rounds, n))
    tt, pp = t[draws], p[draws]
    f1s = np.empty(rounds)
    for r in range(rounds):
        cm = np.bincount(tt[r] * k + pp[r], minlength=k * k).reshape(k, k)
        tp = np.diag(cm).astype(float)
        sup, pred = cm.sum(axis=1), cm.sum(axis=0)
        prec = np.divide(tp, pred, out=np.zeros(k), where=pred > 0)
        rec = np.divide(tp, sup, out=np.zeros(k), where=sup > 0)
        f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(k), where=(prec + rec) > 0)
        f1s[r] = f1[sup > 0].mean()
    lo, hi = np.quantile(f1s, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def scope_for(
    kind: str,
    folder_ids: Sequence[int],
    y_true: Sequence[str],
    y_pred: Sequence[str],
    *,
    held_out: bool | None = True,
    n_learned_from: int = 0,
    n_left_out: int = 0,
    baseline_macro_f1: float | None = None,
    where: str = "labelled folders",
) -> ScoredOn:
    """The :class:`ScoredOn` of an evaluation (with the bootstrap interval when n is small)."""
    n = len(y_true)
    iv = bootstrap_interval(y_true, y_pred) if 0 < n < ROUGH_BELOW else None
    return ScoredOn(
        kind, n, held_out, n_learned_from, n_left_out, baseline_macro_f1, iv, folder_set_key(folder_ids), where
    )


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def headline(report: Report, scope: ScoredOn | None = None) -> str:
    """What the figure means, in words: the one text the CLI prints and the app draws.

    * baseline / zero-shot: the figure and the fine-tuning guide's verdict;
    * fine-tuned, after training: fine-tuned vs baseline on the same held-out folders (and a
      plain warning, with the command that keeps the baseline's predictions, when it is worse);
    * fine-tuned, predict: the figure on the labelled folders the model never learned from;
    * training-set figures (the user asked to include them): titled as such, never as quality.
    """
    s = scope or report.scope
    f1 = report.macro_f1
    kind = s.kind if s else None
    lines: list[str] = []
    if s is not None and s.kind in GUIDED_KINDS:
        who = "baseline" if s.kind == "baseline" else "zero-shot"
        lines.append(f"Macro F1 {_pct(f1)} on {s.n} {s.where} ({who}: it never learned from your labels).")
        decision, gain = verdict(f1)
        lines.append(f"Decision: {decision}" + (f"  Expected improvement: {gain}" if gain != "-" else ""))
    elif s is None or s.held_out is None:
        n = s.n if s else report.n
        lines.append(
            f"Macro F1 {_pct(f1)} on {n} labelled folders (stored before fsorg recorded whether the "
            "model had learned from them)."
        )
        if s is None or kind in GUIDED_KINDS:
            decision, gain = verdict(f1)
            lines.append(f"Decision: {decision}" + (f"  Expected improvement: {gain}" if gain != "-" else ""))
    elif not s.held_out:
        lines.append(
            f"TRAINING-SET FIGURES: Macro F1 {_pct(f1)} on {s.n} labelled folders, {s.n_learned_from} of which "
            "this model learned from. This measures what it remembers, not how good it is."
        )
    elif s.baseline_macro_f1 is not None:
        b = s.baseline_macro_f1
        d = (f1 - b) * 100
        if f1 + 1e-9 >= b:
            lines.append(
                f"Fine-tuned {_pct(f1)} vs baseline {_pct(b)} on the same {s.n} {s.where} ({d:+.1f} pts)."
            )
        else:
            lines.append(
                f"WARNING: the fine-tuned model is WORSE than the shipped baseline on the same {s.n} {s.where}: "
                f"{_pct(f1)} vs {_pct(b)} ({d:+.1f} pts)."
            )
            lines.append(f"To keep the baseline's predictions instead, run: {KEEP_BASELINE_COMMAND}")
    else:
        lines.append(f"Macro F1 {_pct(f1)} on {s.n} {s.where} this model never learned from.")
    if s is not None and s.held_out and s.n_left_out:
        lines.append(
            f"{s.n_left_out} labelled folders this model learned from were left out "
            "(--include-training-folders scores them too, as training-set figures)."
        )
    if s is not None and s.interval90 is not None and s.n < ROUGH_BELOW:
        lo, hi = s.interval90
        lines.append(
            f"With {s.n} folders this figure is rough: 90% bootstrap interval {_pct(lo)} to {_pct(hi)}."
        )
    return "\n".join(lines)


def compute_report(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> Report:
    """The report for ``y_pred`` against ``y_true``; ``labels`` fixes the matrix order."""
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    labels = list(labels)
    for v in list(y_true) + list(y_pred):
        if v not in labels:
            labels.append(v)
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    n = len(y_true)
    per_class: dict[str, ClassScore] = {}
    if n:
        import warnings

        with warnings.catch_warnings():
            # "A single label was found ... use the 'labels' parameter": it is passed (all labels)
            warnings.simplefilter("ignore", UserWarning)
            cm = confusion_matrix(list(y_true), list(y_pred), labels=labels).tolist()
            p, r, f, sup = precision_recall_fscore_support(
                list(y_true), list(y_pred), labels=labels, zero_division=0
            )
        for i, lb in enumerate(labels):
            per_class[lb] = ClassScore(float(p[i]), float(r[i]), float(f[i]), int(sup[i]))
    else:
        cm = [[0] * len(labels) for _ in labels]
        per_class = {lb: ClassScore(0.0, 0.0, 0.0, 0) for lb in labels}
    scored = [lb for lb in labels if per_class[lb].support > 0]
    macro = sum(per_class[lb].f1 for lb in scored) / len(scored) if scored else 0.0
    acc = sum(cm[i][i] for i in range(len(labels))) / n if n else 0.0
    errors = Counter((t, p) for t, p in zip(y_true, y_pred) if t != p)
    err_list = [(t, p, c) for (t, p), c in sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))]
    return Report(labels, macro, acc, n, per_class, cm, err_list, scored)


def macro_f1_min_support(
    y_true: Sequence[str], y_pred: Sequence[str], min_support: int = 3
) -> tuple[float, list[str]]:
    """Macro F1 over the classes with at least ``min_support`` true examples, and those classes.

    The one definition (the quality protocol's, the learning curves', the benches'):
    equal to ``sklearn.metrics.f1_score(y_true, y_pred, average="macro", labels=classes,
    zero_division=0)``. NaN and no classes when no class has that many examples.
    """
    if not len(y_true):
        return float("nan"), []
    rep = compute_report(list(y_true), list(y_pred), sorted(set(y_true) | set(y_pred)))
    scored = [lb for lb in rep.labels if rep.per_class[lb].support >= min_support]
    if not scored:
        return float("nan"), []
    return sum(rep.per_class[lb].f1 for lb in scored) / len(scored), scored
