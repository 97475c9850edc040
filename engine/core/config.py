"""Typed settings for every command, loaded from ``config/fine_tuning/<command>.json``.

Each command has a dataclass; its fields carry their range in ``metadata``
(``min``, ``max``, ``choices``). :func:`load_config` reads the command's default
file, then the user's ``--config`` file on top, and rejects an unknown key, a
wrong type or an out-of-range value with a one-line :class:`ConfigError` that
names the key and the file (the CLI exits 2). The CLI and the app build the same
objects.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.jobs import UserError

SPLITS = ("train", "validation", "test")


class ConfigError(UserError):
    """A config file is malformed; the message names the file and the key."""


def shipped_dir(name: str) -> Path:
    """A folder fsorg ships beside its code (``config``, ``resources``): in the checkout (and the
    native bundle) next to ``engine/``; in a wheel install under ``<prefix>/share/fsorg/``
    (pyproject's data-files). Independent of the working directory."""
    here = Path(__file__).resolve().parents[2] / name
    if here.is_dir():
        return here
    installed = Path(sys.prefix) / "share" / "fsorg" / name
    return installed if installed.is_dir() else here


def repo_config_dir() -> Path:
    """The folder holding fsorg's shipped configs (``config/``)."""
    env = os.environ.get("FSORG_CONFIG_DIR")
    if env:
        return Path(env)
    return shipped_dir("config")


def resolve_config_path(path: str | os.PathLike) -> Path:
    """The file a ``--config`` argument names. A path that exists (relative to the working
    directory) is taken as it is; otherwise the fine-tuning guide's ``organizer/config/...`` and
    the README's ``config/...`` forms name fsorg's own config folder, from any directory."""
    p = Path(path).expanduser()
    if p.exists() or p.is_absolute():
        return p
    parts = p.parts
    if parts[:1] == ("organizer",):
        parts = parts[1:]
    if parts[:1] == ("config",) and len(parts) > 1:
        shipped = repo_config_dir().joinpath(*parts[1:])
        if shipped.exists():
            return shipped
    return p


def fine_tuning_dir() -> Path:
    return repo_config_dir() / "fine_tuning"


def _rng(lo=None, hi=None, choices=None, nullable=False, help: str = ""):
    md = {"help": help}
    if lo is not None:
        md["min"] = lo
    if hi is not None:
        md["max"] = hi
    if choices is not None:
        md["choices"] = tuple(choices)
    md["nullable"] = nullable
    return md


class _Base:
    COMMAND: typing.ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def update(self, **changes: Any) -> "_Base":
        """A copy with ``changes`` applied and validated."""
        data = self.to_dict()
        data.update(changes)
        return from_dict(type(self), data, source="<changes>")

    def copy(self):
        return dataclasses.replace(self)


@dataclass
class ExtractFeaturesConfig(_Base):
    COMMAND: typing.ClassVar[str] = "extract_features"
    batch_size: int = field(default=5000, metadata=_rng(1, 1_000_000, help="folders per batch"))
    child_cap: int = field(default=8, metadata=_rng(0, 1000, help="child names kept per folder"))
    sibling_cap: int = field(default=8, metadata=_rng(0, 1000, help="sibling names kept per folder"))
    ext_cap: int = field(default=5, metadata=_rng(0, 100, help="top file extensions kept per folder"))


@dataclass
class GenerateSamplesConfig(_Base):
    COMMAND: typing.ClassVar[str] = "generate_samples"
    sample_size: int = field(default=200, metadata=_rng(1, 1_000_000))
    min_depth: int = field(default=1, metadata=_rng(0, 10_000))
    max_depth: int = field(default=12, metadata=_rng(0, 10_000))
    diversity_factor: float = field(default=0.7, metadata=_rng(0.0, 1.0))
    seed: int = field(default=42, metadata=_rng(0, 2**31 - 1))
    strategy: str = field(default="diverse", metadata=_rng(choices=("diverse", "uncertainty")))

    def __post_init__(self) -> None:
        if self.min_depth > self.max_depth:
            raise ValueError(f"min_depth ({self.min_depth}) is larger than max_depth ({self.max_depth})")


@dataclass
class ApplyClassificationsConfig(_Base):
    COMMAND: typing.ClassVar[str] = "apply_classifications"
    labeler: str = field(default="user", metadata=_rng(help="who labelled the rows"))
    split: str | None = field(default=None, metadata=_rng(choices=SPLITS, nullable=True))
    validate_only: bool = False
    validation_fraction: float = field(default=0.15, metadata=_rng(0.0, 0.9))
    test_fraction: float = field(default=0.15, metadata=_rng(0.0, 0.9))
    seed: int = field(default=42, metadata=_rng(0, 2**31 - 1))

    def __post_init__(self) -> None:
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"validation_fraction ({self.validation_fraction}) + test_fraction ({self.test_fraction}) "
                "must be below 1, or nothing is left for training"
            )


@dataclass
class TrainConfig(_Base):
    COMMAND: typing.ClassVar[str] = "train"
    base_model: str = "all-MiniLM-L6-v2"
    test_size: float = field(default=0.2, metadata=_rng(0.0, 0.9))
    seed: int = field(default=42, metadata=_rng(0, 2**31 - 1))
    num_epochs: int = field(default=1, metadata=_rng(0, 100))
    batch_size: int = field(default=32, metadata=_rng(1, 4096))
    learning_rate: float = field(default=2e-5, metadata=_rng(0.0, 1.0))
    max_steps: int | None = field(default=None, metadata=_rng(0, 10_000_000, nullable=True))
    time_budget_s: float | None = field(default=None, metadata=_rng(0.0, 86_400.0, nullable=True))
    hardneg_k: int = field(default=3, metadata=_rng(0, 1000))
    hardneg_min_sim: float = field(default=0.3, metadata=_rng(-1.0, 1.0))
    hardneg_factor: float = field(default=1.0, metadata=_rng(0.0, 100.0))
    hardneg_labels: list[str] | None = field(default=None, metadata=_rng(nullable=True))
    positives_per_anchor: int = field(default=1, metadata=_rng(0, 1000))
    head_c: float = field(default=1.0, metadata=_rng(1e-6, 1e6))
    refit_on_all_labels: bool = field(
        default=True,
        metadata=_rng(help="after the held-out report, refit the head on every labelled folder (test split included)"),
    )
    warm_start_weight: float | None = field(
        default=1.0,
        metadata=_rng(
            0.0,
            1000.0,
            nullable=True,
            help="train the head on your labels plus the labelled corpus shipped with the baseline, your labels "
            "together weighing this many times the corpus (issue 14: better on every unseen library); null: off",
        ),
    )
    heuristic_mix: float = field(
        default=0.2,
        metadata=_rng(
            0.0,
            10.0,
            help="the rule-based guess as a second expert: the head's probabilities times the heuristic's "
            "distribution to this power (issue 14: 0.868 -> 0.887 Macro F1 at 150 labels on unseen libraries); 0: off",
        ),
    )
    abstain_precision: float | None = field(
        default=0.8,
        metadata=_rng(
            0.01,
            1.0,
            nullable=True,
            help="per-class confidence thresholds (chosen on out-of-fold predictions) so kept predictions "
            "reach this precision; below them predict marks the folder abstained (final label unknown); null: off",
        ),
    )


@dataclass
class PredictConfig(_Base):
    COMMAND: typing.ClassVar[str] = "predict"
    use_baseline: bool = False
    labeled_only: bool = False
    batch_size: int = field(default=256, metadata=_rng(1, 100_000))


@dataclass
class ZeroShotConfig(_Base):
    COMMAND: typing.ClassVar[str] = "zero_shot"
    labeled_only: bool = True
    batch_size: int = field(default=256, metadata=_rng(1, 100_000))


@dataclass
class SuspectsConfig(_Base):
    """Settings of ``model suspects`` (and the app's Find suspect labels)."""

    COMMAND: typing.ClassVar[str] = "suspects"
    k_folds: int = field(default=5, metadata=_rng(2, 100, help="folds of the out-of-fold predictions"))
    top: int = field(default=20, metadata=_rng(0, 1_000_000, help="suspects printed"))
    seed: int = field(default=42, metadata=_rng(0, 2**31 - 1))
    repeats: int = field(default=1, metadata=_rng(1, 20, help="fold splits averaged (steadier, slower)"))
    min_class_size: int = field(default=3, metadata=_rng(2, 1_000_000, help="smaller labels are not judged"))


CONFIG_CLASSES: dict[str, type] = {
    c.COMMAND: c
    for c in (
        ExtractFeaturesConfig,
        GenerateSamplesConfig,
        ApplyClassificationsConfig,
        TrainConfig,
        PredictConfig,
        ZeroShotConfig,
        SuspectsConfig,
    )
}


def _type_ok(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        return isinstance(value, list) and all(inner is Any or _type_ok(v, inner) for v in value)
    return True


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if origin is list:
        (inner,) = typing.get_args(tp)
        return f"list of {_type_name(inner)}"
    return {bool: "true/false", int: "integer", float: "number", str: "string"}.get(tp, str(tp))


def from_dict(cls: type, data: dict[str, Any], *, source: str) -> Any:
    """Build ``cls`` from ``data``, validating every key; errors name ``source``."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            allowed = ", ".join(sorted(fields))
            raise ConfigError(f"{source}: unknown key '{key}' (allowed keys: {allowed})")
    for key, value in data.items():
        tp = hints[key]
        md = fields[key].metadata
        if not _type_ok(value, tp):
            raise ConfigError(
                f"{source}: key '{key}' must be {_type_name(tp)}, got {json.dumps(value)}"
            )
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            # Python's JSON reader accepts NaN and Infinity; every comparison below would pass.
            raise ConfigError(f"{source}: key '{key}' must be a finite number, got {json.dumps(value)}")
        if "choices" in md and value not in md["choices"]:
            raise ConfigError(
                f"{source}: key '{key}' must be one of {', '.join(map(str, md['choices']))}"
                + (" or null" if md.get("nullable") else "")
                + f", got {json.dumps(value)}"
            )
        if "min" in md and value < md["min"]:
            raise ConfigError(f"{source}: key '{key}' must be >= {md['min']}, got {value}")
        if "max" in md and value > md["max"]:
            raise ConfigError(f"{source}: key '{key}' must be <= {md['max']}, got {value}")
    if isinstance(data.get("learning_rate"), int):
        data = {**data, "learning_rate": float(data["learning_rate"])}
    try:
        return cls(**data)
    except ValueError as e:
        raise ConfigError(f"{source}: {e}") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config file ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a JSON object ({{...}})")
    # "_comment"-style keys document a file; they are not settings.
    return {k: v for k, v in data.items() if not k.startswith("_")}


def load_config(command: str, path: str | os.PathLike | None = None, **overrides: Any):
    """Load ``command``'s config: shipped defaults, then ``path``, then ``overrides``."""
    cls = CONFIG_CLASSES[command]
    data: dict[str, Any] = {}
    default_file = fine_tuning_dir() / f"{command}.json"
    if default_file.exists():
        data.update(_read_json(default_file))
        from_dict(cls, data, source=str(default_file))
    source = str(default_file)
    if path is not None:
        user_file = resolve_config_path(path)
        user = _read_json(user_file)
        data.update(user)
        source = str(user_file)
    from_dict(cls, data, source=source)
    # An override (a command-line option) that is out of range is blamed on the option, not a file.
    for key, value in overrides.items():
        if value is not None:
            data[key] = value
            from_dict(cls, data, source=f"option --{key.replace('_', '-')}")
    return from_dict(cls, data, source=source)

