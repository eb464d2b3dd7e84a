"""Run every notebook headless against the provider $REALTIME_PROVIDER names; print one line per notebook.

    python tools/run_notebooks.py [--dialect ga] [NN ...]   # e.g. 03 07 to run just those

Without REALTIME_PROVIDER the notebooks run on the replay server. With `stepfun` or `openai` they run
live, and only when that provider's key is in the environment: without it nothing runs (exit 2),
rather than a replay passed off as a live run. Outputs are not saved; files the notebooks write go
to output/ (git-ignored).
"""

from __future__ import annotations

import os
import re
import sys
import time

from nbclient.exceptions import CellExecutionError

from helpers.providers import Provider, get_provider
from notebook_tools import execute, notebook_paths

ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in the kernel's traceback
REFUSED = 2  # exit status when nothing ran


def against(provider: Provider, dialect: str | None) -> str:
    """What a run talks to, in words."""
    if not provider.key_names:
        return f"the replay server (synthesized sessions, no key{', ' + dialect + ' dialect' if dialect else ''})"
    return f"{provider.name} live at {provider.url} (key from the environment)"


def main(selected: list[str], dialect: str | None = None) -> int:
    provider = get_provider()
    if provider.key_names and not any(os.environ.get(name) for name in provider.key_names):
        print(f"run: REALTIME_PROVIDER={provider.name} needs {' or '.join(provider.key_names)} in the environment;"
              " nothing was run.\nrun: set the key for a live run, or unset REALTIME_PROVIDER to run on the replay"
              " server.", file=sys.stderr)
        return REFUSED
    if dialect and provider.key_names:
        print(f"run: --dialect chooses the replay server's dialect; {provider.name} speaks its own", file=sys.stderr)
        return REFUSED
    paths = [p for p in notebook_paths() if not selected or p.name[:2] in selected]
    print(f"run: {len(paths)} notebooks against {against(provider, dialect)}", flush=True)
    failures = 0
    for path in paths:
        start = time.monotonic()
        try:
            nb = execute(path, dialect=dialect, provider=provider.name)
        except CellExecutionError as exc:
            failures += 1
            reason = ANSI.sub("", str(exc).strip().splitlines()[-1])[:120]
            print(f"{path.name:32s} FAILED {time.monotonic() - start:5.1f} s  {reason}", flush=True)
            continue
        cells = sum(c.cell_type == "code" for c in nb.cells)
        print(f"{path.name:32s} ok     {time.monotonic() - start:5.1f} s  {cells} code cells", flush=True)
    print(f"{provider.name}: {len(paths) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = None
    if "--dialect" in args:
        at = args.index("--dialect")
        chosen = args[at + 1]
        del args[at:at + 2]
    sys.exit(main(args, chosen))
