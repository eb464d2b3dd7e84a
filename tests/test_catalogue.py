"""The model catalogue: sourced facts, defaults off retiring models, warnings, pricing read from it."""

from __future__ import annotations

import re
import warnings
from dataclasses import fields

import pytest

import helpers
from helpers import catalogue, pricing
from helpers import events as ev
from helpers.catalogue import RetiringModelWarning, Sourced
from helpers.providers import PROVIDERS
from helpers.replay import serve_in_background

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def test_every_fact_names_a_source_and_a_date():
    for entry in catalogue.CATALOGUE.values():
        facts = [getattr(entry, f.name) for f in fields(entry)]
        sourced = [fact for fact in facts if isinstance(fact, Sourced)]
        assert {"capabilities", "status"} <= {f.name for f in fields(entry) if isinstance(getattr(entry, f.name), Sourced)}
        for fact in sourced:
            assert fact.source and ISO_DATE.match(fact.date), (entry.model, fact)
        assert entry.price is not None or entry.price_note is not None, entry.model
        if entry.price:
            assert entry.price.model == entry.model and ISO_DATE.match(entry.price.checked)
            assert entry.price.source.startswith("https://")


def test_retiring_models_carry_date_and_replacement_and_the_replacement_is_not_retiring():
    retiring = [m for m in catalogue.CATALOGUE.values() if m.retiring]
    assert {m.model for m in retiring} >= {"gpt-realtime", "gpt-realtime-mini"}
    for entry in retiring:
        assert entry.shutdown.value in ("2027-01-20", "2027-02-26") and entry.status.value == "retiring"
        assert entry.replacement is None or not catalogue.lookup(entry.replacement.value).retiring
    notice = catalogue.retirement_notice("whisper-1")
    assert "2027-02-26" in notice and "gpt-realtime-whisper" in notice and "no replacement" in notice


def test_no_default_has_an_announced_shutdown():
    for provider, model in catalogue.DEFAULT_MODELS.items():
        assert not catalogue.lookup(model).retiring, provider
        assert catalogue.lookup(model).provider == provider
    for preset in PROVIDERS.values():
        assert not catalogue.lookup(preset.default_model).retiring, preset.name
    assert PROVIDERS["openai"].default_model == catalogue.default_model("openai")


def test_snapshots_resolve_to_their_family_and_retire_with_it():
    assert catalogue.lookup("gpt-realtime-2025-08-28") is catalogue.CATALOGUE["gpt-realtime"]
    assert catalogue.lookup("gpt-realtime-mini-2025-12-15").retiring
    notice = catalogue.retirement_notice("gpt-realtime-mini-2025-10-06")
    assert "2027-01-20" in notice and "gpt-realtime-2.1-mini" in notice
    assert catalogue.retirement_notice("gpt-realtime-2.1") is None
    assert catalogue.retirement_notice("my-local-model") is None


def test_filters_by_provider_and_capability_leave_retiring_models_out_by_default():
    reasoning = {m.model for m in catalogue.models("openai", "reasoning")}
    assert reasoning == {"gpt-realtime-2", "gpt-realtime-2.1", "gpt-realtime-2.1-mini"}
    assert {m.model for m in catalogue.models("stepfun", "thinking")} >= {"step-audio-r1.1"}
    assert "gpt-realtime" not in {m.model for m in catalogue.models("openai")}
    assert "gpt-realtime" in {m.model for m in catalogue.models("openai", retiring=True)}
    assert catalogue.lookup("step-audio-2").supports("web_search")
    with pytest.raises(ValueError, match="unknown capability 'telepathy'"):
        catalogue.lookup("step-audio-2").supports("telepathy")


def test_bad_lookups_are_clear_errors():
    with pytest.raises(KeyError, match="'gpt-5' is not in the catalogue; known models: gpt-4o-mini-transcribe, "):
        catalogue.lookup("gpt-5")
    with pytest.raises(TypeError, match="model must be"):
        catalogue.lookup(None)
    with pytest.raises(ValueError, match="no default model for provider 'acme'"):
        catalogue.default_model("acme")


def test_pricing_reads_the_catalogue():
    assert pricing.PRICES["gpt-realtime-2.1"] is catalogue.CATALOGUE["gpt-realtime-2.1"].price
    assert set(pricing.PRICES) == {m.model for m in catalogue.CATALOGUE.values() if m.price}
    with pytest.raises(KeyError, match=r"no price for model 'gpt-realtime-whisper' \(0.017 USD per minute"):
        pricing.price("gpt-realtime-whisper")


def test_image_tokens_are_priced_at_the_image_rate():
    usage = {"input_tokens": 1300, "output_tokens": 10,
             "input_token_details": {"text_tokens": 20, "audio_tokens": 0, "image_tokens": 1280,
                                     "cached_tokens": 256,
                                     "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0,
                                                               "image_tokens": 256}},
             "output_token_details": {"text_tokens": 10, "audio_tokens": 0}}
    cost = pricing.cost(usage, "gpt-realtime-2.1-mini")
    assert cost.breakdown["image in"] == pytest.approx(1024 * 0.80e-6)
    assert cost.breakdown["cached image in"] == pytest.approx(256 * 0.08e-6)
    assert cost.amount == pytest.approx((20 * 0.60 + 1024 * 0.80 + 256 * 0.08 + 10 * 2.40) / 1e6)
    with pytest.raises(KeyError, match="no image price for model 'gpt-realtime'"):
        pricing.cost(usage, "gpt-realtime")


def test_connect_warns_with_date_and_replacement_for_a_retiring_model():
    with serve_in_background(speed=0) as server:
        with pytest.warns(RetiringModelWarning, match=r"gpt-realtime shuts down on 2027-01-20.*move to gpt-realtime-2\.1"), \
                helpers.connect("replay", url=server.url, model="gpt-realtime", cassette="01_connect", log=False) as client:
            client.wait_for("session.created", timeout=5)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RetiringModelWarning)
            with helpers.connect("replay", url=server.url, model=catalogue.default_model("openai"),
                                 cassette="01_connect", log=False) as client:
                client.wait_for("session.created", timeout=5)
            assert client.model == "gpt-realtime-2.1"


def test_default_transcription_models_are_sourced_and_not_retiring():
    for provider, fact in catalogue.DEFAULT_TRANSCRIPTION_MODELS.items():
        assert fact.source and ISO_DATE.match(fact.date), provider
        assert catalogue.retirement_notice(catalogue.default_transcription_model(provider)) is None
    assert catalogue.lookup(catalogue.default_transcription_model("openai")).supports("transcription")
    assert catalogue.DEFAULT_TRANSCRIPTION_MODELS["stepfun"].source.startswith("unconfirmed")
    with pytest.raises(ValueError, match="no default transcription model for provider 'azure'"):
        catalogue.default_transcription_model("azure")


@pytest.mark.parametrize("dialect,model", [("beta", "step-1o-audio"), ("ga", "gpt-realtime-2.1")])
def test_a_session_update_naming_a_retiring_transcription_model_warns_and_the_default_does_not(dialect, model):
    with serve_in_background(speed=0) as server, \
            helpers.connect("replay", url=server.url, model=model, cassette="01_connect", log=False) as client:
        client.wait_for("session.created", timeout=5)
        with pytest.warns(RetiringModelWarning, match=r"^whisper-1 shuts down on 2027-02-26") as caught:
            client.send(ev.session_update(ev.session_config(dialect, transcription={"model": "whisper-1"})))
        assert caught[0].filename == __file__                  # points at the learner's send()
        assert client.wait_for("session.updated", timeout=5)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RetiringModelWarning)
            sent = client.send(ev.session_update(ev.session_config(dialect,
                                                                   transcription=ev.default_transcription(dialect))))
        assert ev.transcription_model(sent) == catalogue.default_transcription_model(
            "stepfun" if dialect == "beta" else "openai")
        updated = client.wait_for("session.updated", timeout=5)
        assert ev.transcription_model({**updated, "type": "session.update"}) == ev.transcription_model(sent)


def test_a_transcription_session_naming_a_retiring_model_warns():
    with serve_in_background(speed=0) as server, \
            helpers.connect("replay", url=server.url, model="gpt-realtime-whisper", cassette="17_transcription",
                            intent="transcription", log=False) as client:
        client.wait_for("session.created", timeout=5)
        with pytest.warns(RetiringModelWarning, match=r"^gpt-4o-transcribe shuts down on 2027-02-26"):
            client.send(ev.session_update({"type": "transcription", "audio": {"input": {
                "transcription": {"model": "gpt-4o-transcribe"}, "turn_detection": None}}}))
        assert client.wait_for("session.updated", timeout=5)["session"]["audio"]["input"]["transcription"][
            "model"] == "gpt-4o-transcribe"
