"""How a secret is shown anywhere it must be mentioned: as a mask that reveals nothing of it.

A mask that keeps a key's length or its first and last characters (``sk-****…2345``) narrows
the search for it and links a message to a key; this one keeps nothing but whether there was one.
"""

from __future__ import annotations

import re

MASK = "****"

# Masks in the OpenAI style that an upstream puts into its messages: a prefix, stars or an
# ellipsis, and the key's last characters (``sk-proj-****…2345``, ``sk-abc***********wxyz``).
_KEY_HINT = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-]*[*…][A-Za-z0-9_\-*…]*")


def masked(secret: str | None) -> str:
    """`secret` as shown to a person: ``(none)`` when absent, else the same mask for every key."""
    return "(none)" if not secret else MASK


def hide_key_hints(text: str) -> str:
    """`text` with every OpenAI-style key mask (which shows a key's length and last characters) replaced by `MASK`."""
    return _KEY_HINT.sub(MASK, text)
