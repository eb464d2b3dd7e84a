"""helpers.relay_core: conversations, upstream sessions and turns, without HTTP (a replay server upstream)."""

from __future__ import annotations

import pytest

from helpers.providers import get_provider
from helpers.relay_core import Relay, RelayError, TurnInput
from tests.relay_fixtures import FakeClock


@pytest.fixture
def make_relay(upstream, tmp_path):
    relays = []

    def make(**settings):
        options = {"model": None, "cassette": "11_relay_service", "restore_cassette": "11_relay_service_restore",
                   "idle_timeout_s": 60, "max_conversations": 2, "max_upload_bytes": 1000, "output_dir": tmp_path,
                   "url": upstream.url, "api_key": None, "connect_options": {"log": False}, "clock": FakeClock(), **settings}
        relay = Relay(get_provider("replay"), **options)
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.close()


def test_checkout_refuses_unknown_and_busy_conversations(make_relay):
    relay = make_relay()
    first = relay.checkout(None)
    assert first.busy and first.turns == 1
    with pytest.raises(RelayError) as busy:
        relay.checkout(first.id)
    assert (busy.value.status, busy.value.code) == (409, "conversation_busy")
    with pytest.raises(RelayError) as unknown:
        relay.checkout("0" * 32)
    assert (unknown.value.status, unknown.value.code) == (404, "conversation_not_found")
    relay.release(first)
    assert relay.checkout(first.id) is first and first.turns == 2


def test_at_the_cap_the_least_recently_used_idle_conversation_is_forgotten(make_relay):
    clock = FakeClock()
    relay = make_relay(clock=clock)
    old, new = relay.checkout(None), relay.checkout(None)
    with pytest.raises(RelayError) as full:
        relay.checkout(None)
    assert (full.value.status, full.value.code) == (503, "at_capacity")
    relay.release(old)
    clock.now += 1
    relay.release(new)
    third = relay.checkout(None)
    with pytest.raises(RelayError):
        relay.checkout(old.id)  # forgotten
    assert relay.checkout(new.id) is new and third.busy


def test_a_text_turn_then_idle_expiry_restores_the_history_as_items(make_relay):
    clock = FakeClock()
    relay = make_relay(clock=clock)
    conversation = relay.checkout(None)
    assert relay.open_upstream(conversation)["upstream"] == "new"
    steps = list(relay.run_turn(conversation, TurnInput(None, text="Hi! Can you tell me a fun fact about octopuses?")))
    name, done = steps[-1]
    assert name == "done" and done["status"] == "completed" and done["transcript"]
    assert relay.audio_path(done["audio_url"].rsplit("/", 1)[1]) == relay.output_dir / done["audio_url"].rsplit("/", 1)[1]
    relay.release(conversation)
    clock.now += 61
    relay.expire_idle()
    assert conversation.client is None and len(conversation.restore) == 2
    relay.checkout(conversation.id)
    assert relay.open_upstream(conversation) == {"turn": 2, "upstream": "restored", "restored_items": 2}


def test_audio_paths_only_for_kept_conversations(make_relay):
    relay = make_relay()
    assert relay.audio_path("../../etc/passwd") is None
    assert relay.audio_path(f"{'a' * 32}-1.wav") is None
    assert "<Relay replay 0 conversations" in repr(relay)
