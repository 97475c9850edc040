#!/usr/bin/env python3
"""Proof that fsorg runs without the packages the bundle leaves out (``EXCLUDED`` below).

    python packaging/check_excludes.py [--extra NAME ...]

In a fresh process, every package in ``EXCLUDED`` (and ``--extra`` ones) and every
transformers model family outside ``TRANSFORMERS_MODELS`` is made to look not installed (imports fail, ``find_spec`` and the installed metadata do not see it); then, in that process, the
engine gathers a small real tree, extracts features, predicts with the shipped baseline,
fine-tunes a model for 2 steps (loading and encoding with the base body, a backward pass)
and predicts with it. Exit 0 and "excludes ok" when all of it worked; otherwise the
traceback names the package that was needed. ``packaging/fsorg.spec`` leaves out the same
packages and model families (it imports both lists from here), so the two cannot drift apart.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# Not used by fsorg at run time (sentence-transformers imports them lazily: datasets only for
# its trainer and data collators, pyarrow for a sampler, setfit/evaluate never). Their own
# dependencies (multiprocess, dill, xxhash, aiohttp, fsspec) go with them.
EXCLUDED = (
    "datasets", "pyarrow", "pandas", "setfit", "evaluate",
    "multiprocess", "dill", "xxhash", "aiohttp", "aiosignal", "frozenlist", "multidict", "yarl",
    "propcache", "aiohappyeyeballs", "fsspec", "hf_xet", "networkx",
    # build and test tools: only torch's C++-extension builder and test helpers import them
    "setuptools", "pkg_resources", "distutils", "_pytest",
)
# torch needs sympy (torch.fx imports it unconditionally), so sympy and mpmath stay.

# transformers' model families the bundle carries (of 550): the ones loading and fine-tuning
# all-MiniLM-L6-v2 through sentence-transformers imports (auto, bert, and the configurations
# sentence-transformers imports by name), plus the architectures of common local
# sentence-transformers bodies a user may set as ``base_model``. Every other
# ``transformers.models.<family>`` is hidden below and left out of the bundle (39 MB of sources
# and 17 MB of compiled modules).
TRANSFORMERS_MODELS = (
    # imported when all-MiniLM-L6-v2 is loaded, encoded and fine-tuned
    "auto", "bert", "align", "blenderbot", "blenderbot_small", "encoder_decoder", "longt5", "m2m_100",
    "marian", "moonshine", "mt5", "paligemma", "pegasus", "pegasus_x", "prophetnet", "switch_transformers",
    "t5", "t5gemma", "t5gemma2", "timm_wrapper", "udop", "umt5", "whisper",
    # other common sentence-transformers bodies (mpnet, MiniLM-L12/e5/bge are bert, multilingual ...)
    "mpnet", "roberta", "xlm_roberta", "distilbert", "modernbert", "electra", "albert", "deberta_v2",
    "camembert", "qwen3", "gemma3", "clip",
)


def hidden_model_family(fullname: str) -> bool:
    """True for a ``transformers.models.<family>`` module whose family the bundle leaves out."""
    parts = fullname.split(".")
    return len(parts) > 2 and parts[:2] == ["transformers", "models"] and parts[2] not in TRANSFORMERS_MODELS


def hide(names: set[str]) -> None:
    """Make ``names`` (and the transformers model families outside ``TRANSFORMERS_MODELS``) look
    not installed: ``import`` fails, ``importlib.util.find_spec`` gives None and their installed
    metadata is not found (libraries test for optional packages all three ways), by putting a
    filtering wrapper in place of the path finder."""
    from importlib.machinery import PathFinder

    canon = {n.replace("_", "-").lower() for n in names}

    class HidingPathFinder:
        @classmethod
        def find_spec(cls, fullname, path=None, target=None):  # noqa: ANN001
            if fullname.partition(".")[0] in names or hidden_model_family(fullname):
                return None
            return PathFinder.find_spec(fullname, path, target)

        @classmethod
        def find_distributions(cls, *args, **kwargs):  # noqa: ANN002, ANN003
            for d in PathFinder.find_distributions(*args, **kwargs):
                if (d.metadata["Name"] or "").replace("_", "-").lower() not in canon:
                    yield d

        @classmethod
        def invalidate_caches(cls) -> None:
            PathFinder.invalidate_caches()

    sys.meta_path[:] = [HidingPathFinder if f is PathFinder else f for f in sys.meta_path]
    for n in list(sys.modules):
        if n.partition(".")[0] in names or hidden_model_family(n):
            del sys.modules[n]


def main() -> int:
    extra = [a for a in sys.argv[1:] if a != "--extra"]
    names = set(EXCLUDED) | set(extra)
    hide(names)
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"

    from engine.core.config import load_config
    from engine.core.jobs import never_stop, no_progress
    from engine.core.settings import StorageSettings
    from engine.features.extract import extract_features
    from engine.models.prediction import predict
    from engine.models.training import train_model
    from engine.scan.gather import gather
    from engine.storage import Databases
    from engine.storage import schema as S

    work = Path(tempfile.mkdtemp(prefix="fsorg-excl-"))
    os.environ["FS_ORGANIZER_BASE_PATH"] = str(work / "base")
    labels = {
        "Acme/maps/forest/goblin camp": "content_subject", "Acme/maps/forest/elf village": "content_subject",
        "Acme/maps/desert/oasis": "content_subject", "Acme/maps/forest": "descriptor",
        "Acme/maps/desert": "descriptor", "Acme/maps": "asset_type", "Acme/tokens": "asset_type",
        "Acme": "creator_or_studio", "Bob Maps": "creator_or_studio", "Bob Maps/battlemaps": "asset_type",
        "Bob Maps/battlemaps/night": "descriptor", "Bob Maps/battlemaps/night/graveyard": "content_subject",
        "Bob Maps/extras": "other", "Acme/misc": "other",
    }
    for rel in labels:
        (work / "lib" / rel).mkdir(parents=True, exist_ok=True)
        (work / "lib" / rel / "map.jpg").touch()
    settings = StorageSettings.from_storage_arg(work / "data")
    g = gather(work / "lib", settings)
    dbs = Databases.open(settings)
    extract_features(dbs, g.snapshot_id, load_config("extract_features"))
    with dbs.index.connect() as c:
        ids = dict(c.execute(S.folders.select().with_only_columns(S.folders.c.rel_path, S.folders.c.id)).all())
    csv_path = work / "labels.csv"
    csv_path.write_text("folder_id,path,label\n" + "".join(f"{ids[p]},{p},{lb}\n" for p, lb in labels.items()),
                        encoding="utf-8")
    from engine.labels.csv_import import apply_classifications

    apply_classifications(dbs, csv_path, load_config("apply_classifications"))
    dbs.dispose()
    pcfg = load_config("predict", None, labeled_only=False, use_baseline=True)
    r = predict(settings, pcfg, output_csv=work / "base.csv", progress=no_progress, should_stop=never_stop)
    print(f"baseline predicted {r.n} folders")
    tr = train_model(settings, load_config("train", None, max_steps=2), model_path=work / "model",
                     progress=no_progress, should_stop=never_stop)
    print(f"trained: {tr.finetune_steps} fine-tuning steps")
    r = predict(settings, pcfg.update(use_baseline=False), model_path=tr.model_path, output_csv=work / "ft.csv",
                progress=no_progress, should_stop=never_stop)
    print(f"fine-tuned model predicted {r.n} folders")
    assert tr.finetune_steps >= 1 and r.n == len(labels) + 1, (tr.finetune_steps, r.n)  # tiny data: 1-2 steps
    with Databases.open(settings).training.connect() as c:
        assert c.execute(S.embedding_cache.select().limit(1)).first() is not None
    loaded = sorted(n for n in sys.modules if n.partition(".")[0] in names or hidden_model_family(n))
    assert not loaded, loaded
    print(f"excludes ok: hidden {sorted(names)} and every transformers model family but "
          f"{len(TRANSFORMERS_MODELS)} ({', '.join(TRANSFORMERS_MODELS[:2])}, ...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
