"""What the model sees: the per-folder input recipe.

Measured on real libraries (issue 5, item 7): one long context string ("name + parents +
children + extensions") drowns the folder's own name; the name and its parent embedded
*separately* and concatenated, plus a few structured numbers, is far better. So a folder
becomes

    [emb(name) | emb(parent) | emb(grandparent) | mean emb(children) | structured features]

where every ``emb(...)`` is the sentence body's embedding of one *normalized folder name*.
Parents, grandparents and children are themselves folder names of the same library, so the
set of distinct texts to encode is just the set of distinct normalized names: each is encoded
once and cached by text (``engine.models.embeddings``), which is what makes prediction on a
100,000-folder library fast.

The recipe (which blocks, which normalization) is stored in every model's metadata, and
:func:`build_matrix` rebuilds exactly the same inputs from it at prediction time. Nothing here
imports torch; this module only needs numpy.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

RECIPE_VERSION = 1

# The default recipe. ``blocks`` name the embedding blocks in order; ``structured`` adds the
# hand-made numeric features of :func:`structured_features`.
DEFAULT_RECIPE: dict[str, Any] = {
    "version": RECIPE_VERSION,
    "normalize": "v1",
    "blocks": ["name", "parent", "grandparent", "children"],
    "structured": True,
    "structured_weight": 1.0,
}

# File-extension groups: what kind of files a folder holds says a lot about what it is
# (a folder of .mp3 is audio, one of .dd2vtt/.json next to images is a map).
EXT_GROUPS: dict[str, frozenset[str]] = {
    "image": frozenset("jpg jpeg png webp gif bmp tif tiff svg psd pdn kra xcf avif heic".split()),
    "video": frozenset("mp4 webm m4v mov avi mkv gifv".split()),
    "audio": frozenset("mp3 ogg wav flac m4a aac opus".split()),
    "mapdata": frozenset(
        "dd2vtt uvtt dungeondraft_map wonderdraft_map json df2vtt ddmap fvtt otherworld".split()
    ),
    "doc": frozenset("pdf txt md rtf doc docx odt htm html url epub".split()),
    "archive": frozenset("zip rar 7z tar gz tgz".split()),
    "model3d": frozenset("stl obj fbx blend glb gltf 3mf".split()),
}

_GRID = re.compile(r"(?<![a-z0-9])\d{1,4}\s*[x×]\s*\d{1,4}(?![a-z0-9])", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEP = re.compile(r"[_\-.+~,;:()\[\]{}]+")
_SPACE = re.compile(r"\s+")
_LEADING_ORDER = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})*\s+)+(?=\D)")
_FORMAT_WORDS = frozenset("webp png jpg jpeg gif mp4 webm".split())
_YEAR = re.compile(r"^(19|20)\d\d$")


def normalize_name(name: str) -> str:
    """The text embedded for a folder name: decorations removed, words separated, lower case.

    Why: ``01_barn_sunset_34x51`` and ``Barn Sunset`` mean the same to a reader, and the
    labeling guide says grid sizes, ordering prefixes and file-format suffixes carry no
    meaning for the label; removing them makes equal meanings equal texts (better
    embeddings, and more cache hits). The *shape* that was removed (a grid size, a numeric
    prefix) is kept as structured features instead.
    """
    raw = name.strip()
    s = _GRID.sub(" ", raw)
    s = _CAMEL.sub(" ", s)
    s = _SEP.sub(" ", s)
    s = _SPACE.sub(" ", s).strip()
    s = _LEADING_ORDER.sub("", s)
    words = [w for w in s.split(" ") if w]
    if len(words) > 1:
        words = [w for w in words if w.lower() not in _FORMAT_WORDS] or words
    s = " ".join(words).lower()
    if not s:
        s = _SPACE.sub(" ", raw).strip().lower()
    return s or "(empty)"


def _tokens(text: str) -> set[str]:
    return {t for t in text.split(" ") if len(t) > 1 and not t.isdigit()}


@dataclass(frozen=True)
class FolderRecord:
    """The fields of one folder the model reads (a row of ``folder_features``)."""

    folder_id: int
    rel_path: str
    name: str
    depth: int
    parent_name: str | None = None
    grandparent_name: str | None = None
    children: tuple[str, ...] = ()
    siblings: tuple[str, ...] = ()
    top_exts: tuple[tuple[str, int], ...] = ()
    file_count: int = 0
    subfolder_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_row(cls, row: Any) -> "FolderRecord":
        """From a ``folder_features`` row (SQLAlchemy Row or mapping)."""
        m = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            folder_id=int(m["folder_id"]),
            rel_path=m["rel_path"],
            name=m["name"],
            depth=int(m["depth"]),
            parent_name=m["parent_name"],
            grandparent_name=m["grandparent_name"],
            children=tuple(_json_list(m["children"])),
            siblings=tuple(_json_list(m["siblings"])),
            top_exts=tuple((str(e), int(c)) for e, c in _json_list(m["top_exts"])),
            file_count=int(m["file_count"] or 0),
            subfolder_count=int(m["subfolder_count"] or 0),
        )


def _json_list(value: Any) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    try:
        out = json.loads(value)
    except (TypeError, ValueError):
        return []
    return out if isinstance(out, list) else []


STRUCTURED_NAMES: tuple[str, ...] = (
    "depth_1",
    "depth_2",
    "depth_3",
    "depth_4plus",
    "log_depth",
    "log_files",
    "log_subfolders",
    "is_leaf",
    "no_files",
    *(f"ext_{g}" for g in EXT_GROUPS),
    "ext_other",
    "log_siblings",
    "name_has_grid",
    "name_leading_number",
    "name_is_number",
    "name_is_year",
    "name_has_digits",
    "name_log_words",
    "name_log_chars",
    "name_has_dollar",
    "name_upper_frac",
    "name_parent_overlap",
    "name_contains_parent",
    "parent_contains_name",
    "name_sibling_overlap",
    "siblings_with_grid",
    "children_with_grid",
    "no_parent",
)


def structured_features(r: FolderRecord) -> list[float]:
    """Numeric features that the name embedding cannot carry (shape, position, contents).

    Why each: depth and counts separate containers from leaves; extension groups tell maps,
    audio and documents apart; a grid size or numeric prefix marks a map or an ordered
    variant; word overlap with the parent marks a qualifier of the parent ("barn" ->
    "barn sunset" is a variant, labeling guide "compound names"). No folder-name word lists:
    those would tune the model to one library.
    """
    raw = r.name.strip()
    norm = normalize_name(raw)
    pnorm = normalize_name(r.parent_name) if r.parent_name and r.depth >= 2 else ""
    words = [w for w in norm.split(" ") if w]
    toks, ptoks = _tokens(norm), _tokens(pnorm)
    overlap = len(toks & ptoks) / len(toks) if toks and ptoks else 0.0
    sib_tok: set[str] = set()
    for s in r.siblings:
        sib_tok |= _tokens(normalize_name(s))
    sib_overlap = len(toks & sib_tok) / len(toks) if toks else 0.0
    total_files = sum(c for _, c in r.top_exts) or 0
    groups = dict.fromkeys(EXT_GROUPS, 0.0)
    other = 0.0
    for ext, count in r.top_exts:
        e = ext.lower().lstrip(".")
        for g, exts in EXT_GROUPS.items():
            if e in exts:
                groups[g] += count
                break
        else:
            other += count
    denom = float(total_files) if total_files else 1.0
    letters = [c for c in raw if c.isalpha()]
    upper = sum(1 for c in letters if c.isupper()) / len(letters) if letters else 0.0
    stripped = re.sub(r"[\s_\-.]+", "", raw)
    d = r.depth
    feats = [
        float(d == 1),
        float(d == 2),
        float(d == 3),
        float(d >= 4),
        math.log1p(max(d, 0)),
        math.log1p(r.file_count) / 3.0,
        math.log1p(r.subfolder_count) / 3.0,
        float(r.subfolder_count == 0),
        float(r.file_count == 0),
        *(groups[g] / denom for g in EXT_GROUPS),
        other / denom,
        math.log1p(len(r.siblings)) / 2.0,
        float(bool(_GRID.search(raw))),
        float(bool(re.match(r"^\d", raw))),
        float(stripped.isdigit()),
        float(bool(_YEAR.match(stripped))),
        float(any(c.isdigit() for c in raw)),
        math.log1p(len(words)),
        math.log1p(len(raw)) / 3.0,
        float("$" in raw),
        upper,
        overlap,
        float(bool(pnorm) and pnorm in norm and pnorm != norm),
        float(bool(pnorm) and norm in pnorm and pnorm != norm),
        sib_overlap,
        _frac(r.siblings, lambda s: bool(_GRID.search(s))),
        _frac(r.children, lambda s: bool(_GRID.search(s))),
        float(r.depth <= 1),
    ]
    return feats


def _frac(items: Sequence[str], pred: Callable[[str], bool]) -> float:
    return sum(1 for s in items if pred(s)) / len(items) if items else 0.0


def block_texts(r: FolderRecord, block: str) -> list[str]:
    """The normalized texts one embedding block of ``r`` is made of ([] = a zero vector)."""
    if block == "name":
        return [normalize_name(r.name)]
    # The scanned root's own name (depth 0) is whatever the user called the folder they
    # dropped in ("library", "Assets", "D:"): noise, so it is never used as context.
    if block == "parent":
        return [normalize_name(r.parent_name)] if r.parent_name and r.depth >= 2 else []
    if block == "grandparent":
        return [normalize_name(r.grandparent_name)] if r.grandparent_name and r.depth >= 3 else []
    if block == "children":
        return [normalize_name(c) for c in r.children]
    if block == "siblings":
        return [normalize_name(s) for s in r.siblings]
    raise ValueError(f"unknown input block {block!r}")


def check_recipe(recipe: dict[str, Any]) -> None:
    """Raise ValueError when a stored recipe is not one this fsorg can rebuild."""
    if recipe.get("version") != RECIPE_VERSION:
        raise ValueError(f"input recipe version {recipe.get('version')!r} (this fsorg builds {RECIPE_VERSION})")
    for b in recipe.get("blocks", []):
        if b not in ("name", "parent", "grandparent", "children", "siblings"):
            raise ValueError(f"unknown input block {b!r}")


def distinct_texts(records: Iterable[FolderRecord], recipe: dict[str, Any]) -> list[str]:
    """Every distinct text the recipe needs for ``records`` (each is encoded once)."""
    seen: dict[str, None] = {}
    for r in records:
        for b in recipe["blocks"]:
            for t in block_texts(r, b):
                seen.setdefault(t, None)
    return list(seen)


def feature_dim(recipe: dict[str, Any], emb_dim: int) -> int:
    return emb_dim * len(recipe["blocks"]) + (len(STRUCTURED_NAMES) if recipe.get("structured") else 0)


def build_matrix(
    records: Sequence[FolderRecord],
    recipe: dict[str, Any],
    vectors: dict[str, np.ndarray] | Callable[[str], np.ndarray],
    emb_dim: int,
) -> np.ndarray:
    """The model input matrix (float32, one row per record) from embedded texts.

    ``vectors`` maps each normalized text to its (L2-normalized) embedding. A block with no
    text (no parent, a leaf's children) is a zero vector: "nothing there" is information too.
    """
    lookup = vectors.__getitem__ if isinstance(vectors, dict) else vectors
    blocks = recipe["blocks"]
    n_struct = len(STRUCTURED_NAMES) if recipe.get("structured") else 0
    w = float(recipe.get("structured_weight", 1.0))
    out = np.zeros((len(records), emb_dim * len(blocks) + n_struct), dtype=np.float32)
    for i, r in enumerate(records):
        for j, b in enumerate(blocks):
            texts = block_texts(r, b)
            if not texts:
                continue
            if len(texts) == 1:
                v = lookup(texts[0])
            else:
                v = np.mean([lookup(t) for t in texts], axis=0)
                nrm = float(np.linalg.norm(v))
                if nrm > 0:
                    v = v / nrm
            out[i, j * emb_dim : (j + 1) * emb_dim] = v
        if n_struct:
            out[i, emb_dim * len(blocks) :] = np.asarray(structured_features(r), dtype=np.float32) * w
    return out
