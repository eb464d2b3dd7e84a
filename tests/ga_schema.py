"""GA server events checked against the installed openai SDK's models (the schema authority)."""

from __future__ import annotations

import itertools
from typing import Annotated, Union, get_args

from openai.types.realtime import RealtimeServerEvent
from pydantic import BaseModel, Field, TypeAdapter

_MEMBERS = get_args(get_args(RealtimeServerEvent)[0])
# A runtime tuple of types: `X | Y` cannot be spelled here, so Union it is.
GA = TypeAdapter(Annotated[Union[_MEMBERS], Field(discriminator="type")])  # noqa: UP007
_counter = itertools.count()


def validated(events: list[dict]) -> list[str]:
    """Validate each event with the SDK's GA server-event models (no unknown top-level keys); their types."""
    for event in events:
        model = GA.validate_python({"event_id": f"event_{next(_counter)}", **event})
        assert isinstance(model, BaseModel)
        unknown = set(event) - set(type(model).model_fields)
        assert not unknown, (event["type"], unknown)
    return [e["type"] for e in events]
