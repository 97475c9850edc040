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
from functools import lru_cache
from typing import Any

import numpy as np

from engine.core.text import normalize_name as core_normalize

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


@lru_cache(maxsize=1 << 16)  # a library repeats its names (each is a parent, child and sibling)
def normalize_name(name: str) -> str:
    """The text embedded for a folder name: :func:`engine.core.text.normalize_name`'s text.

    Why: ``01_barn_sunset_34x51`` and ``Barn Sunset`` mean the same to a reader, and the
    labeling guide says grid sizes, ordering prefixes and file-format suffixes carry no
    meaning for the label; removing them makes equal meanings equal texts (better
    embeddings, and more cache hits). The *shape* that was removed (a grid size, a numeric
    prefix) is kept as structured features instead. One normalizer serves the heuristic,
    the features and the model, so what the rules see is what the model sees.
    """
    return core_normalize(name).text or name.strip().lower() or "(empty)"


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
    # The rule-based first guess stored by extract-features (None where not computed).
    heuristic_label: str | None = None
    heuristic_confidence: float | None = None
    heuristic_rule: str | None = None
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
            heuristic_label=m.get("heuristic_label"),
            heuristic_confidence=(
                float(m["heuristic_confidence"]) if m.get("heuristic_confidence") is not None else None
            ),
            heuristic_rule=m.get("heuristic_rule"),
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


# Structured features that depend on how one library is laid out (absolute depth, how many
# siblings, casing habits). A "portable" recipe, meant for libraries the model never saw
# (the shipped baseline), leaves them out: measured across creators they hurt.
LAYOUT_FEATURES = frozenset(
    {"depth_1", "depth_2", "depth_3", "depth_4plus", "log_depth", "log_siblings", "name_log_chars", "name_upper_frac", "no_parent"}
)
RELATIONAL_NAMES: tuple[str, ...] = (
    "cos_name_parent",
    "cos_name_siblings_mean",
    "cos_name_siblings_max",
    "cos_name_children_mean",
    "cohesion_siblings",
    "cohesion_children",
)


def structured_names(recipe: dict[str, Any]) -> list[str]:
    if not recipe.get("structured"):
        return []
    if recipe.get("structured_set", "full") == "portable":
        return [n for n in STRUCTURED_NAMES if n not in LAYOUT_FEATURES]
    return list(STRUCTURED_NAMES)


def _extra_dim(recipe: dict[str, Any]) -> int:
    d = len(structured_names(recipe))
    if recipe.get("relational"):
        d += len(RELATIONAL_NAMES)
    d += 2 * len(recipe.get("prototypes") or {})
    h = recipe.get("heuristic")
    if h:
        d += len(h["labels"]) + len(h.get("rules") or [])
    d += prior_width(recipe)
    return d


def prior_width(recipe: dict[str, Any]) -> int:
    """Columns of the ``heuristic_prior`` block (always the matrix's last ones), 0 without it."""
    spec = recipe.get("heuristic_prior")
    return len(spec["labels"]) if spec else 0


def heuristic_distribution_row(r: FolderRecord, labels: Sequence[str]) -> list[float]:
    """The rule-based guess as a distribution over ``labels``: its confidence (kept within
    0.05–0.95) on its label, the rest spread evenly; no guess, or a label outside ``labels``:
    uniform."""
    n = len(labels)
    if n < 2 or r.heuristic_label not in labels:
        return [1.0 / max(n, 1)] * n
    c = min(max(float(r.heuristic_confidence or 0.0), 0.05), 0.95)
    out = [(1 - c) / (n - 1)] * n
    out[list(labels).index(r.heuristic_label)] = c
    return out


def heuristic_log_prior(r: FolderRecord, labels: Sequence[str]) -> list[float]:
    """log of :func:`heuristic_distribution_row` (uniform is a constant, which a softmax ignores)."""
    return [math.log(p) for p in heuristic_distribution_row(r, labels)]


def heuristic_features(r: FolderRecord, spec: dict[str, Any]) -> list[float]:
    """The rule-based guess as inputs: one-hot label x confidence, then one-hot rule.

    Why: the heuristic's rules are general vocabulary and tree-shape rules (labeling-guide
    order), so they carry over to libraries the embedding head never saw; the head learns
    how far to trust each rule. ``spec`` (stored in the recipe) fixes the column order: the
    labels and the rule names known when the model was trained; a rule this fsorg does not
    know, or a folder without a guess, gives zeros.
    """
    labels, rules = spec["labels"], spec.get("rules") or []
    out = [0.0] * (len(labels) + len(rules))
    if r.heuristic_label is None:
        return out
    conf = float(r.heuristic_confidence if r.heuristic_confidence is not None else 1.0)
    if r.heuristic_label in labels:
        out[labels.index(r.heuristic_label)] = conf
    if r.heuristic_rule in rules:
        out[len(labels) + rules.index(r.heuristic_rule)] = 1.0
    return out


def check_recipe(recipe: dict[str, Any]) -> None:
    """Raise ValueError when a stored recipe is not one this fsorg can rebuild."""
    if recipe.get("version") != RECIPE_VERSION:
        raise ValueError(f"input recipe version {recipe.get('version')!r} (this fsorg builds {RECIPE_VERSION})")
    for b in recipe.get("blocks", []):
        if b not in ("name", "parent", "grandparent", "children", "siblings"):
            raise ValueError(f"unknown input block {b!r}")
    if recipe.get("structured_set", "full") not in ("full", "portable"):
        raise ValueError(f"unknown structured_set {recipe.get('structured_set')!r}")
    protos = recipe.get("prototypes") or {}
    if not isinstance(protos, dict) or not all(isinstance(v, list) and v for v in protos.values()):
        raise ValueError("prototypes must map labels to non-empty text lists")
    h = recipe.get("heuristic")
    if h is not None and not (
        isinstance(h, dict) and isinstance(h.get("labels"), list) and isinstance(h.get("rules", []), list)
    ):
        raise ValueError("heuristic must name its labels (and rules) as lists")
    hp = recipe.get("heuristic_prior")
    if hp is not None and not (
        isinstance(hp, dict) and isinstance(hp.get("labels"), list) and isinstance(hp.get("alpha"), (int, float))
        and hp["alpha"] >= 0
    ):
        raise ValueError("heuristic_prior must name its labels (a list) and alpha (a number >= 0)")


def distinct_texts(records: Iterable[FolderRecord], recipe: dict[str, Any]) -> list[str]:
    """Every distinct text the recipe needs for ``records`` (each is encoded once)."""
    seen: dict[str, None] = {}
    blocks = list(recipe["blocks"])
    if recipe.get("relational") or recipe.get("prototypes"):
        blocks += [b for b in ("name", "parent", "children", "siblings") if b not in blocks]
    for r in records:
        for b in blocks:
            for t in block_texts(r, b):
                seen.setdefault(t, None)
    for texts in (recipe.get("prototypes") or {}).values():
        for t in texts:
            seen.setdefault(t, None)
    return list(seen)


def feature_dim(recipe: dict[str, Any], emb_dim: int) -> int:
    return emb_dim * len(recipe["blocks"]) + _extra_dim(recipe)


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
    snames = structured_names(recipe)
    keep = [STRUCTURED_NAMES.index(n) for n in snames]
    w = float(recipe.get("structured_weight", 1.0))
    rw = float(recipe.get("relational_weight", 1.0))
    protos = recipe.get("prototypes") or {}
    proto_mats = [np.stack([lookup(t) for t in texts]) for texts in protos.values()]
    proto_means = []
    for m in proto_mats:
        v = m.mean(axis=0)
        proto_means.append(v / max(float(np.linalg.norm(v)), 1e-9))
    P = np.stack(proto_means) if proto_means else None
    hspec = recipe.get("heuristic")
    hw = float(hspec.get("weight", 1.0)) if hspec else 0.0
    prior_labels = (recipe.get("heuristic_prior") or {}).get("labels") or []
    base = emb_dim * len(blocks)
    out = np.zeros((len(records), base + _extra_dim(recipe)), dtype=np.float32)
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
        col = base
        if snames:
            feats = structured_features(r)
            out[i, col : col + len(keep)] = np.asarray([feats[k] for k in keep], dtype=np.float32) * w
            col += len(keep)
        if recipe.get("relational") or P is not None:
            name_v = lookup(block_texts(r, "name")[0])
        if recipe.get("relational"):
            out[i, col : col + len(RELATIONAL_NAMES)] = np.asarray(_relational(r, name_v, lookup)) * rw
            col += len(RELATIONAL_NAMES)
        if P is not None:
            out[i, col : col + len(proto_mats)] = (P @ name_v) * rw
            out[i, col + len(proto_mats) : col + 2 * len(proto_mats)] = (
                np.asarray([float((m @ name_v).max()) for m in proto_mats]) * rw
            )
            col += 2 * len(proto_mats)
        if hspec:
            hf = heuristic_features(r, hspec)
            out[i, col : col + len(hf)] = np.asarray(hf, dtype=np.float32) * hw
            col += len(hf)
        if prior_labels:
            out[i, col : col + len(prior_labels)] = heuristic_log_prior(r, prior_labels)
    return out


def _relational(r: FolderRecord, name_v: np.ndarray, lookup: Callable[[str], np.ndarray]) -> list[float]:
    """How the name relates to its neighbours: library-independent structure.

    A variant of a subject is close to its parent; items of one category are close to each
    other (high sibling cohesion); a category folder's children are a coherent set.
    """
    par = block_texts(r, "parent")
    sib = [lookup(t) for t in block_texts(r, "siblings")]
    ch = [lookup(t) for t in block_texts(r, "children")]

    def cohesion(vs: list[np.ndarray]) -> float:
        if len(vs) < 2:
            return 0.0
        m = np.stack(vs)
        g = m @ m.T
        n = len(vs)
        return float((g.sum() - np.trace(g)) / (n * (n - 1)))

    s_sims = [float(name_v @ v) for v in sib]
    return [
        float(name_v @ lookup(par[0])) if par else 0.0,
        float(np.mean(s_sims)) if s_sims else 0.0,
        float(np.max(s_sims)) if s_sims else 0.0,
        float(np.mean([float(name_v @ v) for v in ch])) if ch else 0.0,
        cohesion(sib),
        cohesion(ch),
    ]
