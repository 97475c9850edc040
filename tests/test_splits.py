"""The one splitter (engine.labels.splits), the one Macro F1 over classes with >= k folders, and
the one headline every report is worded with (engine.evaluation.report)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import numpy as np
import pytest
from sklearn.metrics import f1_score

from engine.evaluation.report import (
    ScoredOn,
    bootstrap_interval,
    compute_report,
    headline,
    macro_f1_min_support,
    scope_for,
)
from engine.labels.splits import (
    assign_splits,
    family_groups,
    grouped_folds,
    keeps_families_whole,
    parent_of,
    split_train_test,
)

WORDS = "oak ash elm fir yew bay box ivy fig lime pine teak palm plum pear nut hazel alder birch rowan".split()


def library(n_parents: int = 30, seed: int = 0) -> tuple[list[str], list[str]]:
    """Packs of 2-6 children; siblings mostly share a label (as in a real library)."""
    rng = random.Random(seed)
    labels = ["content_subject", "descriptor", "asset_type", "other"]
    paths, y = [], []
    for p in range(n_parents):
        main = labels[p % 3]
        for c in range(rng.randint(2, 6)):
            paths.append(f"Creator {p}/{WORDS[p % len(WORDS)]}{p} pack/{WORDS[c]} {p} {c}")
            y.append(main if rng.random() < 0.8 else labels[(p + c) % 4])
    paths.append("Lonely/the only unknown")
    y.append("unknown")
    return paths, y


def test_family_groups_join_siblings_and_same_names():
    paths = ["A/maps/forest", "A/maps/desert", "B/forest", "C/tokens", "D/x/01_Goblin Camp", "E/goblin_camp"]
    g = family_groups(paths)
    assert g[0] == g[1]  # siblings
    assert g[0] == g[2]  # "forest" under another parent shares a name with a sibling
    assert g[4] == g[5]  # same normalized name
    assert g[3] != g[0] and g[3] != g[4]
    top = family_groups(["Gage Eakins", "seans-czepeku", "Gremlin"])
    assert len(set(top.tolist())) == 3  # the library root is not a pack: its children stay apart
    assert parent_of("A/maps/forest") == "A/maps" and parent_of("top") == ""


def test_grouped_split_keeps_every_parents_children_on_one_side():
    paths, y = library()
    groups = family_groups(paths)
    for seed in range(5):
        tr, te = split_train_test(y, groups, 0.2, seed)
        assert sorted(tr + te) == list(range(len(y)))
        side = {i: "test" for i in te} | {i: "train" for i in tr}
        by_parent: dict[str, set[str]] = defaultdict(set)
        for i, p in enumerate(paths):
            by_parent[parent_of(p)].add(side[i])
        assert all(len(s) == 1 for s in by_parent.values()), by_parent
        assert keeps_families_whole(groups, [side[i] for i in range(len(y))])
        assert 0.1 * len(y) <= len(te) <= 0.35 * len(y)
        assert "unknown" not in {y[i] for i in te}  # a class with one folder stays in training
        assert set(y) == {y[i] for i in tr}  # every class keeps training folders


def test_a_class_in_one_family_stays_in_training():
    paths = [f"P{i}/{WORDS[i]} room" for i in range(12)] + ["Z/ship a", "Z/ship b"]
    y = ["a"] * 6 + ["b"] * 6 + ["c", "c"]  # the two "c" folders are siblings: one family
    tr, te = split_train_test(y, family_groups(paths), 0.3, 1)
    assert {12, 13} <= set(tr) and te


def test_three_way_splits_are_grouped_and_keep_existing():
    paths, y = library(40, seed=3)
    groups = family_groups(paths)
    side = assign_splits(y, groups, validation_fraction=0.15, test_fraction=0.15, seed=2)
    c = Counter(side)
    assert c["test"] > 0 and c["validation"] > 0 and c["train"] > c["test"] + c["validation"]
    assert keeps_families_whole(groups, side)
    again = assign_splits(y, groups, validation_fraction=0.15, test_fraction=0.15, seed=7, existing=side)
    assert again == side


def test_grouped_folds_keep_families_in_one_fold_and_cover_every_row():
    paths, y = library()
    groups = family_groups(paths)
    fold = grouped_folds(y, groups, 5, seed=4)
    assert set(fold.tolist()) == set(range(5))
    for g in set(groups.tolist()):
        assert len(set(fold[groups == g].tolist())) == 1
    # Without groups: plain stratified folds (each class spread over the folds).
    plain = grouped_folds(["a"] * 10 + ["b"] * 10, None, 5, seed=0)
    assert Counter(plain.tolist()) == {k: 4 for k in range(5)}


def test_oof_probabilities_with_groups_never_see_a_family():
    from engine.models.folds import oof_probabilities

    rng = np.random.default_rng(0)
    paths, y = library(20, seed=1)
    X = rng.normal(size=(len(y), 8)).astype(np.float32)
    labels = sorted(set(y))
    P = oof_probabilities(X, y, labels, k_folds=4, seed=0, groups=family_groups(paths))
    assert P.shape == (len(y), len(labels))
    assert np.allclose(P.sum(axis=1), 1.0, atol=1e-4)
    # The lone "unknown" folder is judged by heads that never saw its class.
    assert P[y.index("unknown"), labels.index("unknown")] == 0.0


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_macro_f1_min_support_matches_sklearn(k):
    rng = random.Random(k)
    classes = ["a", "b", "c", "d", "e"]
    weights = [30, 12, 4, 2, 1]
    y_true = rng.choices(classes, weights, k=120)
    y_pred = [t if rng.random() < 0.7 else rng.choice(classes) for t in y_true]
    ours, scored = macro_f1_min_support(y_true, y_pred, k)
    assert scored == sorted(lb for lb, n in Counter(y_true).items() if n >= k)
    theirs = f1_score(y_true, y_pred, average="macro", labels=scored, zero_division=0)
    assert ours == pytest.approx(theirs, abs=1e-12)
    # min_support 1 is the report's Macro F1 (classes that occur in the truth).
    if k == 1:
        assert ours == pytest.approx(compute_report(y_true, y_pred, classes).macro_f1)


def test_macro_f1_min_support_with_no_class_that_big():
    f1, scored = macro_f1_min_support(["a", "b"], ["a", "a"], 3)
    assert f1 != f1 and scored == []


def test_bootstrap_interval_brackets_the_figure():
    rng = random.Random(0)
    y = rng.choices("abc", k=40)
    p = [t if rng.random() < 0.75 else rng.choice("abc") for t in y]
    f1 = compute_report(y, p, list("abc")).macro_f1
    lo, hi = bootstrap_interval(y, p)
    assert lo < f1 < hi and hi - lo > 0.05


def _report(f1_right: int, n: int = 40):
    y = ["a", "b"] * (n // 2)
    p = [t if i < f1_right else ("b" if t == "a" else "a") for i, t in enumerate(y)]
    return y, p


def test_headline_after_fine_tuning_never_shows_the_decision_guide():
    for right in (8, 20, 30, 40):  # every band of the guide
        y, p = _report(right)
        rep = compute_report(y, p, ["a", "b"])
        rep.scope = scope_for("finetuned", list(range(len(y))), y, p, baseline_macro_f1=0.5, where="held-out folders")
        text = headline(rep) + rep.format_text()
        assert "Fine-tuning" not in text and "Expected improvement" not in text
        assert rep.decision == "" and rep.to_dict()["decision"] == ""
        assert f"on the same {len(y)} held-out folders" in text
        assert "rough: 90% bootstrap interval" in text  # n < 50
    # A baseline figure gets the guide.
    rep = compute_report(*_report(8), ["a", "b"])
    rep.scope = ScoredOn("baseline", rep.n)
    assert "Fine-tuning" in headline(rep) and rep.decision


def test_headline_warns_when_fine_tuned_is_worse_than_the_baseline():
    y, p = _report(20)
    rep = compute_report(y, p, ["a", "b"])
    rep.scope = scope_for("finetuned", list(range(40)), y, p, baseline_macro_f1=0.9, where="held-out folders")
    text = headline(rep)
    assert "WORSE than the shipped baseline on the same 40 held-out folders" in text
    assert "python organizer.py model predict --config config/fine_tuning/keep_baseline.json" in text


def test_headline_titles_training_set_figures_as_such():
    y, p = _report(40, 60)
    rep = compute_report(y, p, ["a", "b"])
    rep.scope = scope_for("finetuned", list(range(60)), y, p, held_out=False, n_learned_from=45)
    text = headline(rep)
    assert text.startswith("TRAINING-SET FIGURES") and "45 of which this model learned from" in text
    assert "rough" not in text  # n >= 50
    back = type(rep).from_dict(rep.to_dict())
    assert back.scope == rep.scope and headline(back) == text


def test_a_handful_of_labels_still_splits_with_families_whole():
    """Every class smaller than the number of folds (a 20-row sample with a few labels): scikit-learn
    refuses to stratify; the split still keeps families whole instead of failing."""
    from engine.labels.splits import assign_splits, family_groups, grouped_folds, keeps_families_whole

    paths = [f"lib/p{i // 2}/f{i}" for i in range(8)]
    y = ["other", "descriptor", "asset_type", "content_subject", "other", "descriptor", "unknown", "asset_type"]
    groups = family_groups(paths)
    side = assign_splits(y, groups, validation_fraction=0.15, test_fraction=0.15, seed=1)
    assert len(side) == len(y) and keeps_families_whole(groups, side)
    folds = grouped_folds(y, groups, k=5, seed=1)
    assert {int(f) for f in folds} >= {0, 1}
    for g in set(groups.tolist()):
        assert len({int(folds[i]) for i in range(len(y)) if groups[i] == g}) == 1
