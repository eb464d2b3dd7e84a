"""The conversation's context in 2026 (GA): out-of-band responses and the `truncation` setting.

* ``response.create`` may run **out of band**: ``conversation: "none"`` keeps its output out of
  the conversation (its ``conversation_id`` is null), ``metadata`` (at most 16 pairs, keys up to
  64 and values up to 512 characters) is echoed on the response, and ``input`` may name
  conversation items by ``{"type": "item_reference", "id": ...}`` (SDK
  ``realtime_response_create_params_with_references_param.py``; the SDK's pydantic model of the
  event lacks the reference type, so references are checked here and hidden from it).
* ``truncation``: ``"auto"``, ``"disabled"``, or ``{"type": "retention_ratio", "retention_ratio":
  0..1, "token_limits": {"post_instructions": N}}`` where N may not exceed the context window minus
  the maximum output (SDK ``realtime_truncation_retention_ratio.py``; windows from `helpers.catalogue`).

The error codes and wording below are the replay server's own: no capture shows OpenAI's (unconfirmed).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from .. import catalogue
from .validation import ClientError

__all__ = ["ResponseScope", "check_truncation", "response_scope", "validation_view"]

MAX_METADATA_PAIRS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 16, 64, 512
MAX_OUTPUT_TOKENS = 32_000   # the gpt-realtime-2 family's maximum output (model pages, see the catalogue)


@dataclass(frozen=True)
class ResponseScope:
    """Where a response writes: into the conversation or not, and the metadata it carries."""

    in_conversation: bool = True
    metadata: dict | None = None


def _references(event: dict) -> list[tuple[int, dict]]:
    body = event.get("response") if event.get("type") == "response.create" else None
    entries = body.get("input") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return []
    return [(i, e) for i, e in enumerate(entries) if isinstance(e, dict) and e.get("type") == "item_reference"]


def validation_view(event: dict) -> dict:
    """`event` as the SDK's model can check it: item references taken out of ``response.input``."""
    references = _references(event)
    if not references:
        return event
    skip = {i for i, _ in references}
    event = copy.deepcopy(event)
    event["response"]["input"] = [e for i, e in enumerate(event["response"]["input"]) if i not in skip]
    return event


def response_scope(event: dict, item_ids: list[str]) -> ResponseScope:
    """Check the out-of-band options of a ``response.create``; where its output goes."""
    body: dict = event["response"] if isinstance(event.get("response"), dict) else {}
    for index, reference in _references(event):
        if not isinstance(reference.get("id"), str):
            raise ClientError("missing_required_parameter", f"Missing required parameter: 'response.input[{index}].id'.",
                              f"response.input[{index}].id")
        if reference["id"] not in item_ids:
            raise ClientError("item_not_found", f"Item with item_id '{reference['id']}' not found.",
                              f"response.input[{index}].id")
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        if len(metadata) > MAX_METADATA_PAIRS:
            raise ClientError("invalid_value", f"Invalid 'response.metadata': at most {MAX_METADATA_PAIRS} key-value "
                              f"pairs, got {len(metadata)}.", "response.metadata")
        for key, value in metadata.items():
            if len(key) > MAX_METADATA_KEY or not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
                raise ClientError("invalid_value", f"Invalid 'response.metadata.{key[:64]}': keys have at most "
                                  f"{MAX_METADATA_KEY} characters, values are strings of at most {MAX_METADATA_VALUE}.",
                                  f"response.metadata.{key[:64]}")
    conversation = body.get("conversation", "auto")
    return ResponseScope(in_conversation=conversation != "none", metadata=metadata)


def check_truncation(session: dict, model: str) -> None:
    """Refuse a ``truncation`` setting the service would refuse: a ratio outside 0..1, a limit past the window."""
    rule = session.get("truncation")
    if not isinstance(rule, dict):
        return
    ratio = rule.get("retention_ratio")
    if isinstance(ratio, (int, float)) and not 0 <= ratio <= 1:
        raise ClientError("invalid_value", f"Invalid 'session.truncation.retention_ratio': expected a value between "
                          f"0 and 1, got {ratio}.", "session.truncation.retention_ratio")
    limit = (rule.get("token_limits") or {}).get("post_instructions")
    try:
        window = catalogue.lookup(model).context_window
    except KeyError:
        window = None
    if isinstance(limit, int) and window is not None and isinstance(window.value, int) \
            and limit > window.value - MAX_OUTPUT_TOKENS:
        raise ClientError("invalid_value", f"Invalid 'session.truncation.token_limits.post_instructions': {limit} is "
                          f"more than the context window of {model} ({window.value}) minus its maximum output "
                          f"({MAX_OUTPUT_TOKENS}).", "session.truncation.token_limits.post_instructions")
