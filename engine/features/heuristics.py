"""The rule-based first guess: ordered, transparent rules over a folder's name and context.

Why one file of ~540 lines: the rules are read in order, top to bottom, like the labelling guide;
the keyword lists they use live in `config/heuristics/*.json`.

Why rules at all: before the user has labelled anything, a cheap guess makes the samples
CSV quicker to fill in (most rows only need a glance), spreads samples over the classes
(generate-samples stratifies on it), and gives a floor the models must beat.

How it works:

* Every word list lives in ``config/heuristics/*.json`` (see the README there), so a
  user can teach fsorg their vocabulary without touching code.
* A name is normalized (:mod:`engine.core.text`), then split into *units*: the longest runs of
  words that match a keyword list (``random encounters``, ``supporting files``), single
  words otherwise. Each unit carries the set of lists it belongs to.
* Pass 1 applies the rules in the order of the labeling guide (administrative first,
  then makers, asset types, broad categories, and finally ``content_subject``) to the
  name read in the light of its parent. Pass 2 revisits the default guesses with
  structure: duplicate nesting, top-level creator folders (a folder of module-like
  folders, a brand plus generic words, a folder of asset-type folders), and a single
  word among category siblings.
* Each guess carries the name of the rule that fired and a confidence that reflects how
  often that kind of rule is right, so a reviewer can see *why* and sort by doubt.

Nothing here is tuned to one library's folder names: the rules use general vocabulary
and tree shape only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from engine.core.config import repo_config_dir
from engine.core.jobs import StopFn, UserError, check_stop, never_stop
from engine.core.text import NormalizedName, normalize_name, singular

# Category names of a unit.
ASSET, ASSET_MOD = "asset", "asset_mod"
SETTING, VARIANT, GENRE, SYSTEM, BUCKET, FORMAT, SHAPE = (
    "setting",
    "variant",
    "genre",
    "system",
    "bucket",
    "format",
    "shape",
)
ORG_STRONG, ORG_ALONE, PLACEHOLDER = "org_strong", "org_alone", "placeholder"
CREATOR, CREATOR_WORD, GENERIC, SUBJECT = "known_creator", "creator_word", "generic", "subject"
NUMBER, DIMS = "number", "dims"

_LISTS = {
    ("asset_types", "asset_words"): ASSET,
    ("asset_types", "asset_modifiers"): ASSET_MOD,
    ("descriptors", "settings"): SETTING,
    ("descriptors", "variants"): VARIANT,
    ("descriptors", "genres"): GENRE,
    ("descriptors", "game_systems"): SYSTEM,
    ("descriptors", "buckets"): BUCKET,
    ("descriptors", "formats"): FORMAT,
    ("descriptors", "shapes"): SHAPE,
    ("organisational", "strong"): ORG_STRONG,
    ("organisational", "alone"): ORG_ALONE,
    ("organisational", "unknown"): PLACEHOLDER,
    ("creators", "known_creators"): CREATOR,
    ("creators", "creator_words"): CREATOR_WORD,
    ("creators", "generic_words"): GENERIC,
    ("subjects", "subject_words"): SUBJECT,
}
# Lists whose singular form must NOT match: a bucket is plural by nature ("taverns" is a
# category, "tavern" is a place).
_PLURAL_ONLY = {BUCKET}
_DESCRIPTIVE = {SETTING, VARIANT, GENRE, SYSTEM, BUCKET, FORMAT}
_NOUNS = {SETTING, BUCKET, SYSTEM}
_ASSET_WORD_SUFFIXES = (
    "tokens",
    "token",
    "maps",
    "props",
    "tiles",
    "assets",
    "images",
    "portraits",
    "cards",
    "icons",
)
# A project / module / repository name: words joined by - or _ (at least three), or camelCase.
_PROJECT = re.compile(r"^(?:[A-Za-z0-9]+(?:[-_][A-Za-z0-9']+){2,}|[A-Z]?[a-z0-9]+(?:[A-Z][a-z0-9]+){2,})$")
_MAX_PHRASE = 4
_PLATFORM_WORDS = frozenset({"patreon", "patron", "kickstarter", "supporter", "backer"})
_DIMS_TOK = re.compile(r"\d{1,4}[x×]\d{1,4}")
_VERSION_TOK = re.compile(r"v\d+(\.\d+)*")


@dataclass(frozen=True)
class Guess:
    """A heuristic label, how sure the rule is, and which rule said so."""

    label: str
    confidence: float
    rule: str


@dataclass(frozen=True)
class Unit:
    words: tuple[str, ...]
    cats: frozenset[str]

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class NameAnalysis:
    norm: NormalizedName
    units: tuple[Unit, ...]

    def cats(self) -> list[frozenset[str]]:
        return [u.cats for u in self.units]

    def content_units(self) -> list[Unit]:
        """Units that are not numbers or grid sizes."""
        return [u for u in self.units if not (u.cats & {NUMBER, DIMS})]


@dataclass
class FolderInput:
    """What the heuristic may look at for one folder (indices point into the same list)."""

    name: str
    depth: int
    parent: int | None  # index of the parent in the list, None for the root
    children: list[int] = field(default_factory=list)
    file_count: int = 0
    image_files: int = 0
    norm: NormalizedName | None = None


class Vocabulary:
    """The keyword lists of ``config/heuristics``, indexed for phrase lookup."""

    def __init__(self, lists: dict[str, list[str]], source: str = "<memory>") -> None:
        self.source = source
        self._index: dict[tuple[str, ...], set[str]] = {}
        for cat, words in lists.items():
            for entry in words:
                toks = tuple(normalize_name(str(entry)).tokens) if entry else ()
                if not toks:
                    continue
                self._index.setdefault(toks, set()).add(cat)
                if cat not in _PLURAL_ONLY:
                    sing = toks[:-1] + (singular(toks[-1]),)
                    self._index.setdefault(sing, set()).add(cat)
        self.creators_enabled = True

    @classmethod
    def load(cls, folder: Path | None = None, *, use_known_creators: bool = True) -> "Vocabulary":
        """Read every ``*.json`` list in ``folder`` (default ``config/heuristics``)."""
        folder = folder or (repo_config_dir() / "heuristics")
        lists: dict[str, list[str]] = {}
        if not folder.is_dir():
            raise UserError(
                f"The heuristic keyword folder {folder} is missing. Reinstall fsorg or restore it."
            )
        for path in sorted(folder.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8-sig"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise UserError(
                    f"{path}: cannot read this keyword list ({e}). Fix the JSON and run again."
                ) from None
            if not isinstance(data, dict):
                raise UserError(f"{path}: a keyword file must be a JSON object of lists.")
            for key, words in data.items():
                if key.startswith("_"):
                    continue
                cat = _LISTS.get((path.stem, key))
                if cat is None:
                    known = ", ".join(f"{f}.json:{k}" for f, k in _LISTS)
                    raise UserError(f"{path}: unknown list '{key}' (known lists: {known}).")
                if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                    raise UserError(f"{path}: '{key}' must be a list of strings.")
                if cat == CREATOR and not use_known_creators:
                    continue
                lists.setdefault(cat, []).extend(words)
        vocab = cls(lists, source=str(folder))
        vocab.creators_enabled = use_known_creators
        return vocab

    def lookup(self, words: Sequence[str]) -> set[str]:
        key = tuple(words)
        out = set(self._index.get(key, ()))
        if key:
            sing = key[:-1] + (singular(key[-1]),)
            if sing != key:
                out |= self._index.get(sing, set()) - _PLURAL_ONLY
        return out

    def analyze(self, norm: NormalizedName) -> NameAnalysis:
        """Split ``norm`` into units by greedy longest match against the lists."""
        toks = norm.tokens
        units: list[Unit] = []
        i = 0
        while i < len(toks):
            tok = toks[i]
            if _DIMS_TOK.fullmatch(tok):
                units.append(Unit((tok,), frozenset({DIMS})))
                i += 1
                continue
            if tok.isdigit() or _VERSION_TOK.fullmatch(tok):
                units.append(Unit((tok,), frozenset({NUMBER})))
                i += 1
                continue
            for n in range(min(_MAX_PHRASE, len(toks) - i), 0, -1):
                cats = self.lookup(toks[i : i + n])
                if cats:
                    units.append(Unit(tuple(toks[i : i + n]), frozenset(cats)))
                    i += n
                    break
            else:
                units.append(Unit((tok,), frozenset()))
                i += 1
        return NameAnalysis(norm, tuple(units))


def _all(units: Sequence[Unit], allowed: set[str]) -> bool:
    return bool(units) and all(u.cats & allowed for u in units)


def _asset_suffix(word: str) -> bool:
    """``airshiptokens`` / ``cattoken``: a subject glued to an asset word."""
    return any(word.endswith(s) and len(word) - len(s) >= 3 for s in _ASSET_WORD_SUFFIXES)


def _is_descriptor_name(units: Sequence[Unit]) -> bool:
    """One broad-category noun with at most one modifier, or only variant words."""
    if not _all(units, _DESCRIPTIVE):
        return False
    if len(units) > 2 and not _all(units, {VARIANT}):
        return False
    nouns = sum(1 for u in units if u.cats & _NOUNS and not u.cats & {VARIANT})
    return nouns <= 1


class Heuristic:
    """The rules, bound to a vocabulary. ``classify_all`` is the entry point."""

    def __init__(self, vocab: Vocabulary | None = None) -> None:
        self.vocab = vocab or default_vocabulary()
        self._cache: dict[tuple[str, ...], tuple[Unit, ...]] = {}
        self._pass1_cache: dict[tuple[str, str | None], Guess] = {}
        self._tallies: tuple[list[int], list[int]] = ([], [])

    def analyze(self, norm: NormalizedName) -> NameAnalysis:
        # Units depend only on the tokens, and real libraries repeat names a lot.
        units = self._cache.get(norm.tokens)
        if units is None:
            units = self.vocab.analyze(norm).units
            self._cache[norm.tokens] = units
        return NameAnalysis(norm, units)

    # ------------------------------------------------------------------ pass 1
    def classify_name(
        self, name: str, parent_name: str | None = None, *, norm: NormalizedName | None = None
    ) -> Guess:
        """The guess from a folder's own name read against its parent's name."""
        norm = norm or normalize_name(name)
        a = self.analyze(norm)
        parent = self.analyze(normalize_name(parent_name)) if parent_name else None
        return self._pass1(name, a, parent)

    def _pass1(self, name: str, a: NameAnalysis, parent: NameAnalysis | None) -> Guess:
        units = a.content_units()
        cats = [u.cats for u in units]
        any_cat = set().union(*cats) if cats else set()
        low = name.lower()

        # 1. Administrative / organisational.
        if "$" in name and re.search(r"\$\s?\d", name):
            return Guess("other", 0.9, "other:price_tier")
        strong = [u for u in units if ORG_STRONG in u.cats]
        # "Tom Cartos Patreon": a platform word next to a known maker names the maker's page,
        # not a reward bundle.
        platform_only = all(u.text in _PLATFORM_WORDS for u in strong)
        if strong and not (CREATOR in any_cat and platform_only):
            return Guess("other", 0.85, "other:org_marker")
        if not units:  # only numbers, years, versions, sizes
            if a.norm.dims and not a.norm.order_prefix and len(a.norm.dims) == 1 and a.norm.dims_leading:
                return Guess("descriptor", 0.6, "descriptor:size_class")
            return Guess("other", 0.8, "other:number_or_date")
        if re.fullmatch(r"(chapter|ch|part|act|book|episode|ep)\s*\d+", a.norm.text):
            return Guess("other", 0.75, "other:bare_chapter")
        if any(ORG_ALONE in u.cats for u in units) and all(
            ORG_ALONE in u.cats or (GENERIC in u.cats and not u.cats & {ASSET, ASSET_MOD}) for u in units
        ):
            return Guess("other", 0.8, "other:org_word")
        if low.startswith("__") or low.startswith("."):
            return Guess("other", 0.8, "other:system_folder")
        if _all(units, {PLACEHOLDER}):
            return Guess("unknown", 0.6, "unknown:placeholder_name")

        # 2. A maker.
        if CREATOR in any_cat:
            rest = [u for u in units if CREATOR not in u.cats]
            content = [
                u for u in rest if not u.cats & {GENERIC, ASSET, ASSET_MOD, CREATOR_WORD, BUCKET, GENRE}
            ]
            if len(content) <= 1:
                return Guess("creator_or_studio", 0.85, "creator:known_name")
        cw = [u for u in units if CREATOR_WORD in u.cats and u.text not in ("by", "patreon")]
        if cw:
            rest = [u for u in units if u not in cw]
            brand = [u for u in rest if not u.cats]
            if (
                1 <= len(brand) <= 2
                and all(not u.cats or u.cats & {GENERIC, ASSET, ASSET_MOD} for u in rest)
                and not (any_cat & {SUBJECT, SETTING, GENRE, SYSTEM})
            ):
                return Guess("creator_or_studio", 0.7, "creator:studio_word")

        # 3. Game system + asset/generic words: a grouping by system.
        if (
            SYSTEM in any_cat
            and _all(units, {SYSTEM, ASSET, ASSET_MOD, GENERIC, GENRE, VARIANT})
            and not _all(units, {ASSET, ASSET_MOD})
        ):
            return Guess("descriptor", 0.8, "descriptor:game_system")

        # 4. A kind of asset.
        if _all(units, {ASSET, ASSET_MOD}) and ASSET in any_cat:
            return Guess("asset_type", 0.85, "asset_type:asset_word")
        # Tile-shape / size classes ("Half Geomorphs", "100x100 Core").
        shapes = sum(1 for u in units if SHAPE in u.cats)
        if (
            shapes
            and _all(units, {SHAPE, ASSET, ASSET_MOD})
            and not _all(units, {ASSET, ASSET_MOD})
            and (ASSET in any_cat or shapes >= 2)
        ):
            return Guess("descriptor", 0.7, "descriptor:shape_class")
        if a.norm.dims_leading and _all(units, {SHAPE, ASSET, ASSET_MOD, VARIANT}):
            return Guess("descriptor", 0.7, "descriptor:size_class")
        if _all(units, {FORMAT}):
            return Guess("descriptor", 0.8, "descriptor:file_format")
        last = units[-1]
        glued = len(last.words) == 1 and not last.cats and _asset_suffix(last.words[0])
        if (ASSET in last.cats or glued) and len(units) <= 3 and not _all(units, {ASSET, ASSET_MOD}):
            # "cannon_tokens" inside "ocean_tokens": the parent already says tokens, so the
            # new information is what the tokens depict.
            kind = singular(last.words[-1])
            kind = next((singular(s) for s in _ASSET_WORD_SUFFIXES if kind.endswith(singular(s))), kind)
            parent_assets = parent is not None and any(
                singular(w).endswith(kind) for u in parent.units for w in u.words
            )
            if parent_assets:
                return Guess("content_subject", 0.6, "subject:item_in_asset_folder")
            return Guess("asset_type", 0.65, "asset_type:companion_folder")

        # 5. Variant of the subject named by the parent ("03_barn_sunset" under "01_barn").
        if parent is not None:
            ptoks = {w for u in parent.units for w in u.words} | {
                singular(w) for u in parent.units for w in u.words
            }
            rest = [
                u for u in units if not (set(u.words) <= ptoks or {singular(w) for w in u.words} <= ptoks)
            ]
            if rest and len(rest) < len(units) and _all(rest, {VARIANT, GENRE, SETTING, FORMAT}):
                return Guess("descriptor", 0.75, "descriptor:variant_of_parent")
            if not rest and units and a.norm.text == parent.norm.text:
                return Guess("content_subject", 0.3, "same_as_parent")

        # 6. A broad category.
        if _is_descriptor_name(units) and not (a.norm.dims and not a.norm.dims_leading):
            if _all(units, {VARIANT}):
                return Guess("descriptor", 0.75, "descriptor:variant")
            if SYSTEM in any_cat:
                return Guess("descriptor", 0.8, "descriptor:game_system")
            return Guess("descriptor", 0.65, "descriptor:category")

        # 7. Otherwise: a specific thing.
        if a.norm.dims:
            return Guess("content_subject", 0.75, "subject:map_with_grid_size")
        return Guess("content_subject", 0.5, "subject:default")

    # ------------------------------------------------------------------ pass 2
    def classify_all(self, folders: Sequence[FolderInput], should_stop: StopFn = never_stop) -> list[Guess]:
        """Guess every folder of a tree; ``parent``/``children`` are indices into ``folders``.

        ``should_stop`` is polled every 10,000 folders (raises :class:`Cancelled`).
        """
        norms = [f.norm or normalize_name(f.name) for f in folders]
        analyses = [self.analyze(n) for n in norms]
        first: list[Guess] = []
        cache = self._pass1_cache
        for i, f in enumerate(folders):
            if i % 10_000 == 0:
                check_stop(should_stop)
            # Pass 1 depends only on the name and the parent's name: cache on that pair.
            key = (f.name, folders[f.parent].name if f.parent is not None else None)
            g = cache.get(key)
            if g is None:
                parent = analyses[f.parent] if f.parent is not None else None
                g = self._pass1(f.name, analyses[i], parent)
                cache[key] = g
            first.append(g)
        out = list(first)
        # Per-parent tallies of the children's first guesses, so the sibling rules cost O(1)
        # per folder even under a parent with 100,000 children.
        n = len(folders)
        desc_kids = [0] * n
        map_kids = [0] * n
        for i, f in enumerate(folders):
            if f.parent is not None:
                if first[i].label == "descriptor":
                    desc_kids[f.parent] += 1
                if self._is_map_leaf(f, first[i]):
                    map_kids[f.parent] += 1
        self._tallies = (desc_kids, map_kids)
        for i, f in enumerate(folders):
            if i % 10_000 == 0:
                check_stop(should_stop)
            g = first[i]
            if g.rule == "same_as_parent" and f.parent is not None:
                pg = out[f.parent]
                out[i] = Guess(pg.label, min(pg.confidence, 0.6), "same_as_parent")
                continue
            if g.rule == "subject:default":
                c = self._creator_structure(i, folders, analyses, first)
                if c is not None:
                    out[i] = c
                    continue
                c = self._category_sibling(i, folders, analyses, first)
                if c is not None:
                    out[i] = c
                    continue
                if f.file_count and not f.children and f.image_files:
                    out[i] = Guess("content_subject", 0.6, "subject:leaf_with_images")
            elif g.label == "descriptor" and g.rule == "descriptor:category":
                c = self._leaf_among_maps(i, folders, analyses, first)
                if c is not None:
                    out[i] = c
        return out

    def _creator_structure(
        self, i: int, folders: Sequence[FolderInput], analyses: Sequence[NameAnalysis], first: Sequence[Guess]
    ) -> Guess | None:
        """Top-level (depth 1) maker folders recognised by their shape, not their name."""
        f = folders[i]
        if f.depth != 1 or not f.children:
            return None
        a = analyses[i]
        units = a.content_units()
        words = [w for u in units for w in u.words]
        titled = "of" in words or (words and words[0] == "the")
        if titled:
            return None
        known = [u for u in units if u.cats & {SUBJECT, SETTING, GENRE, BUCKET, VARIANT, SYSTEM}]
        brand = [u for u in units if not u.cats]
        kids = [folders[c] for c in f.children]
        # (a) A folder of project-like folders: module ids and repository names are written
        #     with separators ("dead-in-thay", "Waterdeep-City-of-Splendors") or in camelCase,
        #     while a person or studio is written with spaces or as one word ("Jane Doe",
        #     "Gremlin", "mbround18"). A differently styled name above them is who made them.
        #     Children that read as categories or variants (descriptor/asset/other) rule it out:
        #     that is a subject with its variants.
        projects = sum(
            1
            for c in f.children
            if _PROJECT.match(folders[c].name) and first[c].label in ("content_subject", "creator_or_studio")
        )
        if (
            not _PROJECT.match(f.name)
            and projects
            and projects * 2 >= len(kids)
            and len(words) <= 3
            and not known
            and not f.file_count
        ):
            return Guess("creator_or_studio", 0.6, "creator:folder_of_projects")
        # (b) A brand plus generic words: "acme-free-token-collection", "foo-extras".
        generic = [u for u in units if u.cats & {GENERIC, ORG_ALONE} or (u.cats & {ASSET, ASSET_MOD})]
        if 1 <= len(brand) <= 2 and generic and len(brand) + len(generic) == len(units) and not known:
            return Guess("creator_or_studio", 0.6, "creator:brand_with_generic_words")
        # (c) A folder whose subfolders are asset types ("maps", "tokens", "scenes").
        kid_assets = sum(1 for c in f.children if first[c].label == "asset_type")
        if brand and not known and len(units) <= 3 and kid_assets * 2 > len(kids) and not f.file_count:
            return Guess("creator_or_studio", 0.55, "creator:folder_of_asset_types")
        return None

    def _category_sibling(
        self, i: int, folders: Sequence[FolderInput], analyses: Sequence[NameAnalysis], first: Sequence[Guess]
    ) -> Guess | None:
        """A one-word name among siblings that are broad categories is a category too."""
        f = folders[i]
        if f.parent is None or len(analyses[i].content_units()) != 1 or analyses[i].norm.dims:
            return None
        sibs = len(folders[f.parent].children) - 1
        if sibs < 3:
            return None
        cat = self._tallies[0][f.parent] - (first[i].label == "descriptor")
        if cat / sibs >= 0.6:
            return Guess("descriptor", 0.5, "descriptor:among_categories")
        return None

    @staticmethod
    def _is_map_leaf(f: FolderInput, g: Guess) -> bool:
        """A folder that looks like one map: a subject guess, no subfolders, image files."""
        return g.label == "content_subject" and not f.children and f.image_files > 0

    def _leaf_among_maps(
        self, i: int, folders: Sequence[FolderInput], analyses: Sequence[NameAnalysis], first: Sequence[Guess]
    ) -> Guess | None:
        """A category-looking word that is a leaf holding one map among map folders is a subject."""
        f = folders[i]
        if f.parent is None or f.children or not f.image_files:
            return None
        sibs = len(folders[f.parent].children) - 1
        if sibs < 3:
            return None
        maps = self._tallies[1][f.parent] - self._is_map_leaf(f, first[i])
        if maps / sibs >= 0.6:
            return Guess("content_subject", 0.5, "subject:leaf_among_maps")
        return None


@lru_cache(maxsize=2)
def _cached_vocabulary(folder: str, use_known_creators: bool, stamp: float) -> Vocabulary:
    return Vocabulary.load(Path(folder), use_known_creators=use_known_creators)


def default_vocabulary(*, use_known_creators: bool = True) -> Vocabulary:
    """The shipped keyword lists, re-read when a file in ``config/heuristics`` changes."""
    folder = repo_config_dir() / "heuristics"
    try:
        stamp = max((p.stat().st_mtime for p in folder.glob("*.json")), default=0.0)
    except OSError:
        stamp = 0.0
    return _cached_vocabulary(str(folder), use_known_creators, stamp)
