"""import-linter keeps the architecture honest: ``engine`` imports nothing from Qt or the desktop
app, and the desktop app sits above the engine (pyproject.toml ``[tool.importlinter]``).

The contracts are run from a temporary INI copy of pyproject's settings with one extra *canary*
contract that must break (``engine.storage`` does import sqlalchemy): it proves the linter really
saw the imports, so "kept" cannot come from an empty or mis-rooted import graph.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

CANARY = "canary: engine.storage must not import sqlalchemy (it does)"


def _lint_imports() -> str | None:
    exe = Path(sys.executable).parent / ("lint-imports.exe" if os.name == "nt" else "lint-imports")
    return str(exe) if exe.exists() else shutil.which("lint-imports")


def _ini_value(value) -> str:
    if isinstance(value, list):
        return "".join(f"\n    {v}" for v in value)
    if isinstance(value, bool):
        return str(value)
    return str(value)


def _write_ini(path: Path, cfg: dict) -> list[str]:
    """Write pyproject's import-linter config (plus the canary) as INI; return the contract names."""
    top = {k: v for k, v in cfg.items() if k != "contracts"}
    lines = ["[importlinter]"] + [f"{k} = {_ini_value(v)}" for k, v in top.items()]
    contracts = list(cfg["contracts"]) + [
        {
            "name": CANARY,
            "type": "forbidden",
            "source_modules": ["engine.storage"],
            "forbidden_modules": ["sqlalchemy"],
        }
    ]
    for i, c in enumerate(contracts):
        lines.append(f"\n[importlinter:contract:{i}]")
        lines += [f"{k} = {_ini_value(v)}" for k, v in c.items()]
    path.write_text("\n".join(lines) + "\n")
    return [c["name"] for c in contracts]


def test_import_contracts_are_kept(tmp_path):
    exe = _lint_imports()
    if exe is None:
        pytest.fail("lint-imports is not installed: install the dev extra (import-linter)")
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    names = _write_ini(tmp_path / "importlinter.ini", cfg)
    assert any(c["type"] == "forbidden" and "PySide6" in c["forbidden_modules"] for c in cfg["contracts"])
    assert any(c["type"] == "layers" for c in cfg["contracts"])
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run(
        [exe, "--no-cache", str(tmp_path / "importlinter.ini")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = r.stdout + r.stderr
    verdicts = dict(re.findall(r"^(.+?) (KEPT|BROKEN)\s*$", out, re.M))
    assert set(verdicts) == set(names), out
    assert verdicts.pop(CANARY) == "BROKEN", out  # the linter sees real imports
    assert all(v == "KEPT" for v in verdicts.values()), out
