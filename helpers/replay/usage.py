"""Token usage of a response cut short: the recorded usage scaled to what was actually sent."""

from __future__ import annotations

import copy


def scaled_usage(usage: dict | None, sent_deltas: int, recorded_deltas: int) -> dict | None:
    """`usage` with output tokens scaled by the share of deltas sent (a modelled figure)."""
    usage = copy.deepcopy(usage)
    if not isinstance(usage, dict):
        return usage
    share = sent_deltas / recorded_deltas if recorded_deltas else 0.0
    details = usage.get("output_token_details")
    if isinstance(details, dict):
        for key in ("text_tokens", "audio_tokens"):
            if isinstance(details.get(key), int):
                details[key] = round(details[key] * share)
        usage["output_tokens"] = sum(v for v in details.values() if isinstance(v, int))
    elif isinstance(usage.get("output_tokens"), int):
        usage["output_tokens"] = round(usage["output_tokens"] * share)
    if isinstance(usage.get("input_tokens"), int) and isinstance(usage.get("output_tokens"), int):
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    return usage
