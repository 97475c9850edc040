"""Two more baseline ideas on the issue-14 harness (leave-one-source-out), each as extra input
columns of the baseline's first pass (the tree pass and the heuristic mix then run as shipped):

* ``filenames``: what the files inside a folder are called. The share of a folder's own files
  whose name contains every word of the folder's name (``Arrow Impact/arrow-impact-3.mp3``: the
  folder is the thing its files depict), and how varied the file names are once digits are
  masked (a bucket of different things vs variants of one). fsorg does not store file names
  in ``folder_features`` today; this reads them from the datasets' ``files.txt``.
* ``guide-prototypes``: the zero-shot prototypes (similarity of the folder's name to each
  label's texts) extended with the labelling guide's typical names per label.

    PYTHONPATH=. .venv/bin/python bench/quality_extra_inputs.py [--extra filenames,guide-prototypes]

Prints per-source Macro F1 (classes >= 3 folders) of the tree pass and of the shipped recipe
(tree pass + heuristic mix, its weight chosen on the training sources only), without and with
each idea, and the means. ~1 min per idea at load 1.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality as Q  # noqa: E402

# The labelling guide's "typical names" per label (shared/datasets/*/LABELING_GUIDE.md).
GUIDE = {
    "other": "misc, other, random, extras, generic, bonus, rewards, patreon rewards, chapter 2, 2023, v2, "
             "supporting files, asset samples, screenshots, previews, docs, thumbnails, library, __macosx",
    "creator_or_studio": "tom cartos, cze and peku, jb2a extras, zahi cartography free maps, forgotten adventures, "
                         "paper forge, the griffons saddlebag, ecosquirrel free token collection",
    "content_subject": "beach town, pirate cove, lake monster, fighter, rooftop, owlbear, peasant, beds, chests, "
                       "cargo, medical, boiler room, floor 2, demon dog lair, tavern, harbour, old mill, "
                       "chapter 1 ten towns, airship port",
    "descriptor": "forest, desert, beach, tundra, caves, lava, sewers, cyberpunk, halloween, festivals, undead, "
                  "creatures, monsters, npcs, heroes, locations, encounters, random encounters, buildings, taverns, "
                  "towns, trails, night, winter, fog, rain, autumn, sunset, original, natural, with shadows, "
                  "without shadows, male, female, alternate versions, pngs, half geomorphs, pathfinder, dnd, "
                  "traveller, shadowdark",
    "asset_type": "maps, battlemaps, tokens, tiles, props, assets, images, audio, sounds, music, art, artwork, "
                  "cards, portraits, backgrounds, handouts, journal, geomorphs, symbols, baseplates, papermini, "
                  "vtt, pack",
    "unknown": "base building, xx tmp",
}
_DIGITS = re.compile(r"\d+")


def filename_columns(D: Q.Data) -> np.ndarray:
    from engine.models.inputs import normalize_name

    files: dict[tuple[str, str], list[str]] = defaultdict(list)
    for ds in sorted(set(D.dataset)):
        for line in open(Q.DATASETS / ds / "files.txt", encoding="utf-8"):
            p = line.rstrip("\n")
            if p.startswith("library/"):
                d, _, f = p[len("library/"):].rpartition("/")
                files[(ds, d)].append(f.rsplit(".", 1)[0])

    def words(s: str) -> set[str]:
        return {w for w in normalize_name(s).split(" ") if w and not w.isdigit()}

    out = np.zeros((len(D.records), 3), np.float32)
    for i, (r, ds) in enumerate(zip(D.records, D.dataset)):
        stems = files.get((ds, r.rel_path), [])
        if stems:
            nw = words(r.name)
            out[i, 0] = np.mean([bool(nw) and nw <= words(s) for s in stems])
            out[i, 1] = len({_DIGITS.sub("#", normalize_name(s)) for s in stems}) / len(stems)
            out[i, 2] = 1.0
    return out


def guide_recipe(D: Q.Data) -> dict:
    from engine.models.inputs import normalize_name
    from engine.models.zeroshot import label_texts

    base = label_texts()
    ext = {k: list(dict.fromkeys(base[k] + [normalize_name(t.strip()) for t in GUIDE[k].split(",")])) for k in base}
    new = [t for ts in ext.values() for t in ts if t not in D.vecs]
    if new:
        from engine.models import base as B
        from engine.models.embeddings import encode_texts

        D.vecs.update(zip(new, encode_texts(B.shared_body(B.resolve_base_model(None)), new)))
    return {**Q.baseline_recipe("heuristic"), "prototypes": ext}


def run(D: Q.Data, X: np.ndarray) -> dict[str, tuple[float, float]]:
    D.cache["X:heuristic"] = X
    held = [s for s, n in Counter(D.source).most_common() if n >= 30]
    res = {}
    for s in held:
        te = [i for i in range(len(D.y)) if D.source[i] == s]
        tr = [i for i in range(len(D.y)) if D.source[i] != s]
        yt = [D.y[i] for i in te]
        a = Q.macro_ge3(yt, Q.BaselineModel(D, tr, recipe_kind="heuristic", tree=True).predict(te))
        b = Q.macro_ge3(yt, Q.BaselineModel(D, tr, recipe_kind="heuristic", tree=True, mix="auto").predict(te))
        res[s] = (a, b)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--extra", default="filenames,guide-prototypes")
    ap.add_argument("--work", default=str(Q.ROOT / "bench" / "out" / "quality"))
    a = ap.parse_args()
    from engine.core.taxonomy import label_names
    from engine.models.inputs import build_matrix

    Q.LABELS[:] = list(label_names())
    D = Q.prepare(Path(a.work), ["ttrpg-dev", "ttrpg-dev2"])
    X0 = build_matrix(D.records, Q.baseline_recipe("heuristic"), D.vecs, D.emb_dim)
    cols = {"shipped inputs": run(D, X0)}
    for extra in [e for e in a.extra.split(",") if e]:
        if extra == "filenames":
            X = np.hstack([X0, filename_columns(D)]).astype(np.float32)
        elif extra == "guide-prototypes":
            X = build_matrix(D.records, guide_recipe(D), D.vecs, D.emb_dim)
        else:
            raise SystemExit(f"unknown --extra {extra!r}: filenames, guide-prototypes")
        cols["+ " + extra] = run(D, X)
    names = list(cols)
    print("| source | " + " | ".join(f"{n}: tree | {n}: tree + mix" for n in names) + " |")
    print("|---|" + "---|---|" * len(names))
    for s in cols[names[0]]:
        print(f"| {s} | " + " | ".join(f"{cols[n][s][0]:.3f} | {cols[n][s][1]:.3f}" for n in names) + " |")
    dev2 = [s for s in cols[names[0]] if D.dataset[D.source.index(s)] == "ttrpg-dev2"]
    for title, keep in (("mean", list(cols[names[0]])), ("mean of the ttrpg-dev2 sources", dev2)):
        print(f"| **{title}** | " + " | ".join(
            f"{np.mean([cols[n][s][0] for s in keep]):.3f} | {np.mean([cols[n][s][1] for s in keep]):.3f}"
            for n in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
