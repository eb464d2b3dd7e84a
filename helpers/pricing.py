"""Realtime model prices and the cost of a response's `usage`.

Prices are per million tokens, in the provider's currency, each with the page it came from
and the date it was checked. Prices change: check the source before relying on a figure.

How `cost` reads a `usage` object (the one in ``response.done``, both dialects):

* ``input_token_details.text_tokens`` / ``audio_tokens`` are all input tokens of that modality;
  ``cached_tokens_details.text_tokens`` / ``audio_tokens`` are the cached *part* of them.
  Cached tokens are billed at the cached price, the rest at the normal input price.
* When a provider sends no per-modality details (only ``input_tokens`` / ``output_tokens``),
  every token is billed at the text price, and cached tokens without a split count as text
  first. For StepFun this changes nothing: its prices do not depend on the modality.
* Image tokens (GA) are not priced here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_OPENAI_MODEL_PAGE = "https://developers.openai.com/api/docs/models/"
_STEPFUN_PRICES = "https://platform.stepfun.com/docs/zh/guides/pricing/details"


@dataclass(frozen=True)
class Price:
    """What one model costs per million tokens, and where that figure comes from."""

    model: str
    currency: str
    text_in: float
    cached_text_in: float
    text_out: float
    audio_in: float
    cached_audio_in: float
    audio_out: float
    source: str
    checked: str
    note: str = ""


PRICES: dict[str, Price] = {p.model: p for p in (
    Price("gpt-realtime", "USD",
          text_in=4.00, cached_text_in=0.40, text_out=16.00,
          audio_in=32.00, cached_audio_in=0.40, audio_out=64.00,
          source=_OPENAI_MODEL_PAGE + "compare?model=gpt-realtime",
          checked="2026-11-22",
          note="Text figures read on the gpt-realtime entry of OpenAI's model comparison page. "
               "The audio figures were read on the gpt-realtime-1.5 and gpt-realtime-2 pages (same tier); "
               "the gpt-realtime page itself was not seen with its audio prices."),
    Price("gpt-realtime-mini", "USD",
          text_in=0.60, cached_text_in=0.06, text_out=2.40,
          audio_in=10.00, cached_audio_in=0.30, audio_out=20.00,
          source=_OPENAI_MODEL_PAGE + "gpt-realtime-2.1-mini",
          checked="2026-11-22",
          note="Text input $0.60 is shown for GPT-Realtime Mini in that page's comparison box. The other "
               "figures are the gpt-realtime-2.1-mini ones (the current mini tier); they were not seen on a "
               "gpt-realtime-mini page itself."),
    Price("step-1o-audio", "CNY",
          text_in=25.0, cached_text_in=5.0, text_out=60.0,
          audio_in=25.0, cached_audio_in=5.0, audio_out=60.0,
          source=_STEPFUN_PRICES,
          checked="2026-11-22",
          note="StepFun quotes one price per direction (cache miss 25 元, cache hit 5 元, output 60 元 per "
               "1M tokens), whatever the modality. Read from a verbatim transcription of that page "
               "(api-evangelist/stepfun, dated 2026-10-07), not from the page itself."),
    Price("step-audio-2", "CNY",
          text_in=10.0, cached_text_in=2.0, text_out=70.0,
          audio_in=10.0, cached_audio_in=2.0, audio_out=70.0,
          source=_STEPFUN_PRICES,
          checked="2026-11-22",
          note="One price per direction (input 10 元, cache hit 2 元, output 70 元 per 1M tokens). Read "
               "from a verbatim transcription of that page (api-evangelist/stepfun, dated 2026-10-07), "
               "not from the page itself."),
)}

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def price(model: str) -> Price:
    """The price entry for `model`; a dated snapshot (``gpt-realtime-2025-08-28``) uses its family's."""
    if not isinstance(model, str):
        raise TypeError(f"model must be a model name (str), not {type(model).__name__}")
    entry = PRICES.get(model) or PRICES.get(_SNAPSHOT.sub("", model))
    if entry is None:
        raise KeyError(f"no price for model {model!r}; known models: {', '.join(sorted(PRICES))}")
    return entry


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
    breakdown = {kind: round(tokens[kind] * rates[kind] / 1_000_000, 10) for kind in rates}
    return Cost(round(sum(breakdown.values()), 10), entry.currency, breakdown)


def split_usage(usage: dict) -> dict[str, int]:
    """Token counts by billing kind: text/audio in (uncached), cached text/audio in, text/audio out."""
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
    else:
        cached = details.get("cached_tokens") or 0
        cached_text = min(cached, text_in)
        cached_audio = cached - cached_text
    out = usage.get("output_token_details") or {}
    text_out = out.get("text_tokens")
    audio_out = out.get("audio_tokens")
    if text_out is None and audio_out is None:
        text_out, audio_out = usage.get("output_tokens") or 0, 0
    return {
        "text in": max(text_in - cached_text, 0), "cached text in": cached_text,
        "audio in": max(audio_in - cached_audio, 0), "cached audio in": cached_audio,
        "text out": text_out or 0, "audio out": audio_out or 0,
    }
