"""A per-turn report: latency, audio received, tokens and cost of one response.

Times are measured from the moment ``response.create`` was sent; for a response the
server started by itself (server VAD) there is no such moment, and they are measured
from ``response.created`` instead (the report says which). Anything unknown prints as "—".
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from . import pricing
from .audio import BYTES_PER_MS
from .conversation import Conversation

MISSING = "—"


@dataclass(frozen=True)
class TurnReport:
    """Latency, audio, tokens and cost of one response; None means not known."""

    response_id: str
    status: str | None
    model: str | None
    measured_from: str | None
    first_text_ms: int | None
    first_audio_ms: int | None
    first_transcript_ms: int | None
    total_ms: int | None
    audio_s: float | None
    input_tokens: int | None
    input_text_tokens: int | None
    input_audio_tokens: int | None
    cached_tokens: int | None
    output_tokens: int | None
    output_text_tokens: int | None
    output_audio_tokens: int | None
    cost: pricing.Cost | None
    prices: str | None = None
    note: str = ""

    def rows(self) -> list[tuple[str, str]]:
        """The report as (label, value) pairs, values already formatted."""
        cost = MISSING if self.cost is None else f"{self.cost.amount:.6f} {self.cost.currency}"
        return [
            ("response", f"{self.response_id} ({self.status or MISSING})"),
            ("model", self.model or MISSING),
            ("times from", self.measured_from or MISSING),
            ("first text", _ms(self.first_text_ms)),
            ("first audio", _ms(self.first_audio_ms)),
            ("first transcript", _ms(self.first_transcript_ms)),
            ("total", _ms(self.total_ms)),
            ("audio received", MISSING if self.audio_s is None else f"{self.audio_s:.2f} s"),
            ("input tokens", _tokens(self.input_tokens, text=self.input_text_tokens,
                                     audio=self.input_audio_tokens, cached=self.cached_tokens)),
            ("output tokens", _tokens(self.output_tokens, text=self.output_text_tokens,
                                      audio=self.output_audio_tokens)),
            ("cost", cost),
            ("prices", self.prices or MISSING),
        ] + ([("note", self.note)] if self.note else [])

    def __str__(self) -> str:
        rows = self.rows()
        width = max(len(label) for label, _ in rows)
        return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)

    def _repr_html_(self) -> str:
        cells = "".join(f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
                        f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
                        for label, value in self.rows())
        return f"<table>{cells}</table>"


def turn_report(conversation: Conversation, response_id: str | None = None,
                model: str | None = None) -> TurnReport:
    """The report of one response (the last one by default); `model` defaults to the session's."""
    if response_id is None:
        response = conversation.last_response
        if response is None:
            raise ValueError("no response in this conversation yet: send response.create and wait for it")
    elif response_id in conversation.responses:
        response = conversation.responses[response_id]
    else:
        known = ", ".join(conversation.responses) or "none"
        raise KeyError(f"no response {response_id!r}; known responses: {known}")

    measured_from: str | None
    start, measured_from = response.t_create_sent, "response.create sent"
    if start is None:
        start, measured_from = response.t_created, "response.created"
    if start is None:
        measured_from = None

    audio_bytes = sum(len(conversation.item(i).audio) for i in response.output
                      if i not in conversation.deleted_ids)

    model = model or conversation.session.get("model")
    usage = response.usage
    tokens = pricing.split_usage(usage) if usage else None
    cost, prices, note = None, None, ""
    if usage and model:
        try:
            cost = pricing.cost(usage, model)
            price = pricing.price(model)
            prices = f"{price.source} (checked {price.checked})"
        except KeyError as exc:
            note = str(exc.args[0])
    elif usage:
        note = "no model known: pass model=... to price this turn"

    def detail(section: str, key: str) -> int | None:
        return (usage.get(section) or {}).get(key) if usage else None

    return TurnReport(
        response_id=response.id,
        status=response.status,
        model=model,
        measured_from=measured_from,
        first_text_ms=_since(start, response.t_first_text),
        first_audio_ms=_since(start, response.t_first_audio),
        first_transcript_ms=_since(start, response.t_first_transcript),
        total_ms=_since(start, response.t_done),
        audio_s=round(audio_bytes / BYTES_PER_MS / 1000, 2) if audio_bytes else None,
        input_tokens=usage.get("input_tokens") if usage else None,
        input_text_tokens=detail("input_token_details", "text_tokens"),
        input_audio_tokens=detail("input_token_details", "audio_tokens"),
        cached_tokens=None if tokens is None else tokens["cached text in"] + tokens["cached audio in"],
        output_tokens=usage.get("output_tokens") if usage else None,
        output_text_tokens=detail("output_token_details", "text_tokens"),
        output_audio_tokens=detail("output_token_details", "audio_tokens"),
        cost=cost,
        prices=prices,
        note=note,
    )


def _since(start: float | None, end: float | None) -> int | None:
    return None if start is None or end is None else round((end - start) * 1000)


def _ms(value: int | None) -> str:
    return MISSING if value is None else f"{value} ms"


def _tokens(total: int | None, **parts: int | None) -> str:
    if total is None:
        return MISSING
    shown = " · ".join(f"{name} {MISSING if n is None else f'{n:,}'}" for name, n in parts.items())
    return f"{total:,} ({shown})"
