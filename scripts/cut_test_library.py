#!/usr/bin/env python3
"""Cut the small labelled library the tests carry (``tests/data/ttrpg-mini/``) from the two
development sets next to the checkout (``../shared/datasets/ttrpg-dev`` and ``ttrpg-dev2``).

    python3 scripts/cut_test_library.py [--datasets ../shared/datasets] [--out tests/data/ttrpg-mini]

Whole top-level roots only (a root, every folder below it and every file in them), so every
family (a parent with all its children) is complete and the folder/file shapes are the real ones.
The roots are listed in ``ROOTS`` below: several sources from each set, every label class
present. Writes ``files.txt`` (one path a line, under ``library/``), ``folders.csv`` (path, label,
notes, source) and ``sources.csv`` (one row per source repository: set, root, repository, commit,
folders, files, licence as stated in the set's PROVENANCE.md). Standard library only; the tests
never run this (they read its output, which the repository carries).
"""

from __future__ import annotations

import argparse
import collections
import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (set, top-level folder under library/)
ROOTS = [
    ("ttrpg-dev", "mbround18"),
    ("ttrpg-dev", "BattlemapsOfTheFrostmaiden"),
    ("ttrpg-dev", "dnd-maps"),
    ("ttrpg-dev", "jb2a-extras"),
    ("ttrpg-dev", "zahi-cartography-free-maps"),
    ("ttrpg-dev", "Gage Eakins"),
    ("ttrpg-dev", "Pariah Zero"),
    ("ttrpg-dev", "Gremlin"),
    ("ttrpg-dev", "ecosquirrel-free-token-collection"),
    ("ttrpg-dev", "the-enmity-cycle-map-remakes-by-kalnix"),
    ("ttrpg-dev2", "foundryWorlds"),
    ("ttrpg-dev2", "foundry"),
    ("ttrpg-dev2", "tyr0mancer"),
    ("ttrpg-dev2", "lancer-games"),
    ("ttrpg-dev2", "abomination-vaults-addons"),
    ("ttrpg-dev2", "kctg-token-rings"),
    ("ttrpg-dev2", "Omar19"),
    ("ttrpg-dev2", "Basics-by-ToaCS"),
    ("ttrpg-dev2", "the-marsh"),
    ("ttrpg-dev2", "prep-cthulhu-panique"),
    ("ttrpg-dev2", "2022"),
]


def licences(provenance_md: Path) -> dict[str, str]:
    """repository (owner/name) -> 'license as stated' line of the set's PROVENANCE.md."""
    out, repo = {}, None
    for line in provenance_md.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^### (\S+)", line)
        if m:
            repo = m.group(1)
        m = re.match(r"^\* license as stated: (.*)$", line)
        if m and repo:
            out[repo.lower()] = m.group(1).strip()
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--out", default=str(ROOT / "tests" / "data" / "ttrpg-mini"))
    a = ap.parse_args(argv)
    src, out = Path(a.datasets), Path(a.out)
    files: list[str] = []
    folders: list[dict] = []
    sources: dict[tuple, dict] = {}
    for set_name in sorted({s for s, _ in ROOTS}):
        keep = {r for s, r in ROOTS if s == set_name}
        lic = licences(src / set_name / "PROVENANCE.md")
        with open(src / set_name / "provenance.csv", encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                root = row["path"].split("/")[1]
                if root not in keep:
                    continue
                files.append(row["path"])
                key = (set_name, root, row["repo"], row["commit"])
                s = sources.setdefault(key, {"files": 0, "folders": 0})
                s["files"] += 1
                s["licence"] = lic.get(row["repo"].lower()) or next(
                    (v for k, v in lic.items() if k.split("/")[-1] == row["repo"].lower().split("/")[-1]), ""
                )
        with open(src / set_name / "folders.csv", encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                root = row["path"].split("/")[0]
                if root in keep:
                    folders.append({**row, "source": set_name})
                    for key, s in sources.items():
                        if key[:2] == (set_name, root):
                            s["folders"] += 1
    missing = {r for _, r in ROOTS} - {f["path"].split("/")[0] for f in folders}
    if missing:
        print(f"roots not found: {sorted(missing)}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "files.txt").write_text("".join(p + "\n" for p in sorted(files)), encoding="utf-8")
    with open(out / "folders.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "label", "notes", "source"], lineterminator="\n")
        w.writeheader()
        w.writerows(sorted(folders, key=lambda r: r["path"]))
    with open(out / "sources.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["set", "root", "repository", "commit", "folders", "files", "licence_as_stated"])
        for (set_name, root, repo, commit), s in sorted(sources.items()):
            w.writerow(
                [set_name, root, f"https://github.com/{repo}", commit, s["folders"], s["files"], s["licence"]]
            )
    counts = collections.Counter(f["label"] for f in folders)
    print(f"{len(folders)} folders, {len(files)} files, {len(sources)} sources -> {out}")
    print("labels: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
