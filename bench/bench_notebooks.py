"""Wall time of the whole notebook series on the replay server, against the sessions it replays.

Each notebook runs top to bottom in a fresh kernel (as `make run` does). The peer figure is
the recorded length of the cassettes each notebook uses: what the same sessions took when
they were recorded. Prints per-notebook seconds and the suite's ratio to both that and the
one-minute budget.

    python bench/bench_notebooks.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from helpers import cassette  # noqa: E402
from notebook_tools import execute, notebook_paths  # noqa: E402

BUDGET_S = 60.0


def recorded_seconds(path: Path) -> float:
    """Total recorded duration of the cassettes a notebook names."""
    text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
    tapes = [p for p in (ROOT / "media" / "cassettes").glob("*.jsonl") if f'"{p.stem}"' in text]
    return sum(max((f.t for f in cassette.load(tape).frames), default=0.0) for tape in tapes)


def main() -> None:
    rows = []
    for path in notebook_paths():
        start = time.perf_counter()
        execute(path)
        rows.append((path.name, time.perf_counter() - start, recorded_seconds(path)))
    print(f"{'notebook':32s} {'wall s':>7s} {'recorded s':>11s}")
    for name, wall, recorded in rows:
        print(f"{name:32s} {wall:7.1f} {recorded:11.1f}")
    wall = sum(r[1] for r in rows)
    recorded = sum(r[2] for r in rows)
    print(f"{'suite':32s} {wall:7.1f} {recorded:11.1f}")
    print(f"suite wall time / recorded session time = {wall / recorded:.2f}x")
    print(f"suite wall time / {BUDGET_S:.0f} s budget         = {wall / BUDGET_S:.2f}x")


if __name__ == "__main__":
    main()
