"""`make lab`: mark the shipped notebooks trusted, then open the series in JupyterLab.

    python tools/lab.py [FOLDER]     # FOLDER: the notebooks folder to serve (default notebooks/)

Trusted notebooks show their committed HTML outputs (the audio players); untrusted ones hide them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from notebook_tools import NOTEBOOKS, ROOT, notebook_paths


def main(folder: Path) -> int:
    jupyter = str(Path(sys.executable).with_name("jupyter"))
    books = notebook_paths(folder) + notebook_paths(folder / "zh-CN")
    subprocess.run([jupyter, "trust", *map(str, books)], check=True, stdout=subprocess.DEVNULL)
    print(f"lab: marked {len(books)} notebooks trusted, so that their audio players show", flush=True)
    args = [jupyter, "lab", f"--ServerApp.root_dir={folder}"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    config_path = [str(ROOT / "tools" / "jupyter"), os.environ.get("JUPYTER_CONFIG_PATH", "")]
    os.execve(jupyter, args, {**os.environ, "JUPYTER_CONFIG_PATH": os.pathsep.join(filter(None, config_path))})


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else NOTEBOOKS))
