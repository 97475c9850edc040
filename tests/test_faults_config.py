"""Fault suite, configs (issue 15, item 3): every bad value is one line, exit 2, naming the key
or the option; nothing starts (before: NaN crashed training after 20 s; fractions summing past 1
were accepted; a bad --sample-size was blamed on the shipped config file)."""

from __future__ import annotations

import json

import pytest

from tests.faults_support import cli, one_line_error


@pytest.mark.parametrize(
    "command, key, text",
    [
        ("train", "learning_rate", "NaN"),
        ("train", "test_size", "Infinity"),
        ("apply-classifications", "validation_fraction", "-Infinity"),
        ("generate-samples", "diversity_factor", "NaN"),
    ],
)
def test_nan_and_infinity_are_refused(tmp_path, command, key, text):
    cfg = tmp_path / "c.json"
    cfg.write_text(f'{{"{key}": {text}}}', encoding="utf-8")
    extra = ["--output-csv", str(tmp_path / "s.csv")] if command == "generate-samples" else []
    r = cli("model", command, "--config", str(cfg), "--storage", str(tmp_path / "data"), *extra)
    one_line_error(r, str(cfg), key, "finite number")
    assert not (tmp_path / "data" / "training.db").exists()


def test_fractions_must_leave_labels_for_training(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"validation_fraction": 0.5, "test_fraction": 0.6}), encoding="utf-8")
    r = cli("model", "apply-classifications", "--config", str(cfg), "--storage", str(tmp_path / "data"))
    one_line_error(r, "validation_fraction", "test_fraction", "below 1")


def test_a_bad_option_is_blamed_on_the_option(tmp_path):
    r = cli(
        "model",
        "generate-samples",
        "--sample-size",
        "-5",
        "--output-csv",
        str(tmp_path / "s.csv"),
        "--storage",
        str(tmp_path / "data"),
    )
    line = one_line_error(r, "--sample-size", ">= 1", "-5")
    assert "generate_samples.json" not in line
