"""helpers.secrets: masks that reveal nothing of a key, and hints of a key removed from upstream text."""

from __future__ import annotations

from helpers.secrets import MASK, hide_key_hints, masked

KEY = "sk-proj-" + "Zq7Lm2Vb9TkR4wN1pYc8Hd3Jf6GsAeXu"


def test_masks_reveal_nothing():
    assert masked(KEY) == masked("sk-x") == masked("a much longer secret than any key " * 3) == MASK
    assert masked(None) == masked("") == "(none)"
    upstream = "Incorrect API key provided: sk-proj-****************************Xu12. You can find your API key at"
    assert hide_key_hints(upstream) == f"Incorrect API key provided: {MASK}. You can find your API key at"
    assert hide_key_hints("sk-abc***********wxyz and sk-****…2345") == f"{MASK} and {MASK}"
    assert hide_key_hints("the model gpt-realtime answered") == "the model gpt-realtime answered"
