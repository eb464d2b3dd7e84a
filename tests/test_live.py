"""helpers.live: one import for the lessons, re-exporting the very objects of the modules it fronts."""

from __future__ import annotations

import pytest

from helpers import live, live_session, live_sources, live_ui

SOURCES = {"LiveTurn": live_session, "VoiceSession": live_session,
           "FileSource": live_sources, "MicrophoneSource": live_sources, "microphone_problem": live_sources,
           "VoicePanel": live_ui, "record_in_browser": live_ui}


def test_all_names_exactly_the_fronted_objects():
    assert sorted(live.__all__) == sorted(SOURCES)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_name_is_the_very_object_of_its_module(name):
    obj = getattr(live, name)
    assert obj is getattr(SOURCES[name], name)
    assert obj.__module__ == SOURCES[name].__name__      # defined there, not a copy or a wrapper
