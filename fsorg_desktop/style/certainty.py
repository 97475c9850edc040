"""One rule for how sure a prediction looks, the same in the tree, the Results drill-down and
Explain: a prediction is shown *greyed* when it is not the model's confident answer —

* a heuristic guess (no model has predicted this folder yet; also in italics),
* the model abstained (below its per-class threshold: its answer is "unknown"), or
* the model's confidence is under 50 %.

A greyed model label ends in "?" and names the label the model leans to, so the tree and the
drill-down never disagree about what is shown ("Creator / studio?" in both, never "Unknown" in
one and "Creator / studio" in the other).
"""

from __future__ import annotations

LOW_CONFIDENCE = 0.5
UNKNOWN = "unknown"

LEGEND = (
    "Grey: not a sure answer — a heuristic guess (italic), or the model is under 50 % sure or "
    "abstained (shown with “?”, naming the label it leans to)."
)


def is_unsure(confidence: float | None, *, abstained: bool = False, label: str | None = None,
              heuristic: bool = False) -> bool:
    """Whether a prediction is shown greyed (see the module docstring)."""
    if heuristic or abstained or label == UNKNOWN:
        return True
    return confidence is not None and confidence < LOW_CONFIDENCE


def shown_title(title: str, unsure_model: bool) -> str:
    """A model label as shown: "Descriptor" or, when the model is not sure, "Descriptor?"."""
    return f"{title}?" if unsure_model and title else title
