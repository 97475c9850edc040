"""Pick folders to label (``generate-samples``) and write them to the samples CSV a person fills in.

Picking (:func:`select_samples`)
    The user's labelling time is the scarcest resource, so a sample must cover the library,
    not its biggest corner. Candidates (``min_depth..max_depth``, minus everything labelled in
    the newest label run) are first split by heuristic label; each label gets a quota that
    blends its share of the library with an equal share (``diversity_factor`` 0 = purely
    proportional, 1 = equal), so a label the heuristic gives to 1 % of the folders is not
    drowned by the 80 % class. Inside a label, folders are ordered so that each parent's first
    folder comes before any parent's second one, and taken round-robin over (depth, name
    shape) buckets; with probability ``1 - diversity_factor`` a pick is plain random instead.
    Everything is driven by one ``random.Random(seed)``: the same seed and database give the
    same CSV. It is O(n log n), so 100,000 candidates take well under a second.
"""

from __future__ import annotations

import json
import random
import shlex
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from engine.core.config import GenerateSamplesConfig
from engine.core.csvio import write_csv
from engine.core.jobs import ProgressFn, StopFn, UserError, check_stop, never_stop, no_progress, wrap_progress
from engine.core.settings import StorageSettings
from engine.core.text import name_shape
from engine.labels.csv_import import CONTRACT_COLUMNS
from engine.labels.runs import load_labels, newest_label_run_id
from engine.scan.snapshots import resolve_snapshot
from engine.storage import Databases
from engine.storage import schema as S

# The samples CSV: the contract columns (DESIGN.md, read back by the import), then fsorg's extra columns.
SAMPLE_COLUMNS = CONTRACT_COLUMNS + (
    "heuristic_confidence",
    "heuristic_rule",
    "children",
    "extensions",
    "file_count",
    "subfolder_count",
)


@dataclass(frozen=True)
class Candidate:
    folder_id: int
    rel_path: str
    name: str
    depth: int
    parent_name: str | None
    children_json: str  # parsed only for the picked rows: 100,000 json.loads are not free
    top_exts_json: str
    file_count: int
    subfolder_count: int
    heuristic_label: str
    heuristic_confidence: float
    heuristic_rule: str

    @property
    def parent_path(self) -> str:
        return self.rel_path.rsplit("/", 1)[0] if "/" in self.rel_path else ""

    @property
    def children(self) -> list[str]:
        return json.loads(self.children_json)


# How a higher layer picks instead of the diverse sampler:
# (dbs, unlabelled candidates, snapshot id, config, progress, should_stop) -> picked candidates.
Picker = Callable[[Databases, list["Candidate"], int, GenerateSamplesConfig, ProgressFn, StopFn], list["Candidate"]]


@dataclass(frozen=True)
class SampleResult:
    snapshot_id: int
    path: Path
    rows: int
    candidates: int
    excluded_labelled: int
    by_label: dict[str, int] = field(default_factory=dict)
    by_depth: dict[int, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------ picking


def _quotas(sizes: dict[str, int], k: int, diversity: float) -> dict[str, int]:
    """Split ``k`` picks over groups: a blend of proportional and equal shares, capped by size."""
    quotas = {g: 0 for g in sizes}
    remaining = min(k, sum(sizes.values()))
    open_groups = {g for g, n in sizes.items() if n > 0}
    while remaining > 0 and open_groups:
        total = sum(sizes[g] for g in open_groups)
        weights = {g: (1 - diversity) * sizes[g] / total + diversity / len(open_groups) for g in open_groups}
        wsum = sum(weights.values())
        exact = {g: remaining * weights[g] / wsum for g in open_groups}
        share = {g: int(exact[g]) for g in open_groups}
        # Largest remainder, ties by name so the result does not depend on set order.
        left = remaining - sum(share.values())
        for g in sorted(open_groups, key=lambda g: (-(exact[g] - share[g]), g))[:left]:
            share[g] += 1
        progressed = False
        for g in sorted(open_groups):
            room = sizes[g] - quotas[g]
            take = min(share[g], room)
            if take:
                quotas[g] += take
                remaining -= take
                progressed = True
        open_groups = {g for g in open_groups if quotas[g] < sizes[g]}
        if not progressed:
            break
    return quotas


def _diverse_order(
    items: list[Candidate], rng: random.Random, diversity: float, limit: int
) -> list[Candidate]:
    """The first ``limit`` of ``items`` in an order spread over parents, depths and shapes."""
    limit = min(limit, len(items))
    shuffled = list(items)
    rng.shuffle(shuffled)
    seen_parent: Counter[str] = Counter()
    keyed = []
    for pos, c in enumerate(shuffled):
        rank = seen_parent[c.parent_path]
        seen_parent[c.parent_path] += 1
        keyed.append((rank, pos, c))
    keyed.sort(key=lambda t: (t[0], t[1]))
    buckets: dict[tuple[int, str], list[Candidate]] = {}
    for _, _, c in keyed:
        buckets.setdefault((c.depth, name_shape(c.name)), []).append(c)
    queues = list(buckets.values())
    diverse: list[Candidate] = []
    idx = [0] * len(queues)
    active = list(range(len(queues)))
    while active and len(diverse) < limit:
        still = []
        for q in active:
            if idx[q] < len(queues[q]):
                diverse.append(queues[q][idx[q]])
                idx[q] += 1
            if idx[q] < len(queues[q]):
                still.append(q)
        active = still
    # Blend with a plain random order: diversity 1.0 is purely the spread order.
    out: list[Candidate] = []
    taken: set[int] = set()
    di = ri = 0
    while len(out) < limit:
        src_diverse = rng.random() < diversity
        if src_diverse:
            while di < len(diverse) and diverse[di].folder_id in taken:
                di += 1
            if di < len(diverse):
                c = diverse[di]
                di += 1
            else:
                src_diverse = False
        if not src_diverse:
            while ri < len(shuffled) and shuffled[ri].folder_id in taken:
                ri += 1
            if ri >= len(shuffled):
                continue
            c = shuffled[ri]
            ri += 1
        taken.add(c.folder_id)
        out.append(c)
    return out


def select_samples(candidates: Sequence[Candidate], k: int, diversity: float, seed: int) -> list[Candidate]:
    """Pick ``k`` diverse candidates (see the module docstring); deterministic for ``seed``."""
    rng = random.Random(seed)
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for c in sorted(candidates, key=lambda c: c.folder_id):
        groups[c.heuristic_label or "unknown"].append(c)
    quotas = _quotas({g: len(v) for g, v in groups.items()}, k, diversity)
    picked: list[Candidate] = []
    for g in sorted(groups):
        if quotas[g]:
            picked.extend(_diverse_order(groups[g], rng, diversity, quotas[g]))
    return picked


# ----------------------------------------------------------------------------- generate


def _labelled_in_newest_run(dbs: Databases, snapshot_root: str) -> tuple[set[int], set[str]]:
    """Folder ids labelled in the newest run, and the paths labelled on the same root."""
    with dbs.training.connect() as c:
        run = newest_label_run_id(c)
        if run is None:
            return set(), set()
        rows = load_labels(c, run)
    ids = {r.folder_id for r in rows}
    snaps = {r.snapshot_id for r in rows}
    with dbs.index.connect() as c:
        roots = (
            dict(
                c.execute(
                    select(S.snapshots.c.id, S.snapshots.c.root).where(S.snapshots.c.id.in_(snaps))
                ).all()
            )
            if snaps
            else {}
        )
    # Labels survive a rescan by path: a folder labelled in an older snapshot of the same root
    # is the same folder and must not be offered again.
    paths = {r.rel_path for r in rows if roots.get(r.snapshot_id) == snapshot_root}
    return ids, paths


def load_candidates(dbs: Databases, snapshot_id: int, min_depth: int, max_depth: int) -> list[Candidate]:
    f = S.folder_features.c
    q = (
        select(
            f.folder_id,
            f.rel_path,
            f.name,
            f.depth,
            f.parent_name,
            f.children,
            f.top_exts,
            f.file_count,
            f.subfolder_count,
            f.heuristic_label,
            f.heuristic_confidence,
            f.heuristic_rule,
        )
        .where(f.snapshot_id == snapshot_id, f.depth >= min_depth, f.depth <= max_depth)
        .order_by(f.folder_id)
    )
    with dbs.training.connect() as c:
        rows = c.execute(q).all()
    return [
        Candidate(
            r.folder_id,
            r.rel_path,
            r.name,
            r.depth,
            r.parent_name,
            r.children or "[]",
            r.top_exts or "[]",
            r.file_count,
            r.subfolder_count,
            r.heuristic_label or "unknown",
            float(r.heuristic_confidence or 0.0),
            r.heuristic_rule or "",
        )
        for r in rows
    ]


def _has_features(dbs: Databases, snapshot_id: int) -> bool:
    with dbs.training.connect() as c:
        return (
            c.execute(
                select(S.folder_features.c.folder_id)
                .where(S.folder_features.c.snapshot_id == snapshot_id)
                .limit(1)
            ).first()
            is not None
        )


def sample_row(c: Candidate, snapshot_id: int) -> dict[str, object]:
    """One CSV row: contract columns, the heuristic's guess and readable context."""
    children = json.loads(c.children_json)
    kids = "; ".join(children)
    if c.subfolder_count > len(children):
        kids += (
            f"; … ({c.subfolder_count - len(children)} more)" if kids else f"({c.subfolder_count} folders)"
        )
    exts = ", ".join(f"{e or '(no ext)'} {n}" for e, n in json.loads(c.top_exts_json))
    return {
        "folder_id": c.folder_id,
        "snapshot_id": snapshot_id,
        "path": c.rel_path,
        "name": c.name,
        "parent": c.parent_name or "",
        "depth": c.depth,
        "heuristic_prediction": c.heuristic_label,
        "label": "",
        "heuristic_confidence": f"{c.heuristic_confidence:.2f}",
        "heuristic_rule": c.heuristic_rule,
        "children": kids,
        "extensions": exts,
        "file_count": c.file_count,
        "subfolder_count": c.subfolder_count,
    }


def generate_samples(
    dbs: Databases,
    snapshot_id: int | None,
    output_csv: str | Path,
    config: GenerateSamplesConfig | None = None,
    *,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
    picker: Picker | None = None,
) -> SampleResult:
    """Pick ``config.sample_size`` folders of a snapshot and write the samples CSV."""
    config = config or GenerateSamplesConfig()
    snap = resolve_snapshot(dbs.index, snapshot_id)
    if not _has_features(dbs, snap.id):
        raise UserError(
            f"Snapshot {snap.id} has no features yet. Run: python organizer.py model extract-features "
            f"--snapshot-id {snap.id} --storage {shlex.quote(str(Path(dbs.index.url.database or '.').resolve().parent))}"
        )
    progress(0.05, "loading folders")
    cands = load_candidates(dbs, snap.id, config.min_depth, config.max_depth)
    check_stop(should_stop)
    ids, paths = _labelled_in_newest_run(dbs, snap.root)
    fresh = [c for c in cands if c.folder_id not in ids and c.rel_path not in paths]
    excluded = len(cands) - len(fresh)
    if not fresh:
        if not cands:
            raise UserError(
                f"No folders of snapshot {snap.id} lie between depth {config.min_depth} and "
                f"{config.max_depth}. Widen min_depth/max_depth in the config."
            )
        raise UserError(
            f"All {len(cands):,} folders between depth {config.min_depth} and {config.max_depth} are "
            "already labelled. Widen the depth range, or train a model on your labels."
        )
    progress(0.3, f"picking {min(config.sample_size, len(fresh)):,} of {len(fresh):,} folders")
    if picker is not None:
        # Another way to choose (label next: engine.active.label_next.picker_for), given by
        # the caller so that this lower layer never imports the models that drive it.
        picked = picker(dbs, fresh, snap.id, config, wrap_progress(progress, 0.3, 0.8), should_stop)
    elif config.strategy == "diverse":
        picked = select_samples(fresh, config.sample_size, config.diversity_factor, config.seed)
    else:
        raise UserError(
            f"strategy '{config.strategy}' needs a model to pick with; run it through 'model generate-samples'."
        )
    check_stop(should_stop)
    picked.sort(key=lambda c: c.rel_path.casefold())  # siblings side by side: easier to label
    progress(0.8, "writing the CSV")
    out = Path(output_csv)
    write_csv(out, SAMPLE_COLUMNS, (sample_row(c, snap.id) for c in picked))
    progress(1.0, f"{len(picked)} samples written")
    return SampleResult(
        snapshot_id=snap.id,
        path=out,
        rows=len(picked),
        candidates=len(fresh),
        excluded_labelled=excluded,
        by_label=dict(Counter(c.heuristic_label for c in picked)),
        by_depth=dict(sorted(Counter(c.depth for c in picked).items())),
    )


def run_generate_samples(
    settings: StorageSettings,
    config: GenerateSamplesConfig | None = None,
    *,
    output_csv: str | Path,
    snapshot_id: int | None = None,
    picker: Picker | None = None,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> SampleResult:
    """``model generate-samples`` as one call: opens the databases, picks, writes, closes them."""
    dbs = Databases.open(settings)
    try:
        return generate_samples(
            dbs, snapshot_id, output_csv, config, progress=progress, should_stop=should_stop, picker=picker
        )
    finally:
        dbs.dispose()
