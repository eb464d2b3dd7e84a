"""Client events checked as the live services check them: all or nothing, with their codes.

For OpenAI (GA and the 2024 beta) the installed openai SDK's pydantic models are the schema
authority (they follow the live API with each release): an event is validated strictly against
the client-event union, pydantic's errors become OpenAI's codes (``missing_required_parameter``,
``invalid_type``, ``invalid_value``, ``integer_below_min_value`` ...), and fields the models do
not declare (their ``model_extra``, at any depth) become ``unknown_parameter`` with the dotted
``param``. StepFun is checked with the beta models plus the extensions it documents (see
`helpers.personas.RULES`); the ranges the models do not carry are checked here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Annotated, Any, Union, get_args

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from ..limits import MAX_DEPTH
from ..personas import Persona

_OBJECT_ARRAYS = ("content", "tools", "input", "output")  # deeper client JSON is refused before any model sees it


class ClientError(Exception):
    """A client mistake: becomes an `error` event; the session carries on."""

    def __init__(self, code: str | None, message: str, param: str | None = None):
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


@cache
def _adapter(dialect: str) -> TypeAdapter:
    if dialect == "ga":
        from openai.types.realtime import RealtimeClientEvent
    else:
        from openai.types.beta.realtime import RealtimeClientEvent
    members = get_args(get_args(RealtimeClientEvent)[0])
    union: Any = Union[members]  # noqa: UP007 (a runtime tuple of types has no `X | Y` spelling)
    return TypeAdapter(Annotated[union, Field(discriminator="type")])


def warm_up() -> None:
    """Build the schema validators now (about 2 s once per process) rather than on a first event."""
    for dialect in ("beta", "ga"):
        _adapter(dialect)


def _type_name(value: Any) -> str:
    return {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "an array",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def expect(value: Any, kind: type | tuple, param: str, wanted: str) -> Any:
    """`value` if it is of `kind`, else `invalid_type` naming `param` (bools are not integers)."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ClientError("invalid_type", f"Invalid type for '{param}': expected {wanted}, but got "
                          f"{_type_name(value)} instead.", param)
    return value


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise ClientError("invalid_event", f"Invalid event: nested more than {limit} levels deep.")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def validate_event(event: dict, persona: Persona) -> None:
    """Raise `ClientError` for the first thing the persona's service would refuse in `event`."""
    kind = event["type"]
    if kind == "conversation.item.create":
        item = expect(event["item"], dict, "item", "an object")
        if "type" not in item:
            raise ClientError("missing_required_parameter", "Missing required parameter: 'item.type'.", "item.type")
    body = _stepfun_view(event, persona) if persona.name == "stepfun" else event
    if persona.dialect == "beta":
        body = _without_session_model(body)
    try:
        model = _adapter(persona.dialect).validate_python(body, strict=True)
    except ValidationError as exc:
        raise _to_client_error(exc, body, kind) from None
    unknown = _first_extra(model, [])
    if unknown:
        param = _dotted(unknown)
        raise ClientError("unknown_parameter", f"Unknown parameter: '{param}'.", param)
    if kind == "response.create" and isinstance(event.get("response"), dict):
        _check_ranges(event["response"], persona, "response")
    if kind == "session.update":
        _check_ranges(event["session"], persona, "session")


# -- StepFun's documented extensions --------------------------------------------------------------

def _stepfun_view(event: dict, persona: Persona) -> dict:
    """The event with StepFun's documented extensions checked here and removed for the beta models."""
    if event.get("type") != "session.update" or not isinstance(event.get("session"), dict):
        return event
    session = dict(event["session"])
    tools = session.pop("tools", None)
    if tools is not None:
        _check_stepfun_tools(tools)
    session.pop("volume_ratio", None)
    vad = session.get("turn_detection")
    if isinstance(vad, dict) and "energy_awakeness_threshold" in vad:
        session["turn_detection"] = {k: v for k, v in vad.items() if k != "energy_awakeness_threshold"}
    return dict(event, session=session)


def _check_stepfun_tools(tools: Any) -> None:
    expect(tools, list, "session.tools", "an array")
    for i, tool in enumerate(tools):
        where = f"session.tools[{i}]"
        expect(tool, dict, where, "an object")
        kind = tool.get("type", "function")
        if kind not in ("function", "web_search", "retrieval"):
            raise ClientError("invalid_value", f"Invalid value: '{kind}'. Supported values are: 'function', "
                              "'web_search', and 'retrieval'.", f"{where}.type")
        spec = tool.get("function", tool)
        expect(spec, dict, f"{where}.function", "an object")
        if kind == "function":
            expect(spec.get("name"), str, f"{where}.name" if spec is tool else f"{where}.function.name", "a string")
        allowed = {"type", "function"} | ({"name", "description", "parameters"} if spec is tool else set())
        for key in tool:
            if key not in allowed:
                raise ClientError("unknown_parameter", f"Unknown parameter: '{where}.{key}'.", f"{where}.{key}")


def _without_session_model(event: dict) -> dict:
    """Beta models list only OpenAI model names; the model of a session cannot change anyway."""
    if event.get("type") == "session.update" and isinstance(event.get("session"), dict) and "model" in event["session"]:
        return dict(event, session={k: v for k, v in event["session"].items() if k != "model"})
    return event


# -- pydantic errors -> OpenAI's codes --------------------------------------------------------------

def _input_path(loc: tuple, body: Any) -> tuple[list, list]:
    """Split a pydantic `loc` into the path through the input and the union branches taken."""
    path: list[str | int] = []
    branches: list[tuple[int, str]] = []
    node = body
    for step in loc[1:]:  # loc[0] is the event type tag
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            path.append(step)
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int):
            path.append(step)
            node = node[step] if step < len(node) else None
        elif isinstance(step, str) and step[:1].isupper():
            branches.append((len(path), step))
        else:
            path.append(step)  # a missing field
            node = None
    return path, branches


def _best(errors: Sequence[Mapping[str, Any]], body: Any) -> Mapping[str, Any]:
    """The error of the union branch that fits best: fewest errors, fewest wrong `type` tags."""
    annotated = [(e, *_input_path(e["loc"], body)) for e in errors]
    while True:
        points = sorted({tuple(branches[0]) for _, _, branches in annotated if branches})
        if not points:
            return annotated[0][0]
        depth = points[0][0]
        groups: dict[str, list] = {}
        rest = []
        for error, path, branches in annotated:
            if branches and branches[0][0] == depth:
                groups.setdefault(branches[0][1], []).append((error, path, branches[1:]))
            else:
                rest.append((error, path, branches))

        def score(group: list) -> tuple[int, int]:
            tags = sum(1 for e, p, _ in group if e["type"] == "literal_error" and p and p[-1] == "type")
            return tags, len(group)

        annotated = min(groups.values(), key=score) + rest


def _dotted(path: list) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _to_client_error(exc: ValidationError, body: dict, kind: str) -> ClientError:
    error = _best(exc.errors(), body)
    path, _ = _input_path(error["loc"], body)
    param = _dotted(path)
    value = error.get("input")
    kind_of_error = error["type"]
    if kind_of_error == "missing":
        return ClientError("missing_required_parameter", f"Missing required parameter: '{param}'.", param)
    if kind_of_error in ("literal_error", "enum") and not isinstance(value, (str, int, float, type(None))):
        return ClientError("invalid_type", f"Invalid type for '{param}': expected a string, but got "
                           f"{_type_name(value)} instead.", param)
    if kind_of_error in ("literal_error", "enum"):
        values: list[str] = []
        for other in exc.errors():  # a field literal in several union branches: every branch's values
            if other["type"] == error["type"] and _input_path(other["loc"], body)[0] == path:
                found = re.findall(r"'([^']*)'|(-?\d+)", str((other.get("ctx") or {}).get("expected", "")))
                values += [a or b for a, b in found if (a or b) not in values]
        if isinstance(value, int) and not isinstance(value, bool) and len(values) == 1 and values[0].lstrip("-").isdigit():
            bound = int(values[0])
            side = "below minimum" if value < bound else "above maximum"
            code = "integer_below_min_value" if value < bound else "integer_above_max_value"
            sign = ">=" if value < bound else "<="
            return ClientError(code, f"Invalid '{param}': integer {side} value. Expected a value {sign} {bound}, "
                               f"but got {value} instead.", param)
        listing = ", ".join(f"'{v}'" for v in values[:-1]) + (f", and '{values[-1]}'" if len(values) > 1 else
                                                              f"'{values[-1]}'" if values else "")
        shown = value if isinstance(value, (str, int, float)) else _type_name(value)
        return ClientError("invalid_value", f"Invalid value: '{shown}'. Supported values are: {listing}.", param)
    if kind_of_error in ("float_type", "finite_number") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return ClientError("decimal_above_max_value", f"Invalid '{param}': number out of range "
                           "(it must be a finite number a 64-bit float can hold).", param)
    if kind_of_error == "list_type" and path and path[-1] in _OBJECT_ARRAYS:
        return ClientError("invalid_type", f"Invalid type for '{param}': expected an array of objects, but got "
                           f"{_type_name(value)} instead.", param)
    wanted = {"string_type": "a string", "int_type": "an integer", "float_type": "a number", "bool_type": "a boolean",
              "list_type": "an array", "dict_type": "an object", "model_type": "an object",
              "model_attributes_type": "an object", "union_tag_invalid": "an object with a supported 'type'",
              "union_tag_not_found": "an object with a 'type'"}.get(kind_of_error, "a valid value")
    return ClientError("invalid_type", f"Invalid type for '{param}': expected {wanted}, but got "
                       f"{_type_name(value)} instead.", param)


def _first_extra(value: Any, path: list) -> list | None:
    """The path of the first field no model declares (walking `model_extra` at every depth)."""
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            return path + [key]
        for name in type(value).model_fields:
            found = _first_extra(getattr(value, name), path + [name])
            if found:
                return found
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found = _first_extra(child, path + [i])
            if found:
                return found
    return None


# -- ranges the models do not carry ----------------------------------------------------------------

def _bound(value: Any, low: float | None, high: float | None, param: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    integer = isinstance(value, int)
    if isinstance(value, float) and not math.isfinite(value):
        raise ClientError("invalid_value", f"Invalid '{param}': expected a finite number.", param)
    kind = "integer" if integer else "decimal"
    if low is not None and value < low:
        raise ClientError(f"{kind}_below_min_value", f"Invalid '{param}': {kind} below minimum value. Expected a "
                          f"value >= {low}, but got {value} instead.", param)
    if high is not None and value > high:
        raise ClientError(f"{kind}_above_max_value", f"Invalid '{param}': {kind} above maximum value. Expected a "
                          f"value <= {high}, but got {value} instead.", param)


def _check_ranges(body: dict, persona: Persona, root: str) -> None:
    """Ranges and value lists of a session (or response) body the SDK models leave open."""
    ga = persona.dialect == "ga"
    audio = body["audio"] if ga and isinstance(body.get("audio"), dict) else {}
    side_in = audio["input"] if isinstance(audio.get("input"), dict) else {}
    side_out = audio["output"] if isinstance(audio.get("output"), dict) else {}
    prefix_in, prefix_out = (f"{root}.audio.input", f"{root}.audio.output") if ga else (root, root)
    vad = (side_in if ga else body).get("turn_detection")
    if isinstance(vad, dict):
        where = f"{prefix_in}.turn_detection"
        _bound(vad.get("threshold"), 0.0, 1.0, f"{where}.threshold")
        _bound(vad.get("prefix_padding_ms"), 0, None, f"{where}.prefix_padding_ms")
        _bound(vad.get("silence_duration_ms"), 0, None, f"{where}.silence_duration_ms")
        if persona.name == "stepfun" and "energy_awakeness_threshold" in vad:
            value = expect(vad["energy_awakeness_threshold"], (int, float), f"{where}.energy_awakeness_threshold",
                           "a number")
            _bound(value, 0, 5000, f"{where}.energy_awakeness_threshold")
    if "temperature" in body and persona.temperature_range:
        _bound(body["temperature"], *persona.temperature_range, f"{root}.temperature")
    _bound((side_out if ga else body).get("speed"), 0.25, 1.5, f"{prefix_out}.speed")
    tokens_key = "max_output_tokens" if ga else "max_response_output_tokens"
    _bound(body.get(tokens_key), 1, 4096, f"{root}.{tokens_key}")
    voice = (side_out if ga else body).get("voice")
    if isinstance(voice, str) and persona.voices is not None and voice not in persona.voices:
        listing = ", ".join(f"'{v}'" for v in persona.voices[:-1]) + f", and '{persona.voices[-1]}'"
        raise ClientError("invalid_value", f"Invalid value: '{voice}'. Supported values are: {listing}.",
                          f"{prefix_out}.voice")
    modalities = body.get("output_modalities") if ga else None
    if isinstance(modalities, list) and len(set(modalities)) > 1:
        # [UNCONFIRMED] code and wording; GA documents one output modality, audio or text.
        raise ClientError("invalid_value", f"Invalid '{root}.output_modalities': choose one of ['audio'] "
                          "(speech and its transcript) or ['text'].", f"{root}.output_modalities")
