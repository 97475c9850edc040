"""Models (issue 5): the real base model, a real SQLite file and a real folder tree, tiny step counts.

A module fixture scans a small on-disk library, extracts its features, stores a label run and
trains one model (3 fine-tuning steps); the tests then reload it, predict, cancel, and break
copies of it on purpose.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select

from engine.core.config import load_config
from engine.core.jobs import Cancelled, UserError, never_stop, no_progress
from engine.core.settings import StorageSettings
from engine.storage import Databases
from engine.storage import schema as S
from tests.conftest import run_cli

# A small library with the label of every folder (as a user would label it).
TREE: dict[str, str] = {
    "Acme Studio": "creator_or_studio",
    "Acme Studio/maps": "asset_type",
    "Acme Studio/maps/forest": "descriptor",
    "Acme Studio/maps/forest/goblin_camp_30x40": "content_subject",
    "Acme Studio/maps/forest/elf_village_20x20": "content_subject",
    "Acme Studio/maps/forest/ruined_tower_25x25": "content_subject",
    "Acme Studio/maps/desert": "descriptor",
    "Acme Studio/maps/desert/oasis_market_30x30": "content_subject",
    "Acme Studio/maps/desert/sand_temple_40x40": "content_subject",
    "Acme Studio/maps/desert/scorpion_nest_20x30": "content_subject",
    "Acme Studio/maps/winter": "descriptor",
    "Acme Studio/maps/winter/frozen_lake_30x30": "content_subject",
    "Acme Studio/maps/winter/ice_cave_20x20": "content_subject",
    "Acme Studio/tokens": "asset_type",
    "Acme Studio/tokens/goblin": "content_subject",
    "Acme Studio/tokens/dragon": "content_subject",
    "Acme Studio/misc": "other",
    "Bob Cartography": "creator_or_studio",
    "Bob Cartography/battlemaps": "asset_type",
    "Bob Cartography/battlemaps/night": "descriptor",
    "Bob Cartography/battlemaps/night/haunted_manor": "content_subject",
    "Bob Cartography/battlemaps/night/graveyard": "content_subject",
    "Bob Cartography/battlemaps/swamp": "descriptor",
    "Bob Cartography/battlemaps/swamp/witch_hut": "content_subject",
    "Bob Cartography/battlemaps/swamp/sunken_temple": "content_subject",
    "Bob Cartography/battlemaps/base_building": "unknown",
    "Bob Cartography/extras": "other",
    "Bob Cartography/2023": "other",
    "Bob Cartography/portraits": "asset_type",
    "Bob Cartography/portraits/wizard": "content_subject",
}
LEAF_FILES = {"asset_type": [], "content_subject": ["map.jpg", "map_grid.jpg", "map.dd2vtt"], "other": ["readme.txt"]}


def make_tree(root: Path) -> Path:
    lib = root / "library"
    for rel, label in TREE.items():
        d = lib / rel
        d.mkdir(parents=True, exist_ok=True)
        for f in LEAF_FILES.get(label, []):
            (d / f).write_bytes(b"")
    (lib / "Bob Cartography/portraits/wizard/wizard.png").write_bytes(b"")
    return lib


def scan_and_label(
    root: Path, *, with_splits: bool = False, train_slips: dict[str, str] | None = None
) -> StorageSettings:
    """gather + extract-features (the real engine functions) + a label run for every folder."""
    from engine.features.extract import extract_features
    from engine.labels.runs import LabelRow, create_label_run, set_labels
    from engine.scan.gather import gather

    lib = make_tree(root)
    settings = StorageSettings.from_storage_arg(root / "data")
    g = gather(lib, settings)
    dbs = Databases.open(settings)
    extract_features(dbs, g.snapshot_id, load_config("extract_features"))
    with dbs.training.connect() as c:
        ids = dict(c.execute(select(S.folder_features.c.rel_path, S.folder_features.c.folder_id)).all())
    slips = train_slips or {}  # label -> the label the user gave instead, in the train split only

    def split_of(i: int) -> str | None:
        return ("test" if i % 4 == 0 else "train") if with_splits else None

    rows = [
        LabelRow(ids[p], g.snapshot_id, p, slips.get(lb, lb) if split_of(i) == "train" else lb, split_of(i))
        for i, (p, lb) in enumerate(TREE.items())
    ]
    with dbs.training.begin() as c:
        rid = create_label_run(c, labeler="test", source="test", snapshot_id=g.snapshot_id)
        set_labels(c, rid, rows)
    dbs.dispose()
    return settings


TINY = dict(max_steps=3, batch_size=8, test_size=0.25, hardneg_k=2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from engine.models.training import train_model

    root = tmp_path_factory.mktemp("models")
    settings = scan_and_label(root)
    cfg = load_config("train", None, **TINY)
    result = train_model(
        settings, cfg, model_path=root / "models" / "clf", progress=no_progress, should_stop=never_stop
    )
    return settings, result


def _taxonomy():
    from engine.core.taxonomy import label_names

    return list(label_names())


def _stored(settings: StorageSettings, run_id: int):
    dbs = Databases.open(settings)
    with dbs.training.connect() as c:
        labels = json.loads(
            c.execute(select(S.prediction_runs.c.labels).where(S.prediction_runs.c.id == run_id)).scalar()
        )
        rows = c.execute(
            select(S.predictions).where(S.predictions.c.prediction_run_id == run_id).order_by(S.predictions.c.folder_id)
        ).all()
    dbs.dispose()
    return labels, rows


def test_train_writes_a_complete_safe_model_folder(trained):
    settings, result = trained
    p = result.model_path
    meta = json.loads((p / "metadata.json").read_text())
    assert meta["format"] == "fsorg-model"
    assert meta["body"]["type"] == "folder" and result.finetune_steps == 3
    assert set(meta["labels"]) == set(TREE.values())  # 'unknown' with one example included
    assert meta["recipe"]["blocks"][0] == "name" and meta["label_run_id"] == result.label_run_id
    assert (p / "head.safetensors").is_file() and (p / "body" / "model.safetensors").is_file()
    assert not list(p.rglob("*.pkl")) and not list(p.rglob("*.bin"))
    report = json.loads((p / "report.json").read_text())
    assert report["n"] == result.n_test > 0 and 0.0 <= report["macro_f1"] <= 1.0
    assert not [x for x in p.parent.iterdir() if x.name.startswith(".fsorg-tmp-")]
    dbs = Databases.open(settings)
    with dbs.training.connect() as c:
        ev = c.execute(select(S.eval_runs).where(S.eval_runs.c.id == result.eval_run_id)).one()
        m = c.execute(select(S.models).where(S.models.c.id == result.model_id)).one()
    dbs.dispose()
    assert ev.split == "test" and ev.n == result.n_test and m.path == str(p)


def test_reload_gives_the_same_predictions(trained):
    """Vectors cached by the in-memory fine-tuned body == vectors of the body reloaded from disk."""
    from engine.models.prediction import predict

    settings, result = trained
    cfg = load_config("predict", None, labeled_only=True)
    first = predict(settings, cfg, model_path=result.model_path, progress=no_progress, should_stop=never_stop)
    assert first.encoded_texts == 0  # everything was cached while training
    dbs = Databases.open(settings)
    with dbs.training.begin() as c:
        c.execute(delete(S.embedding_cache))
    dbs.dispose()
    second = predict(settings, cfg, model_path=result.model_path, progress=no_progress, should_stop=never_stop)
    assert second.encoded_texts == 1  # the body was loaded from the folder and used
    _, a = _stored(settings, first.prediction_run_id)
    _, b = _stored(settings, second.prediction_run_id)
    pa = np.stack([np.frombuffer(r.probs, np.float32) for r in a])
    pb = np.stack([np.frombuffer(r.probs, np.float32) for r in b])
    assert [r.label for r in a] == [r.label for r in b]
    np.testing.assert_allclose(pa, pb, atol=1e-4)
    # Every labelled folder taught this model (the head was refit on all): nothing is left to
    # score it on, and predict says so instead of reporting training-set figures as quality.
    assert first.report is None and "none is left to score it on" in (first.note or "")


def test_predict_label_is_argmax_of_stored_probs_and_csv(trained, tmp_path):
    from engine.models.prediction import predict

    settings, result = trained
    cfg = load_config("predict", None, labeled_only=False)
    out = tmp_path / "pred.csv"
    res = predict(settings, cfg, model_path=result.model_path, output_csv=out, progress=no_progress, should_stop=never_stop)
    labels, rows = _stored(settings, res.prediction_run_id)
    assert len(rows) == res.n == len(TREE) + 1  # every folder of the snapshot, the root included
    dbs = Databases.open(settings)
    with dbs.training.connect() as c:
        run = c.execute(select(S.prediction_runs).where(S.prediction_runs.c.id == res.prediction_run_id)).one()
    dbs.dispose()
    assert run.status == "complete" and run.model_id == result.model_id and run.kind == "finetuned"
    for r in rows:
        probs = np.frombuffer(r.probs, np.float32)
        assert probs.shape == (len(labels),) and abs(float(probs.sum()) - 1.0) < 1e-4
        assert r.label == labels[int(np.argmax(probs))]
        assert r.confidence == pytest.approx(float(probs.max()), abs=1e-6)
    from engine.core.csvio import read_csv

    table = read_csv(out)
    header = list(table.header) if hasattr(table, "header") else list(table.columns)
    for col in ("folder_id", "path", "name", "prediction", "confidence", *(f"p_{lb}" for lb in labels)):
        assert col in header
    text = out.read_text(encoding="utf-8-sig")
    assert "Acme Studio/maps/forest" in text


def test_cancel_mid_training_leaves_no_model_folder(tmp_path):
    from engine.models.training import train_model

    settings = scan_and_label(tmp_path)
    target = tmp_path / "models" / "cancelled"
    seen: list[str] = []
    stop = {"now": False}

    def progress(f: float, msg: str) -> None:
        seen.append(msg)
        if msg.startswith("fine-tuning step 1/"):
            stop["now"] = True

    cfg = load_config("train", None, **{**TINY, "max_steps": 50})
    with pytest.raises(Cancelled):
        train_model(settings, cfg, model_path=target, progress=progress, should_stop=lambda: stop["now"])
    assert any("ETA" in m for m in seen)
    assert not target.exists()
    assert not [p for p in target.parent.glob("*")] if target.parent.exists() else True


def test_cancel_between_body_and_head_leaves_no_model_folder(tmp_path):
    from engine.models.training import train_model

    settings = scan_and_label(tmp_path, with_splits=True)
    target = tmp_path / "models" / "between"
    stop = {"now": False}
    calls = {"n": 0}

    def progress(f: float, msg: str) -> None:
        if msg.startswith("fine-tuning step 2/2"):
            stop["now"] = True  # the body phase is over: the next check is between the phases

    def should_stop() -> bool:
        calls["n"] += 1
        return stop["now"]

    cfg = load_config("train", None, **{**TINY, "max_steps": 2})
    with pytest.raises(Cancelled):
        train_model(settings, cfg, model_path=target, progress=progress, should_stop=should_stop)
    assert stop["now"] and not target.exists()
    assert not (target.parent.exists() and any(target.parent.iterdir()))


def _copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_bad_model_folders_are_clear_errors(trained, tmp_path):
    from engine.models.modelio import load_model_folder

    _, result = trained
    tax = _taxonomy()
    with pytest.raises(UserError, match="no model folder"):
        load_model_folder(tmp_path / "nope", taxonomy=tax)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="half-written"):
        load_model_folder(tmp_path / "empty", taxonomy=tax)
    half = _copy_model(result.model_path, tmp_path / "half")
    (half / "head.safetensors").unlink()
    with pytest.raises(UserError, match="missing head.safetensors"):
        load_model_folder(half, taxonomy=tax)
    corrupt = _copy_model(result.model_path, tmp_path / "corrupt")
    data = bytearray((corrupt / "head.safetensors").read_bytes())
    data[-10:] = b"\x00" * 10
    (corrupt / "head.safetensors").write_bytes(bytes(data))
    with pytest.raises(UserError, match="corrupt"):
        load_model_folder(corrupt, taxonomy=tax)
    badmeta = _copy_model(result.model_path, tmp_path / "badmeta")
    (badmeta / "metadata.json").write_text("{not json")
    with pytest.raises(UserError, match="corrupt metadata.json"):
        load_model_folder(badmeta, taxonomy=tax)
    other = _copy_model(result.model_path, tmp_path / "other-labels")
    meta = json.loads((other / "metadata.json").read_text())
    meta["labels"] = ["cats", "dogs"] + meta["labels"][2:]
    (other / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="do not match"):
        load_model_folder(other, taxonomy=tax)


def test_pickle_model_folders_are_refused_without_trust(trained, tmp_path):
    from engine.models.modelio import load_model_folder

    _, result = trained
    tax = _taxonomy()
    setfit_like = tmp_path / "setfit"
    setfit_like.mkdir()
    (setfit_like / "model_head.pkl").write_bytes(b"\x80\x04K\x01.")
    (setfit_like / "config.json").write_text("{}")
    with pytest.raises(UserError, match="--trust-pickle"):
        load_model_folder(setfit_like, taxonomy=tax)
    with pytest.raises(UserError, match="not an fsorg model"):
        load_model_folder(setfit_like, taxonomy=tax, trust_pickle=True)
    pickled_body = _copy_model(result.model_path, tmp_path / "pickled-body")
    (pickled_body / "body" / "model.safetensors").rename(pickled_body / "body" / "pytorch_model.bin")
    meta = json.loads((pickled_body / "metadata.json").read_text())
    meta["files"].pop("body/model.safetensors")
    (pickled_body / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="pickle"):
        load_model_folder(pickled_body, taxonomy=tax)


def test_unknown_base_model_is_a_clear_error_without_network(tmp_path):
    from engine.models.base import resolve_base_model

    with pytest.raises(UserError, match="never downloads"):
        resolve_base_model("sentence-transformers/paraphrase-MiniLM-L3-v2")
    (tmp_path / "notamodel").mkdir()
    with pytest.raises(UserError, match="not a sentence-transformers model"):
        resolve_base_model(str(tmp_path / "notamodel"))
    assert (resolve_base_model("all-MiniLM-L6-v2") / "modules.json").is_file()


def test_normalize_name_strips_decorations_only():
    from engine.models.inputs import normalize_name

    assert normalize_name("01_barn_sunset_34x51") == "barn sunset"
    assert normalize_name("ForgottenAdventures-maps") == "forgotten adventures maps"
    assert normalize_name("2023") == "2023"
    assert normalize_name("07.2 SC Small Craft") == "small craft"  # the initials repeat the words
    assert normalize_name("harbour webp") == "harbour"
    assert normalize_name("2.5.0") == "2 5 0"  # a version, not an ordering prefix
    # one normalizer: the model embeds exactly the text the features and heuristic use
    from engine.core.text import normalize_name as core

    for name in ("01_barn_sunset_34x51", "Fantasy Tavern (Night Version)", "100x100 Core"):
        assert normalize_name(name) == core(name).text


def test_baseline_and_zero_shot_predict_without_labels_of_their_own(trained, tmp_path):
    from engine.models.prediction import predict, zero_shot

    settings, _ = trained
    res = predict(
        settings,
        load_config("predict", None, use_baseline=True, labeled_only=True),
        progress=no_progress,
        should_stop=never_stop,
    )
    assert res.kind == "baseline" and res.report is not None and res.report.n == len(TREE)
    z = zero_shot(
        settings,
        load_config("zero_shot", None, labeled_only=True),
        split=None,
        output_csv=tmp_path / "zs.csv",
        progress=no_progress,
        should_stop=never_stop,
    )
    labels, rows = _stored(settings, z.prediction_run_id)
    assert z.report is not None and len(rows) == len(TREE)
    assert all(r.label == labels[int(np.argmax(np.frombuffer(r.probs, np.float32)))] for r in rows)
    # Names are cached: a second zero-shot run encodes nothing.
    z2 = zero_shot(
        settings, load_config("zero_shot", None, labeled_only=True), progress=no_progress, should_stop=never_stop
    )
    assert z2.encoded_texts == 0


@pytest.mark.slow
def test_cli_guide_workflow_end_to_end(tmp_path):
    """The fine-tuning guide's steps, as a new user types them, on a small real tree.

    Slow (30-100 s: nine processes that each load torch, 2 fine-tuning steps). The default suite
    keeps the same path in-process (test_first_ten_minutes: every Next: line pasted, frozen-body
    training) and real fine-tuning at 3 steps (this module's ``trained`` fixture)."""
    import csv

    lib = make_tree(tmp_path)
    data = tmp_path / "data"
    r = run_cli("gather", str(lib), "--storage", str(data))
    assert r.returncode == 0, r.stderr
    r = run_cli("model", "extract-features", "--storage", str(data))
    assert r.returncode == 0, r.stderr
    samples = tmp_path / "samples.csv"
    r = run_cli("model", "generate-samples", "--storage", str(data), "--output-csv", str(samples), "--sample-size", "40")
    assert r.returncode == 0, r.stderr
    with open(samples, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["label"] = TREE[row["path"]]
    with open(samples, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = run_cli("model", "apply-classifications", "--storage", str(data), "--input-csv", str(samples))
    assert r.returncode == 0, r.stderr
    cfg_dir = Path(__file__).resolve().parents[1] / "config" / "fine_tuning"
    r = run_cli("model", "predict", "--storage", str(data), "--config", str(cfg_dir / "predict_baseline.json"))
    assert r.returncode == 0, r.stderr
    assert "MACRO F1" in r.stdout and "MOST COMMON ERRORS" in r.stdout
    train_cfg = tmp_path / "train.json"
    train_cfg.write_text(json.dumps({"max_steps": 2, "batch_size": 8, "abstain_precision": None}))
    model = tmp_path / "models" / "my_classifier"
    r = run_cli("model", "train", "--storage", str(data), "--config", str(train_cfg), "--model-path", str(model))
    assert r.returncode == 0, r.stderr
    assert "Model saved to" in r.stdout and (model / "metadata.json").is_file()
    # After fine-tuning the report says what fine-tuning gained, never the "should I fine-tune" guide.
    assert "Fine-tuning" not in r.stdout and "vs baseline" in r.stdout or "WORSE than the shipped baseline" in r.stdout
    out = tmp_path / "pred.csv"
    r = run_cli("model", "predict", "--storage", str(data), "--model-path", str(model), "--output-csv", str(out))
    assert r.returncode == 0, r.stderr
    with open(out, encoding="utf-8-sig", newline="") as fh:
        pred = list(csv.DictReader(fh))
    assert len(pred) == len(TREE) + 1 and {"prediction", "confidence", "p_descriptor"} <= set(pred[0])
    # abstain_precision null: no thresholds stored, nothing abstains, final label = prediction.
    assert "abstention" not in json.loads((model / "metadata.json").read_text())
    assert all(p["abstained"] == "" and p["final_label"] == p["prediction"] for p in pred)
    assert "none is left to score it on" in r.stdout  # every labelled folder taught it (head refit on all)
    r = run_cli(
        "model", "predict", "--storage", str(data), "--model-path", str(model), "--include-training-folders"
    )
    assert r.returncode == 0, r.stderr
    assert "TRAINING-SET FIGURES" in r.stdout and "COVERAGE VS MACRO F1 ON KEPT PREDICTIONS" in r.stdout
    r = run_cli("model", "zero-shot", "--storage", str(data), "--split", "train")
    assert r.returncode == 0, r.stderr
    assert "ZERO-SHOT" in r.stdout
    # Bad input: a clear one-line error, exit 2, no traceback.
    r = run_cli("model", "predict", "--storage", str(data), "--model-path", str(tmp_path / "missing"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: There is no model folder")


def test_setfit_pickle_folder_needs_trust_then_predicts(trained, tmp_path):
    """A folder saved by SetFit itself (joblib head) is refused, and works with --trust-pickle."""
    from setfit import SetFitModel
    from sklearn.linear_model import LogisticRegression

    from engine.models import base as B
    from engine.models.prediction import predict

    settings, _ = trained
    body = B.load_body(B.resolve_base_model(None))
    texts = ["maps", "tokens", "forest", "desert", "goblin camp", "haunted manor"]
    y = ["asset_type", "asset_type", "descriptor", "descriptor", "content_subject", "content_subject"]
    head = LogisticRegression().fit(body.encode(texts), y)
    folder = tmp_path / "setfit-model"
    SetFitModel(model_body=body, model_head=head).save_pretrained(str(folder))
    assert (folder / "model_head.pkl").is_file()
    cfg = load_config("predict", None, labeled_only=True)
    with pytest.raises(UserError, match="--trust-pickle"):
        predict(settings, cfg, model_path=folder, progress=no_progress, should_stop=never_stop)
    res = predict(settings, cfg, model_path=folder, trust_pickle=True, progress=no_progress, should_stop=never_stop)
    labels, rows = _stored(settings, res.prediction_run_id)
    assert sorted(labels) == sorted(set(y)) and len(rows) == len(TREE) and res.report is not None
    assert all(r.label == labels[int(np.argmax(np.frombuffer(r.probs, np.float32)))] for r in rows)


def test_cancelled_predict_leaves_no_prediction_run(trained):
    from engine.models.prediction import predict

    settings, result = trained
    dbs = Databases.open(settings)
    with dbs.training.connect() as c:
        before = c.execute(select(S.prediction_runs.c.id)).all()
    stop = {"now": False}

    def progress(f: float, msg: str) -> None:
        if msg.startswith("stored"):
            stop["now"] = True  # rows are being written: the run must vanish, not stay half-written

    with pytest.raises(Cancelled):
        predict(
            settings, load_config("predict", None), model_path=result.model_path, output_csv=None,
            progress=progress, should_stop=lambda: stop["now"],
        )
    with dbs.training.connect() as c:
        after = c.execute(select(S.prediction_runs.c.id)).all()
        orphans = c.execute(
            select(S.predictions.c.folder_id).where(S.predictions.c.prediction_run_id.not_in([r.id for r in after] or [-1]))
        ).all()
    dbs.dispose()
    assert after == before and not orphans


# ----------------------------------------------------------------------- abstention (issue 9)


def test_abstention_thresholds_are_stored_and_reloaded(trained):
    from engine.models.modelio import load_model_folder

    _, result = trained
    meta = json.loads((result.model_path / "metadata.json").read_text())
    ab = meta["abstention"]
    from engine.core.config import load_config as _load_config

    assert ab["target_precision"] == pytest.approx(_load_config("train").abstain_precision)  # the shipped default
    assert set(ab["thresholds"]) == set(meta["labels"])
    assert all(0.0 <= t <= 1.0 for t in ab["thresholds"].values()) and ab["thresholds"]["unknown"] == 0.0
    assert "out-of-fold" in ab["chosen_on"] and 0.0 <= ab["oof_coverage"] <= 1.0
    assert result.abstention == ab
    loaded = load_model_folder(result.model_path, taxonomy=_taxonomy())
    assert loaded.metadata["abstention"] == ab


def test_predict_marks_abstained_rows_and_keeps_label_argmax(trained, tmp_path):
    """Thresholds that split the folders: rows below them are flagged, label == argmax still."""
    import csv

    from engine.models.prediction import predict

    settings, result = trained
    model = _copy_model(result.model_path, tmp_path / "strict")
    cfg = load_config("predict", None, labeled_only=False)
    first = predict(settings, cfg, model_path=model, progress=no_progress, should_stop=never_stop)
    labels, rows = _stored(settings, first.prediction_run_id)
    median = float(np.median([r.confidence for r in rows]))
    meta = json.loads((model / "metadata.json").read_text())
    meta["abstention"]["thresholds"] = {lb: (0.0 if lb == "unknown" else median) for lb in meta["labels"]}
    (model / "metadata.json").write_text(json.dumps(meta))
    out = tmp_path / "pred.csv"
    res = predict(
        settings, cfg, model_path=model, output_csv=out, include_training_folders=True,
        progress=no_progress, should_stop=never_stop,
    )
    labels, rows = _stored(settings, res.prediction_run_id)
    expect = {r.folder_id: (r.label != "unknown" and r.confidence < median - 1e-9) for r in rows}
    assert 0 < sum(expect.values()) < len(rows)
    assert res.n_abstained == sum(expect.values())
    for r in rows:
        probs = np.frombuffer(r.probs, np.float32)
        assert r.label == labels[int(np.argmax(probs))]  # the stored label is still the argmax
        assert r.abstained is expect[r.folder_id]
    with open(out, encoding="utf-8-sig", newline="") as fh:
        csv_rows = {int(x["folder_id"]): x for x in csv.DictReader(fh)}
    for r in rows:
        c = csv_rows[r.folder_id]
        assert c["prediction"] == r.label and c["abstained"] == str(int(expect[r.folder_id]))
        assert c["final_label"] == ("unknown" if expect[r.folder_id] else r.label)
    # The report gains the coverage table, and the model's own thresholds' row.
    cov = res.coverage
    assert cov["levels"][0]["min_confidence"] == 0.0 and cov["levels"][0]["coverage"] == 1.0
    assert [p["n_kept"] for p in cov["levels"]] == sorted((p["n_kept"] for p in cov["levels"]), reverse=True)
    labelled_kept = sum(1 for r in rows if r.folder_id in _labelled_ids(settings) and not expect[r.folder_id])
    assert cov["model_thresholds"]["n_kept"] == labelled_kept


def _labelled_ids(settings: StorageSettings) -> set[int]:
    dbs = Databases.open(settings)
    with dbs.training.connect() as c:
        ids = {r[0] for r in c.execute(select(S.labels.c.folder_id)).all()}
    dbs.dispose()
    return ids


def _cells_add_up(settings: StorageSettings, eval_run_id: int) -> dict:
    from engine.evaluation.queries import folders_for_cell, load_eval_run

    dbs = Databases.open(settings)
    try:
        run = load_eval_run(dbs.training, eval_run_id)
        assert run.items_exact
        rep = run.report
        for i, t in enumerate(rep.labels):
            for j, p in enumerate(rep.labels):
                dd = folders_for_cell(dbs.training, eval_run_id, t, p)
                assert dd.note is None
                assert len(dd.rows) == rep.confusion[i][j], (t, p)
                assert all(row.confidence is not None for row in dd.rows)
        with dbs.training.connect() as c:
            ev = c.execute(select(S.eval_runs).where(S.eval_runs.c.id == eval_run_id)).one()
        return {"eval": ev, "report": json.loads(ev.report)}
    finally:
        dbs.dispose()


def test_training_eval_run_can_be_drilled_into(trained):
    settings, result = trained
    got = _cells_add_up(settings, result.eval_run_id)
    ev, stored = got["eval"], got["report"]
    assert ev.prediction_run_id is not None and ev.split == "test" and ev.kind == "finetuned"
    assert len(stored["items"]) == ev.n == result.n_test
    # The report is the same one training printed and saved in the model folder.
    saved = json.loads((result.model_path / "report.json").read_text())
    assert {k: v for k, v in stored.items() if k != "items"} == saved == result.report.to_dict()
    labels, rows = _stored(settings, ev.prediction_run_id)
    assert len(rows) == result.n_test
    assert all(r.label == labels[int(np.argmax(np.frombuffer(r.probs, np.float32)))] for r in rows)


def test_predict_report_lists_its_items(trained):
    from engine.models.prediction import predict

    settings, result = trained
    res = predict(
        settings, load_config("predict", None, labeled_only=True), model_path=result.model_path,
        include_training_folders=True, progress=no_progress, should_stop=never_stop,
    )
    assert res.report_title.startswith("TRAINING-SET FIGURES")
    assert res.report.scope.held_out is False and res.report.scope.n_learned_from == len(TREE)
    stored = _cells_add_up(settings, res.eval_run_id)["report"]
    _, rows = _stored(settings, res.prediction_run_id)
    pred = {r.folder_id: r.label for r in rows}
    assert len(stored["items"]) == res.report.n == len(TREE)
    assert all(pred[f] == p for f, _t, p in stored["items"])
    assert "coverage" in stored and "model_thresholds" in stored["coverage"]


def test_baseline_reads_the_heuristic_guess(trained):
    """The shipped baseline's recipe feeds folder_features.heuristic_* to its head."""
    import dataclasses

    from engine.models.baseline import load_baseline
    from engine.models.data import load_records
    from engine.models.inputs import build_matrix

    settings, _ = trained
    base = load_baseline(_taxonomy())
    spec = base.recipe["heuristic"]
    assert spec["labels"] == _taxonomy() and base.metadata["metrics"]["variant"] == "portable+heuristic"
    dbs = Databases.open(settings)
    recs = load_records(dbs.training)
    dbs.dispose()
    assert recs and all(r.heuristic_label in _taxonomy() and r.heuristic_rule for r in recs)
    r = next(x for x in recs if x.heuristic_label == "asset_type")
    vec = {t: np.ones(base.emb_dim, np.float32) / np.sqrt(base.emb_dim) for t in ["maps"]}

    def lookup(t):
        return vec.get(t, np.ones(base.emb_dim, np.float32) / np.sqrt(base.emb_dim))

    with_h = build_matrix([r], base.recipe, lookup, base.emb_dim)
    without = build_matrix([dataclasses.replace(r, heuristic_label=None)], base.recipe, lookup, base.emb_dim)
    tail = len(spec["labels"])
    assert with_h.shape == without.shape == (1, base.head.coef.shape[1])
    assert np.count_nonzero(with_h[0, -tail:]) == 1 and not np.any(without[0, -tail:])
    assert with_h[0, -tail + spec["labels"].index("asset_type")] == pytest.approx(
        r.heuristic_confidence * spec["weight"]
    )


def test_train_then_predict_scores_only_folders_never_learned_from(tmp_path):
    """Issue 13: the model knows what it learned from; predict leaves those folders out by
    default; a fine-tuned model worse than the baseline on the same held-out folders says so."""
    from engine.models.prediction import predict
    from engine.models.training import train_model

    # Every 4th folder in the test split; in the train split the user swapped two labels
    # (a model that learns the slips is worse than the shipped baseline on the test folders).
    swap = {"content_subject": "asset_type", "asset_type": "content_subject"}
    settings = scan_and_label(tmp_path, with_splits=True, train_slips=swap)
    test_paths = {p for i, p in enumerate(TREE) if i % 4 == 0}
    cfg = load_config(
        "train", None, max_steps=1, batch_size=8, hardneg_k=2, refit_on_all_labels=False, abstain_precision=None,
    )
    res = train_model(settings, cfg, model_path=tmp_path / "m", progress=no_progress, should_stop=never_stop)
    meta = json.loads((res.model_path / "metadata.json").read_text())
    learned = set(meta["trained_on"]["body"]["rel_paths"]) | set(meta["trained_on"]["head"]["rel_paths"])
    assert learned == set(TREE) - test_paths and res.n_test == len(test_paths)
    text = res.report.format_text("T")
    assert "Fine-tuning" not in text and "Expected improvement" not in text
    assert res.report.scope.baseline_macro_f1 > res.report.macro_f1
    assert f"WORSE than the shipped baseline on the same {len(test_paths)} held-out folders" in text
    assert "config/fine_tuning/keep_baseline.json" in text and "rough: 90% bootstrap interval" in text

    pcfg = load_config("predict", None, labeled_only=True)
    honest = predict(settings, pcfg, model_path=res.model_path, progress=no_progress, should_stop=never_stop)
    dbs = Databases.open(settings)
    with dbs.training.connect() as c:
        ev = c.execute(select(S.eval_runs).where(S.eval_runs.c.id == honest.eval_run_id)).one()
        path_of = dict(c.execute(select(S.labels.c.folder_id, S.labels.c.rel_path)).all())
        same = c.execute(select(S.eval_runs.c.folder_set).where(S.eval_runs.c.id == res.eval_run_id)).scalar()
    dbs.dispose()
    scored = {path_of[f] for f, _t, _p in json.loads(ev.report)["items"]}
    assert scored == test_paths and honest.report.n == len(test_paths)
    assert ev.folder_set == same  # the same folders training scored: History may connect them
    assert "never learned from" in honest.report_title and honest.report.scope.held_out
    assert f"{len(TREE) - len(test_paths)} labelled folders this model learned from were left out" in (
        honest.report.format_text()
    )
    everything = predict(
        settings, pcfg, model_path=res.model_path, include_training_folders=True,
        progress=no_progress, should_stop=never_stop,
    )
    assert everything.report.n == len(TREE) and everything.report_title.startswith("TRAINING-SET FIGURES")
    assert "TRAINING-SET FIGURES" in everything.report.format_text()


def test_train_report_scores_the_baseline_as_predict_applies_it(tmp_path):
    """The train report's "vs the shipped baseline" figure is the baseline as ``model predict``
    gives it (first pass + stored tree-aware second pass + heuristic mix), on the same
    held-out folders: the train report, the predict run and the app agree."""
    from engine.evaluation.report import compute_report
    from engine.models.baseline import baseline_probabilities, load_baseline
    from engine.models.data import load_records
    from engine.models.prediction import predict
    from engine.models.training import train_model

    settings = scan_and_label(tmp_path, with_splits=True)
    test_paths = {p for i, p in enumerate(TREE) if i % 4 == 0}
    cfg = load_config("train", None, max_steps=1, batch_size=8, hardneg_k=2, refit_on_all_labels=False,
                      abstain_precision=None)
    res = train_model(settings, cfg, model_path=tmp_path / "m", progress=no_progress, should_stop=never_stop)

    pcfg = load_config("predict", None, use_baseline=True, labeled_only=True)
    run = predict(settings, pcfg, progress=no_progress, should_stop=never_stop)
    dbs = Databases.open(settings)
    with dbs.training.connect() as c:
        stored = {f: (lab, np.frombuffer(pr, dtype=np.float32)) for f, lab, pr in c.execute(
            select(S.predictions.c.folder_id, S.predictions.c.label, S.predictions.c.probs)
            .where(S.predictions.c.prediction_run_id == run.prediction_run_id)
        )}
        truth = dict(c.execute(select(S.labels.c.folder_id, S.labels.c.label)).all())
        path_of = dict(c.execute(select(S.labels.c.folder_id, S.labels.c.rel_path)).all())
    test_ids = sorted(f for f, p in path_of.items() if p in test_paths)
    by_id = {r.folder_id: r for r in load_records(dbs.training)}
    labels, probs = baseline_probabilities([by_id[f] for f in test_ids], training=dbs.training, batch_size=64,
                                           should_stop=never_stop)
    dbs.dispose()
    base = load_baseline(_taxonomy())
    assert base.metadata.get("collective"), "the shipped baseline stores its second pass"
    want = np.stack([stored[f][1] for f in test_ids])
    np.testing.assert_allclose(probs, want, atol=1e-5)  # what training compares with = what predict stores
    from engine.models import base as B
    from engine.models.data import featurize

    dbs = Databases.open(settings)
    X = featurize([by_id[f] for f in test_ids], base.recipe, training=dbs.training, model_key=base.body_key,
                  emb_dim=base.emb_dim, get_body=lambda: B.shared_body(base.body_path), batch_size=64,
                  progress=no_progress, should_stop=never_stop)
    dbs.dispose()
    first = base.head.predict_proba(X)
    assert np.abs(first - want).max() > 1e-3  # the first pass alone is not what predict gives
    predicted = compute_report([truth[f] for f in test_ids], [stored[f][0] for f in test_ids], list(labels))
    assert res.report.scope.baseline_macro_f1 == pytest.approx(predicted.macro_f1)

