#!/usr/bin/env python3
"""Encoding speed of the base body by batch size (names sorted by length, as fsorg encodes them).

    .venv/bin/python bench/encode_batch.py [--texts 600] [--sizes 32,64,128,256,512,1024] [--int8]

Takes the first ``--texts`` distinct folder names of the dev library (``../shared/datasets/
ttrpg-dev/files.txt``; synthetic names when it is absent), normalized as fsorg normalizes them,
sorts them by length and encodes them once per batch size after a warm-up. Prints names per
wall-second and per CPU-second (the latter is steadier on a shared machine) with the load.
``engine/models/embeddings.py`` (``MAX_BATCH``, ``BATCH_CHARS``) is tuned from it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=600)
    ap.add_argument("--sizes", default="32,64,128,256,512,1024")
    ap.add_argument("--int8", action="store_true", help="encode with the int8 copy of the body")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    from engine.models import base as B
    from engine.models.device import quantized_copy
    from engine.models.inputs import normalize_name

    listing = ROOT.parent / "shared" / "datasets" / "ttrpg-dev" / "files.txt"
    names: set[str] = set()
    if listing.is_file():
        for line in listing.read_text(encoding="utf-8").splitlines():
            for part in line.split("/")[1:-1]:
                names.add(normalize_name(part))
    else:
        words = ["forest", "dungeon", "tokens", "maps", "cave", "tavern", "ruins", "night", "castle", "swamp"]
        names = {f"{words[i % 10]} {words[i // 10 % 10]} {i}" for i in range(a.texts)}
    texts = sorted(sorted(names)[: a.texts], key=len)
    body = B.load_body(B.resolve_base_model(None))
    if a.int8:
        body = quantized_copy(body)
    body.encode(texts[:64], batch_size=64)
    print(f"{len(texts)} names, mean {sum(map(len, texts)) / len(texts):.0f} characters; "
          f"{'int8' if a.int8 else 'fp32'}; load {os.getloadavg()[0]:.2f}")
    for bs in (int(x) for x in a.sizes.split(",")):
        c, t = time.process_time(), time.monotonic()
        body.encode(texts, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        print(f"batch {bs:5d}: {len(texts) / (time.process_time() - c):6.0f} names/CPU-s, "
              f"{len(texts) / (time.monotonic() - t):6.0f} names/s wall, load {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
