"""helpers.pricing: the price table and the cost arithmetic."""

from __future__ import annotations

import pytest

from helpers import pricing
from tests.frames import USAGE


def test_cost_splits_cached_tokens_by_modality():
    usage = {"total_tokens": 821, "input_tokens": 789, "output_tokens": 32,
             "input_token_details": {"text_tokens": 313, "audio_tokens": 476, "cached_tokens": 640,
                                     "cached_tokens_details": {"text_tokens": 256, "audio_tokens": 384}},
             "output_token_details": {"text_tokens": 9, "audio_tokens": 23}}
    cost = pricing.cost(usage, "gpt-realtime-mini")
    assert cost.breakdown == pytest.approx({
        "text in": 57 * 0.60e-6, "cached text in": 256 * 0.06e-6, "audio in": 92 * 10e-6,
        "cached audio in": 384 * 0.30e-6, "text out": 9 * 2.40e-6, "audio out": 23 * 20e-6})
    assert cost.amount == pytest.approx(0.00156636)
    assert str(cost) == "0.001566 USD"


def test_cost_with_totals_only_prices_everything_as_text():
    usage = {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500}
    cost = pricing.cost(usage, "step-1o-audio")
    assert (cost.amount, cost.currency) == (pytest.approx(0.055), "CNY")      # 1000*25 + 500*60 per million
    cached = pricing.cost({**usage, "input_token_details": {"cached_tokens": 400}}, "step-audio-2")
    assert cached.amount == pytest.approx((600 * 10 + 400 * 2 + 500 * 70) / 1e6)


def test_price_table_entries_name_their_source_and_date():
    for model in ("gpt-realtime", "gpt-realtime-mini", "step-1o-audio", "step-audio-2"):
        entry = pricing.price(model)
        assert entry.source.startswith("https://") and entry.checked.count("-") == 2
        assert entry.currency in ("USD", "CNY")
    assert pricing.price("gpt-realtime-2025-08-28") is pricing.PRICES["gpt-realtime"]


def test_unknown_model_and_bad_usage_are_clear_errors():
    with pytest.raises(KeyError, match="priced models: gpt-realtime, gpt-realtime-1.5, gpt-realtime-2"):
        pricing.cost(USAGE, "gpt-5")
    with pytest.raises(TypeError, match="usage must be"):
        pricing.cost(None, "gpt-realtime")
    with pytest.raises(TypeError, match="model must be"):
        pricing.price(None)
