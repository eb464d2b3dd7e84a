"""Run every notebook headless against the replay server; print one line per notebook.

    python tools/run_notebooks.py [--dialect ga] [NN ...]   # e.g. 03 07 to run just those
"""

from __future__ import annotations

import sys
import time

from nbclient.exceptions import CellExecutionError

from notebook_tools import execute, notebook_paths


def main(selected: list[str], dialect: str | None = None) -> int:
    failures = 0
    paths = [p for p in notebook_paths() if not selected or p.name[:2] in selected]
    for path in paths:
        start = time.monotonic()
        try:
            nb = execute(path, dialect=dialect)
        except CellExecutionError as exc:
            failures += 1
            reason = str(exc).strip().splitlines()[-1][:120]
            print(f"{path.name:32s} FAILED {time.monotonic() - start:5.1f} s  {reason}", flush=True)
            continue
        cells = sum(c.cell_type == "code" for c in nb.cells)
        print(f"{path.name:32s} ok     {time.monotonic() - start:5.1f} s  {cells} code cells", flush=True)
    print(f"{len(paths) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = None
    if "--dialect" in args:
        at = args.index("--dialect")
        chosen = args[at + 1]
        del args[at:at + 2]
    sys.exit(main(args, chosen))
