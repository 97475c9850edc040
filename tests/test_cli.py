"""The command line skeleton: real help for every command, ``--help`` loads nothing heavy, and
commands given nothing to work on fail with one clear line (exit 2), never fake output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.cli import GATHER, MODEL_COMMANDS
from tests.conftest import ROOT, run_cli

# Modules that take seconds (or a display) to import: nothing on the --help path may load them.
HEAVY = [
    "torch",
    "sentence_transformers",
    "setfit",
    "transformers",
    "sklearn",
    "pandas",
    "PySide6",
    "pyqtgraph",
]


def _heavy_loaded(code: str) -> dict:
    """Run ``code`` in a fresh interpreter and report which HEAVY modules it loaded."""
    script = (
        "import sys, json\n"
        f"{code}\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps({'heavy': [m for m in heavy if m in sys.modules],"
        " 'commands': sorted(m for m in sys.modules if m.startswith('engine.commands.'))}))\n"
    )
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_top_level_help():
    r = run_cli("--help")
    assert r.returncode == 0, r.stderr
    assert "usage: python organizer.py" in r.stdout
    assert "gather" in r.stdout and "model" in r.stdout
    assert "scan a library folder into a new snapshot" in r.stdout


def test_no_command_prints_help_and_exits_2():
    r = run_cli()
    assert r.returncode == 2
    assert "usage: python organizer.py" in r.stdout
    assert "Traceback" not in r.stderr


def test_gather_help():
    r = run_cli("gather", "--help")
    assert r.returncode == 0, r.stderr
    assert "PATH" in r.stdout and "--storage" in r.stdout
    assert "symbolic links are not followed" in r.stdout
    assert "python organizer.py gather" in r.stdout


def test_model_help_lists_every_command():
    r = run_cli("model", "--help")
    assert r.returncode == 0, r.stderr
    for cmd in MODEL_COMMANDS:
        assert cmd.name in r.stdout
        assert (
            cmd.help[:30] in r.stdout.replace("\n", " ").replace("  ", " ") or cmd.help.split()[0] in r.stdout
        )


@pytest.mark.parametrize("cmd", MODEL_COMMANDS, ids=lambda c: c.name)
def test_each_model_command_has_real_help(cmd):
    r = run_cli("model", cmd.name, "--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert f"usage: python organizer.py model {cmd.name}" in text
    assert " ".join(cmd.description.split())[:60] in text
    assert "--storage" in text and "--config" in text
    assert "example" in text and "python organizer.py model" in text


def test_help_imports_nothing_heavy():
    """Building the parser and printing every help text loads no ML or Qt library and no command."""
    argvs = [["--help"], ["gather", "--help"], ["model", "--help"]] + [
        ["model", c.name, "--help"] for c in MODEL_COMMANDS
    ]
    code = (
        "import contextlib, io\n"
        "from engine.cli import build_parser\n"
        f"for argv in {argvs!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            build_parser().parse_args(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
    )
    got = _heavy_loaded(code)
    assert got["heavy"] == []
    assert got["commands"] == []  # command modules load only when their command runs


def test_organizer_entry_point_help_imports_nothing_heavy():
    """The same through ``organizer.py`` itself (what ``python organizer.py --help`` runs)."""
    code = (
        "import contextlib, io, runpy\n"
        f"sys.argv = ['organizer.py', '--help']\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        runpy.run_path({str(ROOT / 'organizer.py')!r}, run_name='__main__')\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
    )
    assert _heavy_loaded(code)["heavy"] == []


def test_gather_imports_nothing_heavy(tmp_path):
    (tmp_path / "lib" / "a").mkdir(parents=True)
    (tmp_path / "lib" / "a" / "x.png").write_bytes(b"1")
    code = (
        "import contextlib, io\n"
        "from engine.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    assert main(['gather', {str(tmp_path / 'lib')!r}, '--storage', {str(tmp_path / 'data')!r}]) == 0\n"
    )
    assert _heavy_loaded(code)["heavy"] == []


def _minimal_args(cmd) -> list[str]:
    if cmd.name == "generate-samples":
        return ["--output-csv", "samples.csv"]
    return []


@pytest.mark.parametrize("cmd", MODEL_COMMANDS, ids=lambda c: c.name)
def test_model_commands_on_empty_storage_fail_with_one_clear_line(cmd, tmp_path):
    """With nothing scanned yet, every command stops with a message that says what to do (or, for
    a command a later issue implements, that it is not implemented yet): exit 2, no traceback,
    and no output that pretends to be a result."""
    r = run_cli("model", cmd.name, "--storage", str(tmp_path / "data"), *_minimal_args(cmd), cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]  # progress lines may precede it
    assert len(errors) == 1, r.stderr
    assert len(errors[0]) > len("error: ") + 10
    assert r.stdout.strip() == ""
    assert not (tmp_path / "samples.csv").exists()


def test_gather_is_in_the_command_table():
    assert GATHER.module == "gather"
    import importlib

    assert callable(importlib.import_module("engine.commands.gather").run)


def test_unexpected_error_is_one_line_with_a_log(tmp_path, monkeypatch, capsys):
    """A bug anywhere in a command reaches the user as one readable line plus a log file."""
    import engine.cli as cli
    import engine.commands.extract_features as cmd

    def broken(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cmd, "run", broken)
    monkeypatch.delenv("FSORG_DEBUG", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the per-user log folder
    code = cli.main(["model", "extract-features", "--storage", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 1
    assert "RuntimeError: boom" in err and "second line" not in err and "Traceback" not in err
    logs = list((tmp_path / "state" / "fsorg" / "log").glob("fsorg-error-*.log"))
    assert str(logs[0]) in err
    assert len(logs) == 1 and "RuntimeError: boom" in logs[0].read_text()
