"""Reasoning settings (GA, 2026): `reasoning.effort` and `parallel_tool_calls` on reasoning models only.

The SDK checks the values (``minimal`` .. ``xhigh``); this module checks that the session's model
reasons at all, per `helpers.catalogue` (the SDK says `parallel_tool_calls` is "only supported by
reasoning Realtime models"; third-party notes say non-reasoning models refuse `reasoning.effort`).
A model the catalogue does not know is given the benefit of the doubt. The wording and the code
``unsupported_parameter`` are the replay server's own (no capture shows OpenAI's: unconfirmed).
"""

from __future__ import annotations

from .. import catalogue
from .validation import ClientError

__all__ = ["check_reasoning"]

REASONING_ONLY = ("reasoning", "parallel_tool_calls")


def check_reasoning(body: dict, model: str, where: str) -> None:
    """Refuse reasoning-only fields of `body` (a session or a response, named `where`) on a non-reasoning model."""
    try:
        entry = catalogue.lookup(model)
    except KeyError:
        return
    if entry.supports("reasoning"):
        return
    for name in REASONING_ONLY:
        if body.get(name) is not None:
            raise ClientError("unsupported_parameter", f"Unsupported parameter: '{where}.{name}' is only supported by "
                              f"reasoning models such as {catalogue.default_model('openai')}; {model} does not "
                              "reason.", f"{where}.{name}")
