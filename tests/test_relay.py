"""helpers.relay: the relay's one import, re-exporting the very objects of relay_core and relay_http."""

from __future__ import annotations

import pytest

from helpers import relay, relay_core, relay_http

SOURCES = {"APPEND_CHUNK_MS": relay_core, "INSTRUCTIONS": relay_core, "Relay": relay_core, "RelayError": relay_core,
           "RelayServer": relay_http, "create_app": relay_http, "parse_sse": relay_http,
           "serve_in_background": relay_http}


def test_all_names_exactly_the_fronted_objects():
    assert sorted(relay.__all__) == sorted(SOURCES)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_name_is_the_very_object_of_its_module(name):
    obj = getattr(relay, name)
    assert obj is getattr(SOURCES[name], name)
    if callable(obj):
        assert obj.__module__ == SOURCES[name].__name__  # defined there, not a copy or a wrapper
