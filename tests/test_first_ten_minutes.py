"""The first ten minutes (issue 16): the fine-tuning guide's command forms work as written, every
``Next: python organizer.py …`` line fsorg prints can be pasted from the folder it was printed in,
``scripts/dev.sh`` resolves paths against the caller's folder, a Python without fsorg's packages
gets one line (no bug report, no logs), and training into an existing model folder keeps the old
model. Real library trees, real SQLite files, the real base model (frozen body: no fine-tuning
steps), real processes."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine import cli
from engine.core.config import CONFIG_CLASSES, ConfigError, fine_tuning_dir, load_config, resolve_config_path
from tests.conftest import ROOT, run_cli
from tests.test_models import TREE, make_tree

GUIDE_FORM = "organizer/config/fine_tuning/predict_baseline.json"  # FINE_TUNING_GUIDE.md's paths
README_FORM = "config/fine_tuning/predict_baseline.json"


def test_guide_and_readme_config_paths_name_fsorgs_file_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shipped = fine_tuning_dir() / "predict_baseline.json"
    for form in (GUIDE_FORM, README_FORM):
        assert resolve_config_path(form).resolve() == shipped.resolve()
        cfg = load_config("predict", form)
        assert cfg.use_baseline is True and cfg.labeled_only is True
    # The user's own file of that name, where they run the command, comes first.
    mine = tmp_path / "config" / "fine_tuning" / "predict_baseline.json"
    mine.parent.mkdir(parents=True)
    mine.write_text(json.dumps({"use_baseline": True, "labeled_only": False}))
    assert load_config("predict", README_FORM).labeled_only is False
    assert load_config("predict", GUIDE_FORM).labeled_only is True
    with pytest.raises(ConfigError, match="config/fine_tuning/nope.json: config file not found"):
        load_config("predict", "config/fine_tuning/nope.json")
    # Every command's file in the guide's form (generate_samples.json, train.json, predict.json, …).
    for command, cls in CONFIG_CLASSES.items():
        path = resolve_config_path(f"organizer/config/fine_tuning/{command}.json")
        assert path == fine_tuning_dir() / f"{command}.json"
        assert type(load_config(command, f"organizer/config/fine_tuning/{command}.json")) is cls


def _fsorg_script() -> Path | None:
    script = Path(sys.executable).parent / ("fsorg.exe" if os.name == "nt" else "fsorg")
    return script if script.exists() else None


@pytest.mark.parametrize("how", ["organizer.py", "fsorg script"])
def test_guide_config_form_through_organizer_py_and_the_console_script(tmp_path, how):
    """From a folder that is not the checkout: the guide's --config path is fsorg's file (the
    command then stops because nothing is scanned there, naming the data folder it looked in)."""
    if how == "organizer.py":
        exe = [sys.executable, str(ROOT / "organizer.py")]
    else:
        script = _fsorg_script()
        if script is None:
            pytest.skip(f"no 'fsorg' console script next to {sys.executable} (fsorg is not installed in it)")
        exe = [str(script)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # the script imports this checkout's engine
    for args in (
        ["model", "predict", "--storage", "data", "--config", GUIDE_FORM],
        ["model", "suspects", "--storage", "data", "--config", "organizer/config/fine_tuning/suspects.json"],
    ):
        r = subprocess.run([*exe, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2, r.stderr
        assert "config file not found" not in r.stderr and "Traceback" not in r.stderr
        assert f"Nothing is scanned in {tmp_path / 'data'}" in r.stderr
        assert f"--storage {tmp_path / 'data'}" in r.stderr


def test_help_names_the_way_fsorg_was_started_and_the_defaults(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/fsorg"])
    assert "Run 'fsorg COMMAND --help'" in cli.build_parser().format_help()
    r = run_cli("--help")
    assert r.returncode == 0 and "Run 'python organizer.py COMMAND --help'" in r.stdout
    assert "usage: python organizer.py" in r.stdout
    r = run_cli("model", "train", "--help")
    text = " ".join(r.stdout.split())
    assert "models/my_classifier" in text and ".previous" in text
    r = run_cli("model", "suspects", "--help")
    assert "config/fine_tuning/suspects.json" in r.stdout
    assert (fine_tuning_dir() / "suspects.json").is_file()
    cfg = load_config("suspects")
    assert (cfg.k_folds, cfg.top) == (5, 20)


def _run_pasted(line: str, capsys) -> tuple[int, str, str]:
    """Run a printed ``python organizer.py …`` line as the shell would split it."""
    argv = shlex.split(line)
    assert argv[:2] == ["python", "organizer.py"], line
    capsys.readouterr()
    rc = cli.main(argv[2:])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _next_line(stdout: str) -> str:
    m = re.search(r"^\s*(?:Next: (?:[^:\n]*\? )?)?(python organizer\.py .*)$", stdout.split("Next:", 1)[1], re.M)
    assert m, stdout
    return m.group(1).strip()


def test_every_printed_next_line_runs_when_pasted(tmp_path, monkeypatch, capsys):
    """gather -> extract-features -> generate-samples -> apply-classifications -> baseline predict
    -> train -> predict, each step run from the previous step's Next line, in the user's folder,
    with a relative --storage. Training twice into one folder keeps the previous model."""
    make_tree(tmp_path / "lib")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(ROOT / "organizer.py")])  # as `python organizer.py` starts it

    rc, out, err = _run_pasted("python organizer.py gather lib/library --storage data", capsys)
    assert rc == 0, err
    step = _next_line(out)
    assert step == "python organizer.py model extract-features --snapshot-id 1 --storage data"

    rc, out, err = _run_pasted(step, capsys)
    assert rc == 0, err
    step = _next_line(out)
    assert "--storage data" in step and "--snapshot-id 1" in step

    rc, out, err = _run_pasted(step, capsys)  # generate-samples
    assert rc == 0, err
    step = _next_line(out)
    assert "apply-classifications" in step and "--storage data" in step
    sample = Path(shlex.split(step)[shlex.split(step).index("--input-csv") + 1])
    with open(sample, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["label"] = TREE[row["path"]]
    with open(sample, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    rc, out, err = _run_pasted(step, capsys)  # apply-classifications
    assert rc == 0, err
    baseline, train_line = re.findall(r"(python organizer\.py .*)$", out, re.M)
    assert "--config config/fine_tuning/predict_baseline.json" in baseline
    assert "--storage data" in baseline and "--storage data" in train_line

    rc, out, err = _run_pasted(baseline + " --output-csv outputs/baseline.csv", capsys)
    assert rc == 0, err
    # The confusion matrix names every label in full (no 8-character stubs).
    header = out.split("CONFUSION MATRIX", 1)[1].splitlines()[1].split()
    assert header == ["creator_or_studio", "content_subject", "descriptor", "asset_type", "other", "unknown"]
    # The README lists the predictions CSV's columns in the file's order.
    with open("outputs/baseline.csv", encoding="utf-8-sig", newline="") as fh:
        columns = next(csv.reader(fh))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = re.search(r"The CSV's columns, in order: ([^.]*)\.", readme.replace("\n", " "))
    assert documented, "README: 'The CSV's columns, in order: …'"
    names = re.findall(r"`([^`]+)`", documented.group(1))
    assert [c for c in columns if not c.startswith("p_")] == [n for n in names if not n.startswith("p_")]
    assert columns[len(names) - 1 :] == [f"p_{lb}" for lb in header]

    # Train (frozen body: no fine-tuning steps, so this stays quick), then predict from its Next line.
    Path("tiny.json").write_text(json.dumps({"max_steps": 0, "abstain_precision": None}))
    train = train_line.replace("model train", "model train --config tiny.json")
    rc, out, err = _run_pasted(train, capsys)
    assert rc == 0, err
    model = tmp_path / "models" / "my_classifier"
    assert f"Model saved to {model}" in out and "kept as" not in out
    step = _next_line(out)
    assert step == f"python organizer.py model predict --model-path {model} --storage data"
    rc, out, err = _run_pasted(step, capsys)
    assert rc == 0, err
    # every labelled folder taught this model (refit on all labels): predict says so, never scores them
    assert "taught this model" in out and "MACRO F1" not in out
    first = json.loads((model / "metadata.json").read_text())["created_at"]

    # Training again into the same folder keeps the previous model, and says so.
    rc, out, err = _run_pasted(train, capsys)
    assert rc == 0, err
    previous = tmp_path / "models" / "my_classifier.previous"
    assert f"the model that was at {model} is kept as {previous}" in out
    assert json.loads((previous / "metadata.json").read_text())["created_at"] == first
    assert json.loads((model / "metadata.json").read_text())["created_at"] > first
    rc, out, err = _run_pasted(f"python organizer.py model predict --model-path {previous} --storage data", capsys)
    assert rc == 0, err


def _dev_sh(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``bash scripts/dev.sh ARGS`` from ``cwd``, using the environment running these tests
    (FSORG_SKIP_SETUP: a test never installs anything)."""
    env = dict(os.environ, FSORG_SKIP_SETUP="1", FSORG_VENV=sys.prefix, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "dev.sh"), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout,
    )


def test_dev_sh_cli_resolves_paths_against_the_callers_folder(tmp_path):
    if not (Path(sys.prefix) / "bin" / "python").exists():
        pytest.skip(f"the tests do not run in a virtual environment with bin/python ({sys.prefix})")
    make_tree(tmp_path / "lib")
    r = _dev_sh("cli", "gather", "lib/library", "--storage", "data", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"Scanned {tmp_path / 'lib' / 'library'}:" in r.stdout
    assert (tmp_path / "data" / "index.db").is_file() and not (ROOT / "lib").exists()
    assert "--storage data" in r.stdout


def test_dev_sh_storage_option_starts_the_app_on_that_folder(tmp_path):
    if not (Path(sys.prefix) / "bin" / "python").exists():
        pytest.skip(f"the tests do not run in a virtual environment with bin/python ({sys.prefix})")
    make_tree(tmp_path / "lib")
    assert run_cli("gather", str(tmp_path / "lib" / "library"), "--storage", str(tmp_path / "data")).returncode == 0
    r = _dev_sh("--storage", "data", "--screenshot", "shot.png", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "unknown command" not in r.stderr
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def test_a_python_without_fsorgs_packages_gets_one_line_and_no_logs(tmp_path):
    """``python -S`` leaves out site-packages: the stand-in for /usr/bin/python3 without fsorg's
    dependencies. No 'this is a bug', no traceback, no logs/ folder, exit 2."""
    make_tree(tmp_path / "lib")
    base = tmp_path / "base"
    env = dict(os.environ, FS_ORGANIZER_BASE_PATH=str(base))
    env.pop("PYTHONPATH", None)
    r = subprocess.run(
        [sys.executable, "-S", str(ROOT / "organizer.py"), "gather", "lib/library", "--storage", "data"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.strip() == (
        "error: fsorg's dependencies are not installed in this Python: run `bash scripts/dev.sh setup`, "
        "or use `bash scripts/dev.sh cli …`"
    )
    assert not list(tmp_path.rglob("logs")) and not base.exists()
    # --help needs none of them.
    r = subprocess.run(
        [sys.executable, "-S", str(ROOT / "organizer.py"), "--help"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 0 and "python organizer.py COMMAND --help" in r.stdout


def test_keeping_the_previous_model_never_overwrites_a_folder_that_is_not_a_model(tmp_path):
    import numpy as np

    from engine.core.jobs import UserError
    from engine.models.modelio import Head, is_model_folder, save_model_folder

    def save(tag: str) -> Path:
        head = Head(coef=np.zeros((2, 3), np.float32), intercept=np.zeros(2, np.float32))
        return save_model_folder(
            tmp_path / "m", metadata={"tag": tag}, head=head, report=None, write_body=None, keep_previous=True
        )

    def tag(p: Path) -> str:
        return json.loads((p / "metadata.json").read_text())["tag"]

    save("one")
    assert not (tmp_path / "m.previous").exists()
    save("two")
    save("three")  # the older .previous ("one") goes, "two" is kept
    assert (tag(tmp_path / "m"), tag(tmp_path / "m.previous")) == ("three", "two")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "m.previous"]  # no temporary folders left
    # A user's own folder where .previous would go is refused, and nothing changes.
    prev = tmp_path / "m.previous"
    shutil.rmtree(prev)
    prev.mkdir()
    (prev / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="m.previous exists and is not an fsorg model folder"):
        save("four")
    assert tag(tmp_path / "m") == "three" and (prev / "notes.txt").read_text() == "mine"
    assert not is_model_folder(prev) and sorted(p.name for p in tmp_path.iterdir()) == ["m", "m.previous"]
