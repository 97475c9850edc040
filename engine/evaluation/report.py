"""The evaluation report: Macro F1 with the fine-tuning guide's verdict, per-class
precision/recall/F1/support, the confusion matrix and the most common errors.

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

    @property
    def decision(self) -> str:
        return verdict(self.macro_f1)[0]

    def to_dict(self) -> dict:
        return {
            "labels": self.labels,
            "macro_f1": self.macro_f1,
            "accuracy": self.accuracy,
            "n": self.n,
            "decision": self.decision,
            "expected_improvement": verdict(self.macro_f1)[1],
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
        )

    def format_text(self, title: str = "EVALUATION REPORT") -> str:
        decision, gain = verdict(self.macro_f1)
        out = []
        bar = "=" * 64
        out += [bar, title, bar]
        out.append(f"MACRO F1: {self.macro_f1 * 100:.1f}%   (accuracy {self.accuracy * 100:.1f}%, n={self.n})")
        out.append(f"Decision: {decision}  Expected improvement: {gain}")
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


def compute_report(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> Report:
    """The report for ``y_pred`` against ``y_true``; ``labels`` fixes the matrix order."""
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    labels = list(labels)
    for v in list(y_true) + list(y_pred):
        if v not in labels:
            labels.append(v)
    idx = {lb: i for i, lb in enumerate(labels)}
    k = len(labels)
    cm = [[0] * k for _ in range(k)]
    for t, p in zip(y_true, y_pred):
        cm[idx[t]][idx[p]] += 1
    per_class: dict[str, ClassScore] = {}
    for lb, i in idx.items():
        tp = cm[i][i]
        support = sum(cm[i])
        predicted = sum(cm[r][i] for r in range(k))
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[lb] = ClassScore(precision, recall, f1, support)
    scored = [lb for lb in labels if per_class[lb].support > 0]
    macro = sum(per_class[lb].f1 for lb in scored) / len(scored) if scored else 0.0
    n = len(y_true)
    acc = sum(cm[i][i] for i in range(k)) / n if n else 0.0
    errors = Counter((t, p) for t, p in zip(y_true, y_pred) if t != p)
    err_list = [(t, p, c) for (t, p), c in sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))]
    return Report(labels, macro, acc, n, per_class, cm, err_list, scored)
