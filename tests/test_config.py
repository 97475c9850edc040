"""Configs: every shipped file loads; bad keys, types and ranges are one-line errors naming key and file."""

import json

import pytest

from engine.core.config import CONFIG_CLASSES, ConfigError, fine_tuning_dir, load_config


@pytest.mark.parametrize("command", sorted(CONFIG_CLASSES))
def test_shipped_configs_load(command):
    cfg = load_config(command)
    assert type(cfg) is CONFIG_CLASSES[command]


def test_predict_baseline_file_overrides(tmp_path):
    cfg = load_config("predict", fine_tuning_dir() / "predict_baseline.json")
    assert cfg.use_baseline is True and cfg.labeled_only is True


@pytest.mark.parametrize(
    "content, pattern",
    [
        ({"sample_sise": 3}, r"unknown key 'sample_sise'"),
        ({"sample_size": "200"}, r"key 'sample_size' must be integer"),
        ({"sample_size": 0}, r"key 'sample_size' must be >= 1"),
        ({"diversity_factor": 2}, r"key 'diversity_factor' must be <= 1"),
        ({"strategy": "random"}, r"key 'strategy' must be one of diverse, uncertainty"),
        ({"min_depth": 5, "max_depth": 2}, r"min_depth \(5\) is larger than max_depth \(2\)"),
    ],
)
def test_bad_values_name_key_and_file(tmp_path, content, pattern):
    f = tmp_path / "my.json"
    f.write_text(json.dumps(content))
    with pytest.raises(ConfigError, match=pattern) as e:
        load_config("generate_samples", f)
    assert str(f) in str(e.value)
    assert "\n" not in str(e.value)


def test_malformed_json(tmp_path):
    f = tmp_path / "broken.json"
    f.write_text('{"sample_size": 3,,}')
    with pytest.raises(ConfigError, match=r"invalid JSON at line 1"):
        load_config("generate_samples", f)


def test_cli_config_error_exit_2(tmp_path):
    from tests.conftest import run_cli

    f = tmp_path / "bad.json"
    f.write_text('{"batch_size": -1}')
    r = run_cli("model", "extract-features", "--storage", str(tmp_path / "d"), "--config", str(f))
    assert r.returncode == 2
    assert "batch_size" in r.stderr and str(f) in r.stderr
    assert "Traceback" not in r.stderr
