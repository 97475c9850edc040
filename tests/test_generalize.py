"""Issue 14: the baseline learns from the rows users' predictions read, and the tree-aware
mechanisms (neighbour label distributions, look-alike spreading, families) on a real scanned tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.core.config import load_config
from engine.core.settings import StorageSettings
from engine.features.extract import extract_features
from engine.features.heuristics import Heuristic, default_vocabulary
from engine.models import collective as CO
from engine.models.corpus import labelled_corpus, materialize_listing
from engine.models.data import load_records
from engine.scan.gather import gather
from engine.storage import Databases

# A small library as a dataset listing: two creators' packs, a token family, variants.
FILES = [
    "library/Tom Cartos/Forest Camp/Maps/forest_camp_30x20.jpg",
    "library/Tom Cartos/Forest Camp/Maps/forest_camp_night_30x20.jpg",
    "library/Tom Cartos/Forest Camp/night/forest_camp_night.dd2vtt",
    "library/Tom Cartos/Forest Camp/winter/forest_camp_winter.png",
    "library/Tom Cartos/Sunken City/Tokens/diver.png",
    "library/Tom Cartos/Sunken City/Dungeon/sunken_dungeon.webp",
    "library/Abyssal Brews/Tokens/Goblin/goblin_1.png",
    "library/Abyssal Brews/Tokens/Orc/orc_1.png",
    "library/Abyssal Brews/Tokens/Owlbear/owlbear_1.png",
    "library/Abyssal Brews/Tokens/Kobold/kobold_1.png",
    "library/Abyssal Brews/Tokens/Skeleton/skeleton_1.png",
    "library/Abyssal Brews/Tokens/dragon_tokens_readme/readme.txt",
    "library/Patreon Rewards/2023/bonus.zip",
    "library/Patreon Rewards/Instructions/howto.pdf",
]
LABELS = {
    "Tom Cartos": "creator_or_studio",
    "Tom Cartos/Forest Camp": "content_subject",
    "Tom Cartos/Forest Camp/Maps": "asset_type",
    "Tom Cartos/Forest Camp/night": "descriptor",
    "Tom Cartos/Forest Camp/winter": "descriptor",
    "Tom Cartos/Sunken City": "content_subject",
    "Tom Cartos/Sunken City/Tokens": "asset_type",
    "Tom Cartos/Sunken City/Dungeon": "descriptor",
    "Abyssal Brews": "creator_or_studio",
    "Abyssal Brews/Tokens": "asset_type",
    "Abyssal Brews/Tokens/Goblin": "content_subject",
    "Abyssal Brews/Tokens/Orc": "content_subject",
    "Abyssal Brews/Tokens/Owlbear": "content_subject",
    "Abyssal Brews/Tokens/Kobold": "content_subject",
    "Abyssal Brews/Tokens/Skeleton": "content_subject",
    "Abyssal Brews/Tokens/dragon_tokens_readme": "other",
    "Patreon Rewards": "other",
    "Patreon Rewards/2023": "other",
    "Patreon Rewards/Instructions": "other",
}


@pytest.fixture
def listing(tmp_path) -> Path:
    p = tmp_path / "files.txt"
    p.write_text("\n".join(FILES) + "\n", encoding="utf-8")
    return p


def user_rows(tree_root: Path, storage: Path, use_known_creators: bool) -> list:
    """What a user's library goes through: gather, extract-features, the rows predict reads."""
    settings = StorageSettings.from_storage_arg(storage)
    g = gather(tree_root, settings)
    dbs = Databases.open(settings)
    try:
        extract_features(dbs, g.snapshot_id, load_config("extract_features"),
                         heuristic=Heuristic(default_vocabulary(use_known_creators=use_known_creators)))
        return [r for r in load_records(dbs.training, snapshot_id=g.snapshot_id) if r.depth >= 1]
    finally:
        dbs.dispose()


def test_baseline_training_inputs_equal_what_extract_features_produces(tmp_path, listing):
    from engine.models.baseline import heuristic_recipe
    from engine.models.inputs import build_matrix, distinct_texts

    corpus = labelled_corpus([("small", listing, LABELS)], tmp_path / "corpus")
    assert sorted(r.rel_path for r in corpus.records) == sorted(LABELS)
    assert [LABELS[r.rel_path] for r in corpus.records] == corpus.labels

    # The same folders as a user scans them somewhere else.
    user_tree = materialize_listing(listing, tmp_path / "user")
    users = {r.rel_path: r for r in user_rows(user_tree, tmp_path / "user-data", use_known_creators=False)}
    fields = ("name", "depth", "parent_name", "grandparent_name", "children", "siblings", "top_exts",
              "file_count", "subfolder_count", "heuristic_label", "heuristic_confidence", "heuristic_rule")
    for r in corpus.records:
        u = users[r.rel_path]
        assert {f: getattr(r, f) for f in fields} == {f: getattr(u, f) for f in fields}, r.rel_path

    # ... so the baseline's input matrix is the one prediction builds (real embeddings).
    from engine.models import base as B
    from engine.models.embeddings import encode_texts

    recipe = heuristic_recipe(corpus.records)
    body = B.shared_body(B.resolve_base_model(None))
    texts = distinct_texts(list(corpus.records) + list(users.values()), recipe)
    vecs = dict(zip(texts, encode_texts(body, texts)))
    dim = int(body.get_embedding_dimension())
    Xc = build_matrix(corpus.records, recipe, vecs, dim)
    Xu = build_matrix([users[r.rel_path] for r in corpus.records], recipe, vecs, dim)
    assert np.array_equal(Xc, Xu)


@pytest.fixture
def scanned(tmp_path, listing):
    tree = materialize_listing(listing, tmp_path / "tree")
    recs = user_rows(tree, tmp_path / "data", use_known_creators=True)
    return recs


def test_neighbour_features_are_the_label_distributions_of_siblings_parent_children(scanned):
    recs = scanned
    pos = {r.rel_path: i for i, r in enumerate(recs)}
    idx = CO.tree_index(recs)
    L = ["a", "b", "c"]
    P = np.zeros((len(recs), len(L)), np.float32)
    P[:, 2] = 1.0  # everything "c" ...
    goblin, orc, tokens = pos["Abyssal Brews/Tokens/Goblin"], pos["Abyssal Brews/Tokens/Orc"], pos["Abyssal Brews/Tokens"]
    NF = CO.neighbour_features(idx, CO.with_known(P, {orc: 0, tokens: 1}))  # ... but the user said Orc=a, Tokens=b
    sibs = idx.siblings[goblin]
    assert {recs[j].rel_path for j in sibs} == {p for p in LABELS if p.startswith("Abyssal Brews/Tokens/")} - {
        "Abyssal Brews/Tokens/Goblin"}
    np.testing.assert_allclose(NF[goblin, :3], [1 / len(sibs), 0, 1 - 1 / len(sibs)], rtol=1e-6)  # siblings
    np.testing.assert_allclose(NF[goblin, 3:6], [0, 1, 0])  # parent: the user's label
    np.testing.assert_allclose(NF[goblin, 6:9], [0, 0, 0])  # a leaf has no children
    assert list(NF[goblin, 9:]) == [1.0, 1.0, 0.0]
    # the parent's children mean holds the user's Orc label; a folder never sees itself
    assert orc in idx.children[tokens] and tokens not in idx.children[tokens]
    assert NF[tokens, 6] == pytest.approx(1 / len(idx.children[tokens]))
    assert NF[tokens, 3 * 3 + 1] == 1.0  # has a parent (Abyssal Brews)


def test_a_user_label_spreads_to_unlabelled_lookalike_siblings_only(scanned):
    recs = scanned
    pos = {r.rel_path: i for i, r in enumerate(recs)}
    pred = ["descriptor"] * len(recs)
    goblin = pos["Abyssal Brews/Tokens/Goblin"]
    out = CO.spread_to_lookalikes(recs, [], pred, {goblin: "content_subject"})
    for name in ("Orc", "Owlbear", "Kobold", "Skeleton"):
        assert out[pos[f"Abyssal Brews/Tokens/{name}"]] == "content_subject"
    # a sibling of another name form keeps its prediction, and so do folders elsewhere
    assert out[pos["Abyssal Brews/Tokens/dragon_tokens_readme"]] == "descriptor"
    assert out[pos["Tom Cartos/Forest Camp/night"]] == "descriptor"


def test_families_find_the_unlabelled_token_family(scanned):
    recs = scanned
    fams = CO.families(recs, min_size=4)
    names = [{recs[i].name for i in f} for f in fams]
    assert {"Goblin", "Orc", "Owlbear", "Kobold", "Skeleton"} in names


def _vectors(records, recipe):
    from engine.models import base as B
    from engine.models.embeddings import encode_texts
    from engine.models.inputs import distinct_texts

    body = B.shared_body(B.resolve_base_model(None))
    texts = distinct_texts(records, recipe)
    return dict(zip(texts, encode_texts(body, texts))), int(body.get_embedding_dimension())


@pytest.mark.parametrize("mix", [0.0, 0.5])
def test_tree_pass_is_stored_with_the_model_and_applied_by_predict(tmp_path, listing, mix):
    """Fit the second pass on a real scanned tree, store it in a baseline folder, and check the
    real predict path returns exactly the second pass's probabilities (with ``mix``: times the
    rule-based guess to that power)."""
    import csv

    from engine.core.jobs import never_stop, no_progress
    from engine.core.taxonomy import label_names
    from engine.models.baseline import build_baseline, heuristic_recipe
    from engine.models.inputs import build_matrix
    from engine.models.modelio import load_model_folder
    from engine.models.prediction import predict

    corpus = labelled_corpus([("small", listing, LABELS)], tmp_path / "corpus")
    recs, y = corpus.records, corpus.labels
    recipe = heuristic_recipe(recs)
    vecs, dim = _vectors(recs, recipe)
    X = build_matrix(recs, recipe, vecs, dim)
    used = [lb for lb in label_names() if lb in set(y)]
    groups = [r.rel_path.split("/")[0] for r in recs]
    h2 = CO.fit_tree_pass(X, y, recs, groups, ["small"] * len(recs), used, C=1.0)
    spec = CO.tree_spec(h2, heuristic_mix=mix, labels=used)
    model_dir = build_baseline(recs, y, labels=list(label_names()), target=tmp_path / "model", recipe=recipe,
                               extra_metadata={"collective": spec})
    m = load_model_folder(model_dir, taxonomy=list(label_names()))
    assert m.metadata["collective"]["kind"] == "tree"

    # A user scans the same library and predicts every folder with that model folder.
    user_tree = materialize_listing(listing, tmp_path / "user")
    settings = StorageSettings.from_storage_arg(tmp_path / "user-data")
    g = gather(user_tree, settings)
    dbs = Databases.open(settings)
    extract_features(dbs, g.snapshot_id, load_config("extract_features"),
                     heuristic=Heuristic(default_vocabulary(use_known_creators=False)))
    user_recs = load_records(dbs.training, snapshot_id=g.snapshot_id)
    dbs.dispose()
    res = predict(settings, load_config("predict", None, labeled_only=False, use_baseline=False),
                  model_path=model_dir, output_csv=tmp_path / "pred.csv", progress=no_progress,
                  should_stop=never_stop)
    with open(res.csv_path, encoding="utf-8-sig", newline="") as fh:
        got = {r["path"]: r["prediction"] for r in csv.DictReader(fh)}
    vecs_u, _ = _vectors(user_recs, m.recipe)  # the scanned root's name too
    Xu = build_matrix(user_recs, m.recipe, vecs_u, dim)
    P2 = CO.apply_tree(spec, user_recs, Xu, m.head.predict_proba(Xu))
    if mix:
        plain = CO.apply_tree({k: v for k, v in spec.items() if k != "heuristic_mix"}, user_recs, Xu,
                              m.head.predict_proba(Xu))
        assert np.allclose(P2, CO.mix_heuristic(plain, user_recs, used, mix), atol=1e-6)
    want = {r.rel_path: m.labels[int(P2[i].argmax())] for i, r in enumerate(user_recs) if r.depth >= 1}
    assert {p: got[p] for p in want} == want
    # The stored probabilities are apply_tree's too, up to float32 rounding (predict computes a
    # whole library's second-pass logits in the same pass over the inputs as the first pass).
    from sqlalchemy import select

    from engine.storage import schema as S

    dbs = Databases.open(settings)
    with dbs.training.connect() as c:
        stored = dict(c.execute(select(S.predictions.c.folder_id, S.predictions.c.probs)
                                .where(S.predictions.c.prediction_run_id == res.prediction_run_id)).all())
    dbs.dispose()
    got_p = np.stack([np.frombuffer(stored[r.folder_id], np.float32) for r in user_recs])
    assert got_p.shape == P2.shape and np.abs(got_p - P2).max() < 1e-5
    # ... and the second pass is not a no-op on this tree: the first pass alone differs somewhere
    # or agrees everywhere with the user's labels (then both are right).
    P1 = m.head.predict_proba(Xu)
    first = {r.rel_path: m.labels[int(P1[i].argmax())] for i, r in enumerate(user_recs) if r.depth >= 1}
    assert first != want or all(want[p] == LABELS[p] for p in want)


def test_heuristic_mix_pulls_towards_the_rules_and_its_weight_is_chosen_out_of_fold(scanned):
    """The product of experts with the rule-based guess, and the choice of its weight on
    source-out-of-fold first passes of a real scanned tree (no weight tuned by hand)."""
    recs = [r for r in scanned if r.rel_path in LABELS]
    y = [LABELS[r.rel_path] for r in recs]
    labels = sorted(set(y))
    guessed = [i for i, r in enumerate(recs) if r.heuristic_label in labels]
    assert guessed
    # a first pass that leans to a wrong label wherever the rules have a guess
    P = np.full((len(recs), len(labels)), 0.1, np.float32)
    for i, r in enumerate(recs):
        wrong = next(lb for lb in labels if lb != r.heuristic_label)
        P[i, labels.index(wrong)] = 0.25
    P /= P.sum(axis=1, keepdims=True)
    assert np.array_equal(CO.mix_heuristic(P, recs, labels, 0.0), P)
    M = CO.mix_heuristic(P, recs, labels, 3.0)
    assert np.allclose(M.sum(axis=1), 1.0, atol=1e-5)
    assert all(labels[int(M[i].argmax())] == recs[i].heuristic_label for i in guessed)
    # the weight chosen: the best of the grid on those first passes, and > 0 when the rules help
    from engine.evaluation.report import macro_f1_min_support

    groups = [r.rel_path.split("/")[0] for r in recs]
    a = CO.choose_heuristic_mix(P, recs, y, groups, labels, min_group=30)
    assert a in CO.MIX_GRID

    def score(alpha):
        pred = [labels[int(j)] for j in CO.mix_heuristic(P, recs, labels, alpha).argmax(axis=1)]
        return macro_f1_min_support(y, pred, 3)[0]

    assert score(a) == max(score(g) for g in CO.MIX_GRID) and score(a) > score(0.0)
    with pytest.raises(ValueError):
        CO.tree_spec(None, heuristic_mix=0.5)


def test_warm_start_keeps_the_corpus_and_lets_the_users_labels_win(tmp_path, listing):
    from engine.core.taxonomy import label_names
    from engine.models.inputs import DEFAULT_RECIPE, build_matrix
    from engine.models.warmstart import fit_warm_head, load_corpus, save_corpus, warm_weights

    corpus = labelled_corpus([("small", listing, LABELS)], tmp_path / "corpus")
    path = save_corpus(tmp_path / "corpus.json.gz", corpus.records, corpus.labels, corpus.dataset)
    recs, yc = load_corpus(path)
    assert [r.rel_path for r in recs] == [r.rel_path for r in corpus.records] and yc == corpus.labels
    assert [(r.children, r.siblings, r.top_exts) for r in recs] == [
        (r.children, r.siblings, r.top_exts) for r in corpus.records]

    w = warm_weights(5, 100, 1.0)
    assert w[:5].sum() == pytest.approx(100) and list(w[5:]) == [1.0] * 100

    recipe = dict(DEFAULT_RECIPE)
    vecs, dim = _vectors(recs, recipe)
    Xc = build_matrix(recs, recipe, vecs, dim)
    pos = {r.rel_path: i for i, r in enumerate(recs)}
    # The user labelled three folders; one of them against the corpus (night -> content_subject).
    user = {"Tom Cartos/Forest Camp/night": "content_subject", "Tom Cartos": "creator_or_studio",
            "Abyssal Brews/Tokens": "asset_type"}
    Xu = Xc[[pos[p] for p in user]]
    labels = [lb for lb in label_names() if lb in set(user.values())]
    head = fit_warm_head(Xu, list(user.values()), Xc, yc, labels, weight=1.0, C=1.0, seed=42)
    P = head.predict_proba(Xc)
    pred = {p: labels[int(P[i].argmax())] for p, i in pos.items()}
    assert pred["Tom Cartos/Forest Camp/night"] == "content_subject"  # the user's label wins
    # the corpus taught what three labels alone cannot: another creator, another asset type
    assert pred["Abyssal Brews"] == "creator_or_studio"
    assert pred["Tom Cartos/Forest Camp/Maps"] == "asset_type"
    # labels the user never used are never predicted (the corpus adds none)
    assert set(pred.values()) <= set(labels)


def test_a_labelled_only_prediction_reads_only_the_targets_neighbourhood(scanned):
    recs = scanned
    by = {r.rel_path: r for r in recs}
    near = {r.rel_path for r in CO.neighbourhood([by["Abyssal Brews/Tokens/Orc"]], recs)}
    assert near == {"Abyssal Brews/Tokens"} | {p for p in LABELS if p.startswith("Abyssal Brews/Tokens/")}
    assert "Tom Cartos" not in near and "Abyssal Brews" not in near


@pytest.mark.parametrize("mix", [0.0, 0.5])
def test_user_model_takes_the_rule_based_guess_as_a_second_expert(tmp_path, listing, mix):
    """``model train`` with ``heuristic_mix``: the saved head's probabilities are the learned
    head's times the heuristic's distribution ** mix, so predict (and Label next, Explain, the
    train report: they all call the head) compute exactly that; 0 leaves the head as it was."""
    from engine.core.config import TrainConfig
    from engine.core.jobs import never_stop, no_progress
    from engine.core.taxonomy import label_names
    from engine.labels.runs import LabelRow, create_label_run, set_labels
    from engine.models.inputs import build_matrix
    from engine.models.modelio import Head, load_model_folder
    from engine.models.training import train_model

    tree = materialize_listing(listing, tmp_path / "tree")
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    g = gather(tree, settings)
    dbs = Databases.open(settings)
    try:
        extract_features(dbs, g.snapshot_id, load_config("extract_features"))
        recs = load_records(dbs.training, snapshot_id=g.snapshot_id)
        by_path = {r.rel_path: r for r in recs}
        with dbs.training.begin() as c:
            run = create_label_run(c, labeler="test", source="test", snapshot_id=g.snapshot_id)
            set_labels(c, run, [LabelRow(by_path[p].folder_id, g.snapshot_id, p, lb, None) for p, lb in LABELS.items()])
    finally:
        dbs.dispose()
    cfg = TrainConfig(max_steps=0, heuristic_mix=mix, warm_start_weight=None, abstain_precision=None)
    train_model(settings, cfg, model_path=tmp_path / "model", progress=no_progress, should_stop=never_stop)
    m = load_model_folder(tmp_path / "model", taxonomy=list(label_names()))
    if not mix:
        assert "heuristic_prior" not in m.recipe
        return
    spec = m.recipe["heuristic_prior"]
    assert spec == {"labels": m.labels, "alpha": 0.5}
    L = len(m.labels)
    assert np.allclose(m.head.coef[:, -L:], 0.5 * np.eye(L))
    vecs, dim = _vectors(recs, m.recipe)
    X = build_matrix(recs, m.recipe, vecs, dim)
    learned = Head(m.head.coef.copy(), m.head.intercept.copy())
    learned.coef[:, -L:] = 0.0
    want = CO.mix_heuristic(learned.predict_proba(X), recs, m.labels, 0.5)
    assert np.allclose(m.head.predict_proba(X), want, atol=1e-5)
    # the mix moves something on this tree (the rules have a say), and never adds a label
    assert not np.allclose(learned.predict_proba(X), want, atol=1e-3)


def test_tree_pass_is_linear_in_a_flat_directory():
    """A flat folder of 20,000 token folders (one parent): the index stores one sibling group,
    not 20,000 lists of 19,999 (400 M entries, gigabytes), and every sibling mean is still the
    mean of the *other* folders' distributions."""
    from engine.models.inputs import FolderRecord

    n = 20_000
    recs = [FolderRecord(folder_id=1, rel_path="Tokens", name="Tokens", depth=1)] + [
        FolderRecord(folder_id=i + 2, rel_path=f"Tokens/creature_{i:05d}", name=f"creature_{i:05d}", depth=2)
        for i in range(n)
    ]
    idx = CO.tree_index(recs)
    assert len(idx.groups) == 1 and len(idx.groups[0]) == n and sum(map(len, idx.children)) == n
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), size=len(recs)).astype(np.float32)
    NF = CO.neighbour_features(idx, P)
    for i in (1, 777, n):
        others = [j for j in range(1, n + 1) if j != i]
        assert idx.siblings[i] == others
        np.testing.assert_allclose(NF[i, :4], P[others].mean(axis=0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(NF[i, 4:8], P[0])  # the parent
    np.testing.assert_allclose(NF[0, 8:12], P[1:].mean(axis=0), rtol=1e-5, atol=1e-7)  # the parent's children
    assert list(NF[0, 12:]) == [0.0, 0.0, 1.0] and list(NF[5, 12:]) == [1.0, 1.0, 0.0]
