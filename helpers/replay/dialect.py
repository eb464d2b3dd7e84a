"""Convert recorded server events between the two wire dialects (beta <-> GA).

One cassette serves both dialects: it is recorded in one, and the replay server converts each
recorded response run to the dialect of the connection, once per cassette and dialect.

What changes between the dialects (see ``helpers.events`` and the protocol reference):

* event names (``response.audio.delta`` <-> ``response.output_audio.delta`` ...);
* the assistant item ack inside a response: beta ``conversation.item.created`` <-> GA
  ``conversation.item.added``, plus GA ``conversation.item.done`` sent just BEFORE
  ``response.output_item.done`` (beta has no such event, so it is dropped going to beta);
* assistant content part types inside items: ``text``/``audio`` <-> ``output_text``/``output_audio``
  (the ``part`` of ``response.content_part.*`` keeps ``text``/``audio`` in both);
* response objects: ``modalities``/``voice``/``output_audio_format`` <-> ``output_modalities``/``audio.output``;
* session objects: flat <-> nested (``type``, ``audio.input``/``audio.output``);
* GA ``response.function_call_arguments.done`` requires ``name`` (filled in from the item).
"""

from __future__ import annotations

from ..personas import check_dialect, convert_event, convert_item


def convert_run(events: list[dict], dialect: str) -> list[tuple[int, dict]]:
    """Convert one recorded response run to `dialect`: (index of the source event, converted event).

    Going to GA, each assistant item ack becomes ``conversation.item.added`` and a
    ``conversation.item.done`` is inserted just before its ``response.output_item.done`` (its
    index is that of the output_item.done). Going to beta, ``conversation.item.done`` is dropped.
    """
    check_dialect(dialect)
    names: dict[str, str] = {}
    acked = {e.get("item", {}).get("id") for e in events
             if e.get("type") in ("conversation.item.created", "conversation.item.added")
             and isinstance(e.get("item"), dict)}
    has_item_done = any(e.get("type") == "conversation.item.done" for e in events)
    out: list[tuple[int, dict]] = []
    for index, event in enumerate(events):
        kind = event.get("type")
        item = event["item"] if isinstance(event.get("item"), dict) else {}
        if kind == "response.output_item.added" and item.get("name"):
            names[str(item.get("id"))] = item["name"]
        if kind == "conversation.item.done" and dialect == "beta":
            continue
        converted = convert_event(event, dialect)
        if dialect == "ga" and converted["type"] == "response.function_call_arguments.done":
            converted.setdefault("name", names.get(str(event.get("item_id")), ""))
        if (dialect == "ga" and kind == "response.output_item.done" and not has_item_done
                and item.get("id") in acked):
            done = {"type": "conversation.item.done", "event_id": f"{event.get('event_id', 'event')}_d",
                    "previous_item_id": None, "item": convert_item(item, "ga")}
            out.append((index, done))
        out.append((index, converted))
    return out
