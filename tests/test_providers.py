"""Providers: presets resolved once, the dialect per model, and where the key comes from."""

from __future__ import annotations

import pytest

from helpers.providers import PROVIDERS, Provider, default_cassettes, default_log_dir, get_api_key, get_provider


def test_get_provider_resolves_names_and_passes_objects_through(monkeypatch):
    monkeypatch.delenv("REALTIME_PROVIDER", raising=False)
    assert get_provider() is PROVIDERS["replay"]
    assert get_provider("OpenAI") is PROVIDERS["openai"]
    custom = Provider("local", "ws://127.0.0.1:1/v1/realtime", "gpt-realtime", "ga")
    assert get_provider(custom) is custom
    monkeypatch.setenv("REALTIME_PROVIDER", "stepfun")
    assert get_provider().name == "stepfun"
    with pytest.raises(ValueError, match="unknown provider 'azure'; choose one of replay, stepfun, openai"):
        get_provider("azure")


def test_the_replay_provider_speaks_the_models_dialect():
    replay = PROVIDERS["replay"]
    assert replay.dialect_for("step-1o-audio") == "beta"
    assert replay.dialect_for("stepaudio-2") == "beta"
    assert replay.dialect_for("gpt-realtime") == "ga"
    assert replay.dialect_for("my-local-model") == "ga"
    assert PROVIDERS["stepfun"].dialect_for("anything") == "beta"


def test_keys_come_from_the_environment_in_order_and_never_for_replay(monkeypatch):
    monkeypatch.delenv("STEPFUN_API_KEY", raising=False)
    monkeypatch.setenv("STEP_API_KEY", "sk-second")
    assert get_api_key(PROVIDERS["stepfun"]) == "sk-second"
    monkeypatch.setenv("STEPFUN_API_KEY", "sk-first")
    assert get_api_key(PROVIDERS["stepfun"]) == "sk-first"
    assert get_api_key(PROVIDERS["replay"]) is None


def test_a_missing_key_is_a_clear_error_without_prompting_in_ci(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("CI", "1")
    with pytest.raises(RuntimeError, match="no API key for openai: set the environment variable OPENAI_API_KEY"):
        get_api_key(PROVIDERS["openai"])


def test_folders_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REALTIME_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("REALTIME_CASSETTES", str(tmp_path / "tapes"))
    assert default_log_dir() == tmp_path / "logs"
    assert default_cassettes() == tmp_path / "tapes"
