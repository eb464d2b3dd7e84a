"""Realtime model prices and the cost of a response's `usage`.

Prices are per million tokens, in the provider's currency, each with the page it came from
and the date it was checked; they live in `helpers.catalogue`. Prices change: check the source
before relying on a figure.

How `cost` reads a `usage` object (the one in ``response.done``, both dialects):

* ``input_token_details.text_tokens`` / ``audio_tokens`` are all input tokens of that modality;
  ``cached_tokens_details.text_tokens`` / ``audio_tokens`` are the cached *part* of them.
  Cached tokens are billed at the cached price, the rest at the normal input price.
* When a provider sends no per-modality details (only ``input_tokens`` / ``output_tokens``),
  every token is billed at the text price, and cached tokens without a split count as text
  first. For StepFun this changes nothing: its prices do not depend on the modality.
* Image tokens (GA, ``input_token_details.image_tokens``, cached part in ``cached_tokens_details``)
  are billed at the model's image price, and appear in the breakdown only when the usage has some;
  a model with no image price raises on image tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .catalogue import CATALOGUE, Price, lookup

__all__ = ["PRICES", "Cost", "Price", "cost", "price", "split_usage"]

# The per-token prices of the catalogue (models priced per minute or not at all are left out).
PRICES: dict[str, Price] = {name: entry.price for name, entry in CATALOGUE.items() if entry.price}


def price(model: str) -> Price:
    """The price entry for `model`; a dated snapshot (``gpt-realtime-2025-08-28``) uses its family's."""
    try:
        entry = lookup(model)
    except KeyError:
        entry = None
    if entry is None or entry.price is None:
        why = f" ({entry.price_note.value})" if entry is not None and entry.price_note else ""
        raise KeyError(f"no price for model {model!r}{why}; priced models: {', '.join(sorted(PRICES))}")
    return entry.price


@dataclass(frozen=True)
class Cost:
    """The cost of some usage: `amount` in `currency`, and what each kind of token added."""

    amount: float
    currency: str
    breakdown: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.amount:.6f} {self.currency}"


def cost(usage: dict, model: str) -> Cost:
    """What `usage` (a ``response.done`` usage object) cost on `model` (see the module notes)."""
    if not isinstance(usage, dict):
        raise TypeError(f"usage must be the 'usage' object of response.done, not {type(usage).__name__}")
    entry = price(model)
    tokens = split_usage(usage)
    rates = {
        "text in": entry.text_in, "cached text in": entry.cached_text_in,
        "audio in": entry.audio_in, "cached audio in": entry.cached_audio_in,
        "text out": entry.text_out, "audio out": entry.audio_out,
    }
    if tokens["image in"] or tokens["cached image in"]:
        if entry.image_in is None or entry.cached_image_in is None:
            raise KeyError(f"no image price for model {model!r}, but the usage has image tokens")
        rates |= {"image in": entry.image_in, "cached image in": entry.cached_image_in}
    breakdown = {kind: round(tokens[kind] * rates[kind] / 1_000_000, 10) for kind in rates}
    return Cost(round(sum(breakdown.values()), 10), entry.currency, breakdown)


def split_usage(usage: dict) -> dict[str, int]:
    """Token counts by billing kind: text/audio/image in (uncached), cached text/audio/image in, text/audio out."""
    details = usage.get("input_token_details") or {}
    text_in = details.get("text_tokens")
    audio_in = details.get("audio_tokens")
    if text_in is None and audio_in is None:
        text_in, audio_in = usage.get("input_tokens") or 0, 0
    text_in, audio_in = text_in or 0, audio_in or 0
    cached_split = details.get("cached_tokens_details") or {}
    if cached_split:
        cached_text = cached_split.get("text_tokens") or 0
        cached_audio = cached_split.get("audio_tokens") or 0
        cached_image = cached_split.get("image_tokens") or 0
    else:
        cached = details.get("cached_tokens") or 0
        cached_text = min(cached, text_in)
        cached_audio = cached - cached_text
        cached_image = 0
    image_in = details.get("image_tokens") or 0
    out = usage.get("output_token_details") or {}
    text_out = out.get("text_tokens")
    audio_out = out.get("audio_tokens")
    if text_out is None and audio_out is None:
        text_out, audio_out = usage.get("output_tokens") or 0, 0
    return {
        "text in": max(text_in - cached_text, 0), "cached text in": cached_text,
        "audio in": max(audio_in - cached_audio, 0), "cached audio in": cached_audio,
        "image in": max(image_in - cached_image, 0), "cached image in": cached_image,
        "text out": text_out or 0, "audio out": audio_out or 0,
    }
