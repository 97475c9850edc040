#!/usr/bin/env python3
"""Benchmark ``gather`` against ``find``: prints ``ratio = find_median / gather_median``.

    .venv/bin/python bench/scan.py [--dir /tmp/fsorg-bench] [--folders 50000] [--files 200000] [--runs 5]

1. Generates (once; reused while its parameters match) a tree of ``--folders`` folders and
   ``--files`` empty files under ``DIR/tree``: a library-like shape (a few hundred
   creators/packs at the top, then nested categories, 10 subfolders per folder), file
   names with a mix of extensions, some spaces and non-ASCII names.
2. In one run, alternating so both see the same cache state: the median wall time of
   ``find ROOT -printf '%s %p\\n' > /dev/null`` and of an in-process
   ``engine.scan.gather(ROOT, fresh storage)`` (a fresh data folder each run, as a first scan;
   one untimed warm-up of each first). ``gather`` runs in a child Python process that has
   imported the engine but done nothing else, so its peak RSS (``ru_maxrss``) is the scan's.
3. Prints the figures; the issue asks for ratio >= 0.30, the goal is 0.6.

Not a test: the figures depend on the machine and its load. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXTS = ["png", "jpg", "webp", "pdf", "dd2vtt", "json", "txt", "zip", "PNG", "m4a", "webm", "psd"]
WORDS = [
    "Forest",
    "Dungeon",
    "Tokens",
    "Maps",
    "Battle",
    "Cave",
    "Tavern",
    "Ruins",
    "Night",
    "Day",
    "Gridless",
    "Assets",
    "Props",
    "Monsters",
    "Heroes",
    "Ship",
    "Castle",
    "Swamp",
    "Snow",
    "Île",
]


def generate(tree: Path, n_folders: int, n_files: int) -> None:
    """Create ``n_folders`` folders (excluding the root) and ``n_files`` empty files, fast.

    Breadth-first with 10 subfolders per folder; files are spread evenly over all folders.
    Uses dir-fd relative calls (one name resolved per call) to keep generation quick.
    """
    tmp = tree.with_name(tree.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    paths: list[str] = [""]
    i = 0
    while len(paths) - 1 < n_folders:
        parent = paths[i]
        i += 1
        for k in range(10):
            if len(paths) - 1 >= n_folders:
                break
            n = len(paths)
            name = f"{WORDS[n % len(WORDS)]} {n:06d}" if k % 3 else f"{WORDS[(n * 7) % len(WORDS)]}_{k}_{n}"
            rel = f"{parent}/{name}" if parent else name
            os.mkdir(tmp / rel)
            paths.append(rel)
    flags = os.O_CREAT | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
    per = n_files // len(paths)
    extra = n_files - per * len(paths)
    made = 0
    for j, rel in enumerate(paths):
        count = per + (1 if j < extra else 0)
        dfd = os.open(tmp / rel if rel else tmp, os.O_RDONLY)
        try:
            for _f in range(count):
                made += 1
                ext = EXTS[made % len(EXTS)]
                name = (
                    f"asset {made:07d}.{ext}" if made % 5 == 0 else f"{WORDS[made % len(WORDS)]}_{made}.{ext}"
                )
                os.close(os.open(name, flags, 0o644, dir_fd=dfd))
        finally:
            os.close(dfd)
    marker = tree.with_name(tree.name + ".json")
    marker.unlink(missing_ok=True)
    if tree.exists():
        shutil.rmtree(tree)
    tmp.rename(tree)
    marker.write_text(json.dumps({"folders": n_folders, "files": n_files}))


def ensure_tree(base: Path, n_folders: int, n_files: int) -> Path:
    tree = base / "tree"
    marker = tree.with_name(tree.name + ".json")  # written last: a half-made tree is never reused
    want = {"folders": n_folders, "files": n_files}
    if marker.exists() and json.loads(marker.read_text()) == want:
        print(f"reusing {tree} ({n_folders:,} folders, {n_files:,} files)")
        return tree
    t = time.perf_counter()
    print(f"generating {tree} ({n_folders:,} folders, {n_files:,} files) …", flush=True)
    generate(tree, n_folders, n_files)
    print(f"  generated in {time.perf_counter() - t:.1f} s")
    return tree


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_find(tree: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one ``find`` run."""
    c = _children_cpu()
    t = time.perf_counter()
    subprocess.run(["find", str(tree), "-printf", "%s %p\n"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t, _children_cpu() - c


CHILD = r"""
import json, os, resource, shutil, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
from engine.scan.gather import gather
from engine.core.settings import StorageSettings
tree = sys.argv[2]
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for line in sys.stdin:
    d = tempfile.mkdtemp(prefix="fsorg-bench-data-")
    try:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        c = ru.ru_utime + ru.ru_stime
        t = time.perf_counter()
        r = gather(tree, StorageSettings.from_storage_arg(d))
        dt = time.perf_counter() - t
        ru = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"seconds": dt, "cpu": ru.ru_utime + ru.ru_stime - c, "folders": r.folders, "files": r.files, "errors": r.errors,
                          "status": r.status, "db_bytes": os.path.getsize(os.path.join(d, "index.db")),
                          "rss0_kb": rss0,
                          "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--dir",
        default=os.path.join(tempfile.gettempdir(), "fsorg-bench"),
        help="where the generated tree lives (reused between runs)",
    )
    ap.add_argument("--folders", type=int, default=50_000)
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if shutil.which("find") is None:
        print("error: needs GNU find on PATH", file=sys.stderr)
        return 2
    tree = ensure_tree(Path(a.dir), a.folders, a.files)

    env = dict(os.environ, TMPDIR=str(Path(a.dir)))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROOT), str(tree)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdin and child.stdout

    def run_gather() -> dict:
        child.stdin.write("go\n")
        child.stdin.flush()
        return json.loads(child.stdout.readline())

    time_find(tree)  # warm-up: both see a warm dentry/inode cache
    first = run_gather()
    finds, gathers, find_cpu, gather_cpu = [], [], [], []
    last = first
    for _ in range(a.runs):
        wall, cpu = time_find(tree)
        finds.append(wall)
        find_cpu.append(cpu)
        last = run_gather()
        gathers.append(last["seconds"])
        gather_cpu.append(last["cpu"])
    child.stdin.close()
    child.wait()

    fm, gm = statistics.median(finds), statistics.median(gathers)
    print(
        f"tree: {tree}  ({last['folders']:,} folders incl. root, {last['files']:,} files, "
        f"{last['errors']} errors, status {last['status']})"
    )
    print(f"cpus: {os.cpu_count()}  python {sys.version.split()[0]}  load avg {os.getloadavg()[0]:.2f}")
    print(f"find   -printf '%s %p\\n' runs: {', '.join(f'{x:.3f}' for x in finds)}  median {fm:.3f} s")
    print(f"gather (in-process)   runs: {', '.join(f'{x:.3f}' for x in gathers)}  median {gm:.3f} s")
    fc, gc = statistics.median(find_cpu), statistics.median(gather_cpu)
    print(f"CPU seconds (user+sys) median: find {fc:.3f}, gather {gc:.3f}  (cpu ratio {fc / gc:.2f})")
    print(
        f"gather rate: {(last['folders'] + last['files']) / gm:,.0f} entries/s; "
        f"index.db {last['db_bytes'] / 2**20:.1f} MiB"
    )
    print(
        f"peak RSS of the gather process: {last['maxrss_kb'] / 1024:.0f} MiB "
        f"(after imports, before scanning: {last['rss0_kb'] / 1024:.0f} MiB)"
    )
    print(f"ratio = find_median / gather_median = {fm / gm:.2f}  (must be >= 0.30; goal 0.6)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
