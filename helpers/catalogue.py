"""The one list of Realtime models: who serves them, what they can do, what they cost, whether they last.

Every fact carries its source and a date (when it was published or read), so a learner can check
it: prices and shutdown dates change. A fact without a primary source says so ("unconfirmed").
`pricing` reads prices from here, `providers` its defaults, and `connect()` calls
`warn_if_retiring` so that picking a model with an announced shutdown is never silent.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

__all__ = ["CATALOGUE", "DEFAULT_MODELS", "DEFAULT_TRANSCRIPTION_MODELS", "Model", "Price", "RetiringModelWarning",
           "Sourced", "default_model", "default_transcription_model", "lookup", "models", "retirement_notice",
           "warn_if_retiring"]

# Where the facts come from (the keys of /work/shared/reference/realtime-2026-additions.md §0).
_SDK = "openai-python 3.57.0, openai/types/realtime/"
_SDK_SHUTDOWN = _SDK + "realtime_session_create_request.py (model docstring)"
_SDK_TRANSCRIPTION_SHUTDOWN = _SDK + "audio_transcription.py (model docstring)"
_OPENAI_MODELS = "https://developers.openai.com/api/docs/models/"
_RETELL = "https://docs.retellai.com/deprecation-notice/2027/01-19_model_replacements"
_SF_PRICES = ("https://platform.stepfun.com/docs/zh/guides/pricing/details "
              "(verbatim copy in api-evangelist/stepfun plans/stepfun-plans-pricing.yml, 3rd-party)")
_SF_API = "https://platform.stepfun.com/docs/zh/api-reference/realtime/chat.md"
_SF_MODELS = "https://platform.stepfun.com/docs/zh/guides/models/realtime.md"
_SF_COOKBOOK = "https://github.com/stepfun-ai/Step-Cookbook/tree/main/examples/stepaudio-3-realtime"
_SF_CONSOLE = "https://github.com/stepfun-ai/Step-Realtime-Console/blob/main/src/lib/index.ts"
_CHECKED = "2026-11-22"   # when the pages above were read for this catalogue
_STEP_PRICES_READ = "2026-10-07"   # date of the StepFun pricing transcription

UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True)
class Sourced:
    """One fact, where it was read, and the date of that source (or of the reading)."""

    value: object
    source: str
    date: str


@dataclass(frozen=True)
class Price:
    """What one model costs per million tokens, and where that figure comes from."""

    model: str
    currency: str
    text_in: float
    cached_text_in: float
    text_out: float
    audio_in: float
    cached_audio_in: float
    audio_out: float
    source: str
    checked: str
    note: str = ""
    image_in: float | None = None          # None: the model takes no images, or the price is unconfirmed
    cached_image_in: float | None = None


@dataclass(frozen=True)
class Model:
    """A Realtime model as the catalogue knows it; each fact is `Sourced`."""

    provider: str                 # "openai" or "stepfun"
    model: str
    capabilities: Sourced         # frozenset of names, see CAPABILITIES
    status: Sourced               # "current", "preview", "retiring" or "unlisted"
    price: Price | None = None    # per-token price (None: per-minute or unconfirmed, see `price_note`)
    price_note: Sourced | None = None
    shutdown: Sourced | None = None       # ISO date of the announced shutdown
    replacement: Sourced | None = None    # the model to move to
    context_window: Sourced | None = None

    @property
    def retiring(self) -> bool:
        """True when a shutdown date has been announced."""
        return self.shutdown is not None

    def supports(self, capability: str) -> bool:
        """Whether the model has `capability` (one of CAPABILITIES)."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}; known: {', '.join(sorted(CAPABILITIES))}")
        return capability in self.capabilities.value  # type: ignore[operator]


CAPABILITIES = frozenset({
    "speech",            # speech in, speech out in one session
    "reasoning",         # OpenAI `reasoning.effort` (and preambles)
    "thinking",          # StepFun `response.thinking.*` and a `thinking` content part
    "image_input",       # `input_image` content parts
    "parallel_tool_calls",
    "function_tools",
    "mcp_tools",         # OpenAI remote MCP servers as tools
    "web_search",        # StepFun built-in tool
    "retrieval",         # StepFun built-in tool (vector store)
    "transcription",     # transcription-only sessions (no responses)
    "translation",       # /v1/realtime/translations
})


def _caps(*names: str, source: str, date: str = _CHECKED) -> Sourced:
    unknown = set(names) - CAPABILITIES
    assert not unknown, unknown
    return Sourced(frozenset(names), source, date)


def _openai_price(model: str, text: tuple[float, float, float], audio: tuple[float, float, float],
                  image: tuple[float, float] | tuple[None, None], source: str, note: str = "") -> Price:
    return Price(model, "USD", *text, *audio, source=source, checked=_CHECKED, note=note,
                 image_in=image[0], cached_image_in=image[1])


def _stepfun_price(model: str, miss: float, hit: float, out: float, note: str = "") -> Price:
    return Price(model, "CNY", miss, hit, out, miss, hit, out, source=_SF_PRICES, checked=_STEP_PRICES_READ,
                 note=note or "StepFun quotes one price per direction (cache miss, cache hit, output per 1M "
                              "tokens), whatever the modality. Read from a verbatim transcription of that page.")


_SHUTDOWN_2027 = Sourced("2027-01-20", _SDK_SHUTDOWN, _CHECKED)
_GA_SPEECH = ("speech", "function_tools", "mcp_tools")
_REASONING = (*_GA_SPEECH, "reasoning", "parallel_tool_calls", "image_input")

_ENTRIES = (
    # OpenAI: current
    Model("openai", "gpt-realtime-2.1",
          _caps(*_REASONING, source=_OPENAI_MODELS + "gpt-realtime-2.1"),
          Sourced("current", _OPENAI_MODELS + "gpt-realtime-2.1", _CHECKED),
          _openai_price("gpt-realtime-2.1", (4.00, 0.40, 24.00), (32.00, 0.40, 64.00), (5.00, 0.50),
                        _OPENAI_MODELS + "gpt-realtime-2.1"),
          context_window=Sourced(128_000, _OPENAI_MODELS + "gpt-realtime-2.1", _CHECKED)),
    Model("openai", "gpt-realtime-2.1-mini",
          _caps(*_REASONING, source=_OPENAI_MODELS + "gpt-realtime-2.1-mini"),
          Sourced("current", _OPENAI_MODELS + "gpt-realtime-2.1-mini", _CHECKED),
          _openai_price("gpt-realtime-2.1-mini", (0.60, 0.06, 2.40), (10.00, 0.30, 20.00), (0.80, 0.08),
                        _OPENAI_MODELS + "gpt-realtime-2.1-mini"),
          context_window=Sourced(128_000, _OPENAI_MODELS + "gpt-realtime-2.1-mini", _CHECKED)),
    Model("openai", "gpt-realtime-2",
          _caps(*_REASONING, source=_OPENAI_MODELS + "gpt-realtime-2"),
          Sourced("current", _OPENAI_MODELS + "gpt-realtime-2", "2026-05-07"),
          _openai_price("gpt-realtime-2", (4.00, 0.40, 24.00), (32.00, 0.40, 64.00), (5.00, 0.50),
                        _OPENAI_MODELS + "gpt-realtime-2"),
          context_window=Sourced(128_000, _OPENAI_MODELS + "gpt-realtime-2", _CHECKED)),
    Model("openai", "gpt-realtime-1.5",
          _caps(*_GA_SPEECH, "image_input", source=_OPENAI_MODELS + "gpt-realtime-1.5"),
          Sourced("current", _OPENAI_MODELS + "gpt-realtime-1.5", "2026-02-23"),
          _openai_price("gpt-realtime-1.5", (4.00, 0.40, 16.00), (32.00, 0.40, 64.00), (5.00, 0.50),
                        _OPENAI_MODELS + "gpt-realtime-1.5"),
          context_window=Sourced(32_000, _OPENAI_MODELS + "gpt-realtime-1.5", _CHECKED)),
    Model("openai", "gpt-realtime-whisper",
          _caps("transcription", source=_OPENAI_MODELS + "gpt-realtime-whisper"),
          Sourced("current", _OPENAI_MODELS + "gpt-realtime-whisper", "2026-05-07"),
          price_note=Sourced("0.017 USD per minute of audio", _OPENAI_MODELS + "gpt-realtime-whisper", _CHECKED)),
    Model("openai", "gpt-live-transcribe",
          _caps("transcription", source=_OPENAI_MODELS + "gpt-live-transcribe"),
          Sourced("current", _OPENAI_MODELS + "gpt-live-transcribe", _CHECKED),
          price_note=Sourced("0.017 USD per minute of audio", _OPENAI_MODELS + "gpt-live-transcribe", _CHECKED)),
    Model("openai", "gpt-realtime-translate",
          _caps("translation", source=_OPENAI_MODELS + "gpt-realtime-translate"),
          Sourced("current", _OPENAI_MODELS + "gpt-realtime-translate", "2026-05-07"),
          price_note=Sourced("0.034 USD per minute of audio", _OPENAI_MODELS + "gpt-realtime-translate", _CHECKED)),
    # OpenAI: announced shutdown
    Model("openai", "gpt-realtime",
          _caps(*_GA_SPEECH, source=_OPENAI_MODELS + "compare?model=gpt-realtime"),
          Sourced("retiring", _SDK_SHUTDOWN, _CHECKED),
          _openai_price("gpt-realtime", (4.00, 0.40, 16.00), (32.00, 0.40, 64.00), (None, None),
                        _OPENAI_MODELS + "compare?model=gpt-realtime",
                        note="Text figures read on the gpt-realtime entry of OpenAI's model comparison page. "
                             "The audio figures are the gpt-realtime-1.5 and gpt-realtime-2 ones (same tier); "
                             "the gpt-realtime page itself was not seen with audio or image prices (unconfirmed)."),
          shutdown=_SHUTDOWN_2027,
          replacement=Sourced("gpt-realtime-2.1", _RETELL, "2027-01-19"),
          context_window=Sourced(32_000, _OPENAI_MODELS + "compare?model=gpt-realtime", _CHECKED)),
    Model("openai", "gpt-realtime-mini",
          _caps(*_GA_SPEECH, source="extentos/swift-glasses 1.9.0 release notes (3rd-party): no reasoning.effort"),
          Sourced("retiring", _SDK_SHUTDOWN, _CHECKED),
          _openai_price("gpt-realtime-mini", (0.60, 0.06, 2.40), (10.00, 0.30, 20.00), (None, None),
                        _OPENAI_MODELS + "gpt-realtime-2.1-mini",
                        note="Text input $0.60 is shown for GPT-Realtime Mini in that page's comparison box. The "
                             "other figures are the gpt-realtime-2.1-mini ones (the current mini tier): unconfirmed "
                             "for gpt-realtime-mini itself."),
          shutdown=_SHUTDOWN_2027,
          replacement=Sourced("gpt-realtime-2.1-mini", _RETELL, "2027-01-19")),
    # OpenAI input-transcription models (the `transcription.model` of a session): announced shutdown
    *(Model("openai", name,
            _caps("transcription", source=_SDK + "audio_transcription.py"),
            Sourced("retiring", _SDK_TRANSCRIPTION_SHUTDOWN, _CHECKED),
            price_note=Sourced(UNCONFIRMED, _SDK + "audio_transcription.py", _CHECKED),
            shutdown=Sourced("2027-02-26", _SDK_TRANSCRIPTION_SHUTDOWN, _CHECKED))
      for name in ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize")),
    # StepFun (no shutdown announced for any of them)
    Model("stepfun", "step-1o-audio",
          _caps("speech", "function_tools", source=_SF_API),
          Sourced("current", _SF_API, _CHECKED),
          _stepfun_price("step-1o-audio", 25.0, 5.0, 60.0)),
    Model("stepfun", "step-audio-2",
          _caps("speech", "function_tools", "web_search", "retrieval", source=_SF_MODELS),
          Sourced("current", _SF_API, _CHECKED),
          _stepfun_price("step-audio-2", 10.0, 2.0, 70.0)),
    Model("stepfun", "step-audio-2-mini",
          _caps("speech", "function_tools", source=_SF_API),
          Sourced("current", _SF_API, _CHECKED),
          price_note=Sourced(UNCONFIRMED + " (not on the pricing page)", _SF_PRICES, _STEP_PRICES_READ)),
    Model("stepfun", "stepaudio-2.5-realtime",
          _caps("speech", "function_tools", "web_search", "retrieval", source=_SF_API),
          Sourced("current", _SF_API, _CHECKED),
          _stepfun_price("stepaudio-2.5-realtime", 10.0, 2.0, 70.0)),
    Model("stepfun", "step-audio-r1.1",
          _caps("speech", "thinking", "function_tools", "web_search", "retrieval", source=_SF_API),
          Sourced("current", _SF_API, _CHECKED),
          price_note=Sourced(UNCONFIRMED + " (not on the pricing page)", _SF_PRICES, _STEP_PRICES_READ)),
    Model("stepfun", "stepaudio-3-realtime-preview",
          _caps("speech", "function_tools", source=_SF_COOKBOOK),
          Sourced("preview", _SF_COOKBOOK, _CHECKED),
          price_note=Sourced("free for a limited time (限时免费)", _SF_PRICES, _STEP_PRICES_READ)),
    Model("stepfun", "step-audio-2-think",
          _caps("speech", "thinking", source=_SF_CONSOLE),
          Sourced("unlisted", _SF_CONSOLE, "2025-10-30"),
          price_note=Sourced(UNCONFIRMED, _SF_PRICES, _STEP_PRICES_READ)),
)

CATALOGUE: dict[str, Model] = {entry.model: entry for entry in _ENTRIES}

# Dated snapshots that are their family's model (SDK model enum). gpt-realtime-2025-08-28 is gpt-realtime.
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")

DEFAULT_MODELS = {"openai": "gpt-realtime-2.1", "stepfun": "step-1o-audio"}

# The input-transcription model (`transcription.model` of a session) asked for when none is named.
DEFAULT_TRANSCRIPTION_MODELS = {
    "openai": Sourced("gpt-live-transcribe",
                      "https://developers.openai.com/api/docs/guides/realtime-transcription (the 2026 guide starts "
                      "with it; gpt-realtime-whisper refuses server VAD and serves transcription sessions only, "
                      "MP:gpt-realtime-whisper)", _CHECKED),
    "stepfun": Sourced("step-asr",
                       UNCONFIRMED + ": StepFun documents no transcription model name for realtime sessions; "
                       "step-asr is the name of its speech-recognition model (3rd-party: yuxuetr/agentflow "
                       "agentflow-llm/examples/README.md). The replay's StepFun persona accepts any name "
                       "(personas.STEPFUN_UNCONFIRMED)", _CHECKED),
}


class RetiringModelWarning(UserWarning):
    """The chosen model has an announced shutdown date."""


def lookup(model: str) -> Model:
    """The catalogue entry for `model`; a dated snapshot (``gpt-realtime-2025-08-28``) uses its family's."""
    if not isinstance(model, str):
        raise TypeError(f"model must be a model name (str), not {type(model).__name__}")
    entry = CATALOGUE.get(model) or CATALOGUE.get(_SNAPSHOT.sub("", model))
    if entry is None:
        raise KeyError(f"model {model!r} is not in the catalogue; known models: {', '.join(sorted(CATALOGUE))}")
    return entry


def models(provider: str | None = None, capability: str | None = None, *, retiring: bool = False) -> list[Model]:
    """Catalogue entries, optionally only `provider`'s, only those with `capability`; retiring ones only on request."""
    return [m for m in _ENTRIES if (provider is None or m.provider == provider)
            and (capability is None or m.supports(capability)) and (retiring or not m.retiring)]


def default_model(provider: str) -> str:
    """The model the helpers use for `provider` when none is named (never one with a shutdown date)."""
    if provider not in DEFAULT_MODELS:
        raise ValueError(f"no default model for provider {provider!r}; known: {', '.join(DEFAULT_MODELS)}")
    return DEFAULT_MODELS[provider]


def default_transcription_model(provider: str) -> str:
    """The input-transcription model the helpers use for `provider` (never one with a shutdown date)."""
    if provider not in DEFAULT_TRANSCRIPTION_MODELS:
        raise ValueError(f"no default transcription model for provider {provider!r}; "
                         f"known: {', '.join(DEFAULT_TRANSCRIPTION_MODELS)}")
    return str(DEFAULT_TRANSCRIPTION_MODELS[provider].value)


def retirement_notice(model: str) -> str | None:
    """A sentence naming the shutdown date and the replacement of `model`, or None if it is not retiring."""
    try:
        entry = lookup(model)
    except KeyError:
        return None
    if not entry.retiring:
        return None
    where = f"{model} shuts down on {entry.shutdown.value} (source: {entry.shutdown.source}); "  # type: ignore[union-attr]
    if entry.replacement:
        return where + f"move to {entry.replacement.value}."
    capabilities: frozenset[str] = entry.capabilities.value  # type: ignore[assignment]
    current = [m.model for m in models(entry.provider, min(capabilities))]
    return where + f"the source names no replacement; current models: {', '.join(current)}."


def warn_if_retiring(model: str, stacklevel: int = 3) -> None:
    """Emit a `RetiringModelWarning` when `model` (a realtime or a transcription model) has an announced shutdown."""
    notice = retirement_notice(model)
    if notice:
        warnings.warn(notice, RetiringModelWarning, stacklevel=stacklevel)
