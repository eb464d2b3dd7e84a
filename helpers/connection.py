"""`connect()`: one call from a provider name to an open `RealtimeClient`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .client import RealtimeClient
from .events import check_dialect
from .replay.engine import QUERY_OPTIONS as REPLAY_OPTIONS
from .providers import default_cassettes, default_log_dir, get_api_key, get_provider


def connect(provider: str | None = None, model: str | None = None, cassette: str | None = None, *,
            dialect: str | None = None, api_key: str | None = None, url: str | None = None,
            record: bool | str | Path | None = None, log: bool = True, timeout: float = 10.0,
            **options: Any) -> RealtimeClient:
    """Open a Realtime session and return its client (use it in a ``with`` block).

    Raises at once when the service refuses: `RealtimeConnectionClosed` for an unreachable
    server or a rejected handshake, `RealtimeServerError` for a bad key or model.

    provider: "replay" (default; $REALTIME_PROVIDER overrides), "stepfun" or "openai".
    cassette: the recorded session the replay server serves (ignored when live).
    dialect:  "beta" or "ga"; by default the provider's (replay: from the model, or $REALTIME_DIALECT).
    record:   a cassette path (or True: media/cassettes/<cassette>.jsonl) to record this session to.
    options:  replay-server options sent as query parameters (speed, strict, close_after, …).
    """
    preset = get_provider(provider)
    unknown = sorted(set(options) - set(REPLAY_OPTIONS))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown}; replay options are {sorted(REPLAY_OPTIONS)}")
    model = model or os.environ.get("REALTIME_MODEL") or preset.default_model
    if preset.name == "replay":
        explicit = dialect or os.environ.get("REALTIME_DIALECT") or None  # the persona follows the model
        dialect = explicit or preset.dialect_for(model)
        base = url or os.environ.get("REALTIME_REPLAY_URL") or _shared_replay_url()
        query = {"model": model, **({"dialect": explicit} if explicit else {}),
                 **({"cassette": cassette} if cassette else {}),
                 **{k: _query_value(v) for k, v in options.items()}}
        target = f"{base.rstrip('/')}/v1/realtime?{urlencode(query)}"
    else:
        if options:
            raise TypeError(f"options {sorted(options)} only apply to the replay provider")
        dialect = dialect or preset.dialect
        if preset.name == "openai" and dialect == "beta":
            raise ValueError("OpenAI has switched the beta dialect off: use dialect='ga' (the default)")
        target = f"{url or preset.url}?{urlencode({'model': model})}"
    check_dialect(dialect)
    key = api_key or get_api_key(preset)
    if record is True:
        if not cassette:
            raise ValueError("record=True needs a cassette name; or pass record='path/to/file.jsonl'")
        record = default_cassettes() / f"{cassette}.jsonl"
    client = RealtimeClient(
        target, headers=[f"Authorization: Bearer {key}"] if key else [], provider=preset.name, model=model,
        dialect=dialect, timeout=timeout, log_dir=default_log_dir() if log else None,
        record=record or None, secrets=(key,) if key else ())
    client.check_admitted(min(timeout, 3.0))
    return client


def _query_value(value: Any) -> str:
    return ("1" if value else "0") if isinstance(value, bool) else str(value)


def _shared_replay_url() -> str:
    from .replay import shared_server
    return shared_server().url
