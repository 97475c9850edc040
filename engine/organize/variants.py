"""Variant groups: the same content in another form, grouped under one item.

A name is split into words (separators, camelCase and digit runs split; case folded).
Words that name a *form* of the content are taken out and remembered with the rule
that recognised them:

=============  ============================================================
rule           words
=============  ============================================================
time of day    day, night, dusk, dawn, sunset, sunrise, evening, morning …
grid           grid, gridded, gridless, nogrid, "no grid", ungridded …
season         winter, summer, spring, autumn, fall, snow, snowy
weather        rain, fog, storm, blizzard, ashfall …
size           27x39, 4k, hd, fhd, 1080p, 140ppi, 100px, small, large …
version        v2, ver 3, "version 2", final, alt, alternate, copy, "(1)"
form           animated, static, still, preview, thumbnail
numbered       a trailing number ("_01", " 2") unless it follows a word
               that enumerates distinct content ("chapter 2", "level 3")
ordering       a leading number ("03_tavern"): an ordering prefix
=============  ============================================================

What is left is the *base key*; names with the same base key in one scope form a
group, recorded with the rules that took words out (``season``, ``numbered``…).
Base keys that differ only in spelling are grouped too (see :func:`group`), and a
name that extends another ("celestial gate bonus") joins it. Every group keeps its
rules, so the catalogue can show why.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

_WORDS: dict[str, str] = {}
for _rule, _words in {
    "time of day": "day night nighttime daytime dusk dawn sunset sunrise evening morning twilight midnight noon",
    "grid": "grid gridded gridless nogrid ungridded gridlines",
    "season": "winter summer spring autumn fall snow snowy wintery wintry",
    "weather": "rain rainy fog foggy storm stormy blizzard ashfall mist misty",
    "size": "hd fhd uhd 4k 8k 2k hq lq lowres hires",
    "version": "final alt alternate alternative copy variant var",
    "form": "animated static still preview thumbnail thumb",
}.items():
    for _w in _words.split():
        _WORDS[_w] = _rule

# Size words that are a size only after the name ("Goblin Small"), not in it ("Small Craft").
_SIZE_ADJ = frozenset("small medium large big huge tiny mini gargantuan".split())
# Two-word forms, matched on the word list before the single words.
_PAIRS = {
    ("no", "grid"): "grid",
    ("with", "grid"): "grid",
    ("without", "grid"): "grid",
    ("low", "res"): "size",
    ("high", "res"): "size",
    ("hi", "res"): "size",
    ("night", "version"): "time of day",
    ("day", "version"): "time of day",
}
# Words before a number that enumerate *distinct* content: "Chapter 2" is not a copy of "Chapter 1".
_ENUMERATORS = frozenset(
    "chapter part level floor act book room area episode session vol volume stage tier page "
    "deck map scene encounter quest mission wave round section sector zone region ch pt lvl".split()
)
_SIZE_RE = re.compile(r"^(\d+x\d+|\d+(px|ppi|dpi|p)|\d+k)$")
_VERSION_RE = re.compile(r"^(v|ver|version|rev|r)(\d+)$")
_SPLIT_RE = re.compile(r"[\s_\-.,+()\[\]{}!&'~#]+")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_KEEP_TOGETHER_RE = re.compile(r"^\d+x\d+$|^\d+(px|ppi|dpi|p|k)$|^(v|ver|rev)\d+$", re.IGNORECASE)


def words(name: str) -> list[str]:
    """``"FantasyTavern_Day_02 (Night Version)"`` -> ``[fantasy, tavern, day, 02, night, version]``."""
    out: list[str] = []
    for chunk in _SPLIT_RE.split(name):
        if not chunk:
            continue
        if _KEEP_TOGETHER_RE.match(chunk):
            out.append(chunk.lower())
            continue
        out.extend(p.lower() for p in _CAMEL_RE.split(chunk) if p)
    return out


@dataclass(frozen=True)
class NameParts:
    """A name taken apart: the base key and the variant words with their rules."""

    name: str
    base: str  # the words that say what the content is, joined by one space
    variant: str  # the variant words as they appear, joined by one space ('' when none)
    rules: tuple[str, ...]  # the rules that took words out, in order, without repeats


@functools.lru_cache(maxsize=1 << 16)
def parse(name: str) -> NameParts:
    ws = words(name)
    keep = [True] * len(ws)
    rules: list[str] = []

    def take(i: int, rule: str) -> None:
        keep[i] = False
        if rule not in rules:
            rules.append(rule)

    i = 0
    while i < len(ws):
        w = ws[i]
        nxt = ws[i + 1] if i + 1 < len(ws) else None
        if nxt is not None and (w, nxt) in _PAIRS:
            take(i, _PAIRS[(w, nxt)])
            take(i + 1, _PAIRS[(w, nxt)])
            i += 2
            continue
        if w in _WORDS:
            take(i, _WORDS[w])
        elif w in _SIZE_ADJ and i > 0:
            take(i, "size")
        elif _SIZE_RE.match(w):
            take(i, "size")
        elif _VERSION_RE.match(w):
            take(i, "version")
        elif w in ("version", "ver", "rev") and nxt is not None and nxt.isdigit():
            take(i, "version")
            take(i + 1, "version")
            i += 2
            continue
        i += 1
    # A leading number is an ordering prefix ("03_tavern"), as long as words follow.
    if ws and ws[0].isdigit() and any(keep[1:]):
        take(0, "ordering")
    # Trailing numbers: copies/numbered versions, unless they enumerate distinct content.
    j = len(ws) - 1
    while j > 0 and not keep[j]:
        j -= 1
    if j > 0 and keep[j] and ws[j].isdigit():
        prev = next((ws[k] for k in range(j - 1, -1, -1) if keep[k]), None)
        if prev is not None and prev not in _ENUMERATORS and not prev.isdigit():
            take(j, "numbered")
    base = " ".join(w for w, k in zip(ws, keep) if k)
    variant = " ".join(w for w, k in zip(ws, keep) if not k and not (w.isdigit() and _is_ordering(ws, w)))
    if not base:  # a name made only of variant words ("Night", "Gridless") has no base of its own
        return NameParts(name, "", " ".join(ws), tuple(rules))
    return NameParts(name, base, variant, tuple(r for r in rules if r != "ordering") or tuple(rules))


def _is_ordering(ws: list[str], w: str) -> bool:
    return bool(ws) and ws[0] == w and w.isdigit()


def is_variant_name(name: str) -> str | None:
    """The rule when ``name`` is nothing but variant words ("Night", "Gridless", "4K"), else None."""
    p = parse(name)
    if p.base or not p.rules:
        return None
    return p.rules[0]


@dataclass
class VariantGroup:
    """Members of one scope that are the same content in other forms."""

    id: int
    base: str  # the shared base key
    display: str  # a readable name for the group (the plainest member's name, or the base)
    members: list[int] = field(default_factory=list)  # caller's keys, in input order
    variant: dict[int, str] = field(default_factory=dict)  # member -> its variant label ('' = plain)
    rules: dict[int, tuple[str, ...]] = field(default_factory=dict)  # member -> rules
    similarity: float | None = None  # the lowest word similarity that joined members, if any
    joined_by: list[str] = field(default_factory=list)  # rules that joined different base keys

    @property
    def rule(self) -> str:
        """One readable line: the rules that grouped the members."""
        seen: list[str] = []
        for m in self.members:
            for r in self.rules.get(m, ()):
                if r not in seen:
                    seen.append(r)
        for r in self.joined_by:
            if r not in seen:
                seen.append(r)
        return ", ".join(seen) or "same name"


def _squash(base: str) -> str:
    return base.replace(" ", "")


def group(
    entries: Iterable[tuple[int, str]], *, start_id: int = 1, fuzzy: bool = True, prefix: bool = True
) -> list[VariantGroup]:
    """Group ``(key, name)`` entries of ONE scope (e.g. the items of one creator).

    Same base key: one group. Also joined (``fuzzy``): bases equal without spaces
    (rule ``spelling``), bases that differ in one word spelled alike (``armour``/``armor``,
    ``cave``/``caves``: rule ``similar 0.91``); and (``prefix``) a base of two or more words
    that another base extends (``celestial gate`` / ``celestial gate bonus``: rule
    ``extends name``). Only groups of two or more members are returned. Deterministic:
    members keep their input order; the display name is the plainest member's.
    """
    parsed = [(k, parse(n)) for k, n in entries]
    by_base: dict[str, list[tuple[int, NameParts]]] = defaultdict(list)
    for k, p in parsed:
        if p.base:
            by_base[p.base].append((k, p))
    bases = list(by_base)
    parent = {b: b for b in bases}
    why: dict[str, list[str]] = defaultdict(list)
    sim: dict[str, float] = {}

    def find(b: str) -> str:
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        return b

    def union(a: str, b: str, rule: str, score: float | None = None) -> None:
        ra, rb = find(a), find(b)
        if ra == rb:
            return
        if bases.index(ra) > bases.index(rb):
            ra, rb = rb, ra
        parent[rb] = ra
        for r in [*why.pop(rb, []), rule]:
            if r not in why[ra]:
                why[ra].append(r)
        if score is not None or rb in sim:
            sim[ra] = min(sim.get(ra, 1.0), score if score is not None else 1.0, sim.pop(rb, 1.0))

    if fuzzy:
        squashed: dict[str, str] = {}
        masked: dict[tuple, list[str]] = defaultdict(list)
        for b in bases:
            s = _squash(b)
            if s in squashed:
                union(squashed[s], b, "spelling")
            else:
                squashed[s] = b
            ws = b.split()
            for i in range(len(ws)):
                if len(ws[i]) >= 4 and not ws[i].isdigit():
                    masked[(len(ws), i, tuple(ws[:i]), tuple(ws[i + 1 :]))].append(b)
        for key, same in masked.items():
            if len(same) > MAX_BUCKET:  # a long series ("Room 01".."Room 99"): not spellings of one name
                continue
            i = key[1]
            for x in range(len(same)):
                for y in range(x + 1, len(same)):
                    a, b = same[x].split()[i], same[y].split()[i]
                    if _common_prefix(a, b) < 3 or abs(len(a) - len(b)) > 2:
                        continue
                    r = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
                    if r >= SIMILAR_WORD:
                        union(same[x], same[y], f"similar {r:.2f}", r)
    if prefix:
        present = set(bases)
        for b in bases:
            ws = b.split()
            for n in range(len(ws) - 1, 1, -1):
                head = " ".join(ws[:n])
                if head in present:
                    if extends_ok(ws[n:]):
                        union(head, b, "extends name")
                    break
    if fuzzy:
        by_words: dict[tuple[str, ...], str] = {}
        for b in bases:
            key = tuple(sorted(w for w in b.split() if w not in _STOP))
            if len(key) < 2:
                continue
            if key in by_words:
                union(by_words[key], b, "word order")
            else:
                by_words[key] = b
    clusters: dict[str, list[tuple[int, NameParts]]] = defaultdict(list)
    for b in bases:
        clusters[find(b)].extend(by_base[b])
    order = {k: i for i, (k, _) in enumerate(parsed)}
    groups: list[VariantGroup] = []
    for root in sorted(clusters, key=lambda r: min(order[k] for k, _ in clusters[r])):
        members = sorted(clusters[root], key=lambda kp: order[kp[0]])
        if len(members) < 2:
            continue
        plain = min(members, key=lambda kp: (len(kp[1].base), len(kp[1].variant.split()), order[kp[0]]))
        g = VariantGroup(id=start_id + len(groups), base=plain[1].base, display=_display(plain[1]),
                         similarity=sim.get(root), joined_by=list(why.get(root, [])))
        head = plain[1].base.split()
        for k, p in members:
            extra = p.base.split()[len(head):] if p.base.split()[: len(head)] == head else []
            label = " ".join([*extra, p.variant]).strip()
            g.members.append(k)
            g.variant[k] = label if (p is not plain[1] or p.variant) else ""
            g.rules[k] = p.rules
        groups.append(g)
    return groups


# Words that name another *part* of a place, not another form of it ("tomb of sand interior",
# "wizard prison part 4"): a name extended by one of them (or by a number) is not a variant.
PART_WORDS = frozenset(
    "interior exterior inside outside crypt basement cellar attic floor level lvl part upper lower ground "
    "roof rooftop room entrance exit boss chapter act section wing hall".split()
)
_STOP = frozenset("the of a an and in on at to for".split())


def extends_ok(extra: Sequence[str]) -> bool:
    """May a name extended by ``extra`` words be a variant of the shorter name?"""
    return bool(extra) and not any(w.isdigit() or w in PART_WORDS for w in extra)


SIMILAR_WORD = 0.8  # two spellings of one word ("armour"/"armor", "cave"/"caves")
MAX_BUCKET = 40  # names differing in one word compared pairwise only in groups up to this size


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _display(p: NameParts) -> str:
    """The plainest member's name without its variant words, in its own spelling."""
    if not p.variant:
        ws = words(p.name)
        if ws and ws[0].isdigit() and p.base.split()[0:1] != [ws[0]]:
            # "03_tavern" -> "tavern": drop the ordering prefix the base dropped.
            stripped = re.sub(r"^\s*\d+[\s_\-.]*", "", p.name)
            return stripped or p.name
        return p.name
    return p.base.title() if p.base.islower() else p.base


def variant_label(parts: Sequence[str]) -> str:
    """A folder-name-safe label for a member's variant words ("night gridless" -> "Night Gridless")."""
    return " ".join(w if any(c.isdigit() for c in w) else w.capitalize() for w in " ".join(parts).split())
