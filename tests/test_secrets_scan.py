"""No cassette, session log or notebook output holds anything that looks like an API key."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest

from helpers.secrets import masked

ROOT = Path(__file__).resolve().parent.parent
KEY_PATTERNS = [
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),                                  # OpenAI-style keys
    re.compile(r"(?i)\bbearer\s+(?!<scrubbed>)[A-Za-z0-9_\-.=:/+]{12,}"),      # Authorization values
    re.compile(r"(?i)[?&](?:api[_-]?key|access[_-]?token|token|key)=(?!<scrubbed>|%3Cscrubbed)[^&\s\"']{8,}"),
]
# A value under one of these names is a secret when it looks random enough.
AUTH_FIELD = re.compile(r"(?i)\"(authorization|api[_-]?key|x-api-key|access[_-]?token|secret|password|"
                        r"step_api_key|openai_api_key)\"\s*:\s*\"([^\"]+)\"")


def entropy_bits(text: str) -> float:
    """Shannon entropy of `text` per character, in bits."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def find_secrets(text: str) -> list[str]:
    """Key-like strings in `text`: known key shapes, and long random values in credential fields."""
    found = [m.group(0) for pattern in KEY_PATTERNS for m in pattern.finditer(text)]
    for match in AUTH_FIELD.finditer(text):
        value = match.group(2).removeprefix("Bearer ").strip()
        if len(value) >= 16 and entropy_bits(value) >= 3.5:
            found.append(f"{match.group(1)}: {value}")
    return found


def notebook_outputs(path: Path) -> str:
    """The outputs of every cell of a notebook, as one text."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return "\n".join(json.dumps(cell.get("outputs", []), ensure_ascii=False) for cell in cells)


def scanned_texts() -> list[tuple[str, str]]:
    """(name, text) for every cassette, every file in log/ and every notebook's outputs."""
    texts = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8", errors="replace"))
             for folder in (ROOT / "media" / "cassettes", ROOT / "log")
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".gitignore"]
    texts += [(str(p.relative_to(ROOT)), notebook_outputs(p)) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    return texts


def test_shipped_files_hold_no_key_like_strings():
    texts = scanned_texts()
    assert any(name.startswith("media") for name, _ in texts), "no cassettes found to scan"
    leaks = {name: [masked(s) for s in found] for name, text in texts if (found := find_secrets(text))}
    assert leaks == {}, f"key-like strings found (masked): {leaks}"


FAKE_KEY = "sk-proj-" + "Q3x9LmZ2Vb7TkR1wN8pYc4Hd6Jf0GsAe"
PLANTED = [
    f'{{"t": 0.0, "from": "client", "event": {{"type": "session.update", "note": "{FAKE_KEY}"}}}}',
    '{"headers": {"Authorization": "Bearer 9fK2mQ7xLp4vZt8RwN3bYc6Hj1Ds5GeA"}}',
    '{"url": "wss://api.stepfun.com/v1/realtime?model=step-1o-audio&api_key=a8Fk3LmQ9zX2pV7t"}',
    '{"api_key": "Zq8Wm3Kx7Vb2Nt5Rp9Ly4Hc6Jd1Fs0Ga"}',
]


@pytest.mark.parametrize("line", PLANTED, ids=["sk-key", "bearer", "url-key", "credential-field"])
def test_scanner_catches_a_planted_key(tmp_path, line):
    planted = tmp_path / "leaky.jsonl"
    planted.write_text('{"cassette": 1}\n' + line + "\n", encoding="utf-8")
    assert find_secrets(planted.read_text(encoding="utf-8"))


def test_scanner_catches_a_key_in_a_notebook_output(tmp_path):
    notebook = tmp_path / "leaky.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "print(key)", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": [f"using {FAKE_KEY}\n"]}]}]}), encoding="utf-8")
    assert find_secrets(notebook_outputs(notebook))


def test_scanner_passes_scrubbed_values_and_audio():
    clean = ('{"Authorization": "<scrubbed>", "note": "Bearer <scrubbed>", "url": "ws://x/?api_key=<scrubbed>",'
             ' "api_key": "sk-local-test", "delta": "AAAAAP7/AgD9/wMA+/8FAPn/CAD1/w0A7v8XAOD/LgC9/2UAUv9ZAQ=="}')
    assert find_secrets(clean) == []
