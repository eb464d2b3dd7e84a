"""The turn scripts of the 2026 lessons (15-19): reasoning, images, transcription, long conversations, tools.

Same script language as tools/scenarios.py, plus the steps below for what is new in 2026.
tools/synthesize_cassettes.py builds these too (through tools/synthesize_2026.py); every
cassette is SYNTHESIZED: espeak-ng speech, modelled tokens and timings. OpenAI scenarios are
written out in the GA dialect (provider openai), StepFun ones in StepFun's beta dialect.

Scripts are written in the flat (beta) session terms of tools/scenarios.py; an OpenAI cassette
is converted to GA when it is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scenarios import BASE, INSTRUCTIONS, Respond, Say, Scenario, Update

__all__ = ["SCENARIOS_2026"]


# -- the steps new in 2026 -------------------------------------------------------------------

@dataclass(frozen=True)
class Reason(Respond):
    """A response from a reasoning model: an optional spoken `preamble` (a second assistant item,
    output 0, before the answer at output 1) on OpenAI, or streamed `thinking` (a `thinking`
    content part before the audio part) on StepFun. `effort` is OpenAI's `reasoning.effort` sent
    in `response.create`; the time to the first audio grows with it (modelled, not measured)."""

    preamble: str = ""
    thinking: str = ""
    effort: str | None = None


@dataclass(frozen=True)
class SayWithImage:
    """The user sends `text` and the image `image` (a PNG in media/) as one message."""

    text: str
    image: str
    detail: str = "auto"


@dataclass(frozen=True)
class OutOfBand(Respond):
    """`response.create` with `conversation: "none"`, `metadata`, and as `input` references to the
    last `reference_last` conversation items: a side answer that is not added to the conversation."""

    metadata: dict = field(default_factory=dict)
    reference_last: int = 0


@dataclass(frozen=True)
class Condense:
    """The client replaces the oldest `delete_first` items by one `summary` item (assistant text)."""

    summary: str
    delete_first: int


@dataclass(frozen=True)
class McpCall(Respond):
    """The model calls `name` on MCP server `server_label` with `arguments`. The replay server calls
    the real MCP server; the cassette holds only what the model did (the call, then `say`)."""

    server_label: str = ""
    name: str = ""
    arguments: dict = field(default_factory=dict)
    needs_approval: bool = False     # the session's require_approval rule holds this call for approval


@dataclass(frozen=True)
class Approve:
    """The client answers the pending MCP approval request (`mcp_approval_response`)."""

    approve: bool = True


@dataclass(frozen=True)
class Caption:
    """Transcription session: append `wav` (media/) in `chunk_ms` chunks, then commit it."""

    wav: str
    chunk_ms: int = 100
    send_every_ms: int = 100         # 100: real time; 10: a file sent ten times faster than it plays


@dataclass(frozen=True)
class Scenario2026(Scenario):
    """A 2026 scenario: which service it imitates (`provider`, `model`) and its session kind."""

    provider: str = "openai"
    model: str = "gpt-realtime-2.1"
    kind: str = "realtime"           # or "transcription" (intent=transcription)


# -- shared settings ---------------------------------------------------------------------------

OPENAI_BASE = {"instructions": INSTRUCTIONS, "voice": "marin", "turn_detection": None}
STEPFUN_MANUAL = {**BASE, "turn_detection": None}
WEB_SEARCH = {"type": "web_search",
              "function": {"description": "Search the web for current information.",
                           "options": {"top_k": 5, "timeout_seconds": 3}}}
RETRIEVAL = {"type": "retrieval",
             "function": {"description": "Answer from the course handbook.",
                          "options": {"vector_store_id": "vs_course_handbook",
                                      "prompt_template": "Use the knowledge below to answer.\n{{knowledge}}\n"
                                                         "Question: {{query}}"}}}
SHOP_TOOL = {"type": "mcp", "server_label": "shop", "server_url": "http://127.0.0.1:8765/mcp",
             "require_approval": {"never": {"read_only": True}}}
WHY_SKY = "Why is the sky blue? Answer in two sentences."
SKY_ANSWER = ("Sunlight is made of many colours, and air molecules scatter blue light much more than red. "
              "So when you look at the sky, blue light reaches your eyes from every direction.")
EFFORTS = ("minimal", "low", "medium", "high")
TOKEN_LIMIT = 64     # tiny on purpose: lesson 18 shows truncation happen within a few turns
TRIP = [
    ("user", "I'm planning a weekend in Hangzhou with my parents."),
    ("assistant", "Lovely! Start at West Lake: walk the Su Causeway early, before the crowds."),
    ("user", "My father likes tea. Where should we go?"),
    ("assistant", "Visit the Longjing tea village; you can try fresh green tea at a farm."),
    ("user", "And what should we eat on Saturday evening?"),
    ("assistant", "Try West Lake fish in vinegar sauce and Dongpo pork at a lakeside restaurant."),
]
TRIP_SUMMARY = ("Summary so far: a weekend in Hangzhou with parents; West Lake early morning, the Longjing "
                "tea village for the father, dinner of West Lake fish and Dongpo pork on Saturday.")


SCENARIOS_2026 = (
    Scenario2026("15_reasoning", "15",
                 "gpt-realtime-2.1: one question asked at reasoning.effort low, then at minimal, low, medium "
                 "and high; each answer opens with a spoken preamble (a second assistant item).", (
                     Update({**OPENAI_BASE, "reasoning": {"effort": "low"}}),
                     *(step for effort in ("low", *EFFORTS) for step in (
                         Say(WHY_SKY),
                         Reason(SKY_ANSWER, preamble="Good question, let me think.", effort=effort))),
                 )),
    Scenario2026("15_reasoning_stepfun", "15",
                 "step-audio-r1.1: the same question; the model streams its thinking before it speaks.", (
                     Update(STEPFUN_MANUAL),
                     Say(WHY_SKY),
                     Reason(SKY_ANSWER, thinking="The user asks about the colour of the sky. Rayleigh "
                                                 "scattering: shorter wavelengths scatter more. Keep it to "
                                                 "two simple sentences."),
                 ), provider="stepfun", model="step-audio-r1.1"),
    Scenario2026("16_images", "16",
                 "gpt-realtime-2.1: a bar chart (PNG) and a question about it in one user message; a "
                 "spoken answer. Usage counts image tokens.", (
                     Update(OPENAI_BASE),
                     SayWithImage("Which month had the most sales in this chart?", "sales_chart.png"),
                     Respond("March had the most sales, about twice as much as January."),
                 )),
    Scenario2026("17_transcription", "17",
                 "A transcription session (intent=transcription, gpt-realtime-whisper): two clips from files, "
                 "each sent ten times faster than real time and committed; the short second one is "
                 "transcribed first.", (
                     Update({"type": "transcription",
                             "audio": {"input": {"transcription": {"model": "gpt-realtime-whisper"},
                                                 "turn_detection": None}}}),
                     Caption("vad_utterance.wav", send_every_ms=10),
                     Caption("followup_en.wav", send_every_ms=10),
                 ), kind="transcription", model="gpt-realtime-whisper"),
    Scenario2026("18_long_conversation", "18",
                 "gpt-realtime-2.1 with truncation retention_ratio 0.8 of a 64-token budget (the third turn is "
                 "truncated): three text turns; an out-of-band summary (conversation none, metadata, item "
                 "references); the client swaps the first four items for the summary; a last turn that still "
                 "knows the plan.", (
                     Update({**OPENAI_BASE, "modalities": ["text"],
                             "truncation": {"type": "retention_ratio", "retention_ratio": 0.8,
                                            "token_limits": {"post_instructions": TOKEN_LIMIT}}}),
                     *(step for k in range(0, 6, 2)
                       for step in (Say(TRIP[k][1]), Respond(TRIP[k + 1][1]))),
                     OutOfBand(TRIP_SUMMARY, metadata={"task": "summary"}, reference_last=6,
                               overrides={"modalities": ["text"],
                                          "instructions": "Summarize the conversation in one sentence."}),
                     Condense(TRIP_SUMMARY, delete_first=4),
                     Say("Remind me: where are we eating on Saturday?"),
                     Respond("At a lakeside restaurant: West Lake fish in vinegar sauce and Dongpo pork."),
                 )),
    Scenario2026("18_long_conversation_stepfun", "18",
                 "step-1o-audio, text answers: the same three turns; the client swaps the first four items for "
                 "the summary (conversation.item.delete, then create); a last turn that still knows the plan. "
                 "No truncation and no out-of-band response: StepFun documents neither.", (
                     Update({**STEPFUN_MANUAL, "modalities": ["text"]}),
                     *(step for k in range(0, 6, 2)
                       for step in (Say(TRIP[k][1]), Respond(TRIP[k + 1][1]))),
                     Condense(TRIP_SUMMARY, delete_first=4),
                     Say("Remind me: where are we eating on Saturday?"),
                     Respond("At a lakeside restaurant: West Lake fish in vinegar sauce and Dongpo pork."),
                 ), provider="stepfun", model="step-1o-audio"),
    Scenario2026("19_tools_stepfun", "19",
                 "step-audio-2 with the built-in web_search and retrieval tools: a question about today's "
                 "news, one about the course handbook. StepFun's built-in tool events are unconfirmed: the "
                 "cassette has none, only the spoken answers.", (
                     Update({**STEPFUN_MANUAL, "tools": [WEB_SEARCH, RETRIEVAL]}),
                     Say("Search the web: what is the weather in Shanghai today?"),
                     Respond("According to today's forecast, Shanghai is cloudy, around fourteen degrees."),
                     Say("According to the course handbook, how long is each lesson?"),
                     Respond("The handbook says each lesson takes about twenty minutes."),
                 ), provider="stepfun", model="step-audio-2"),
    Scenario2026("19_tools_mcp", "19",
                 "gpt-realtime-2.1 with a remote MCP server (label shop): a read-only stock check runs "
                 "without approval; an order waits for the client's approval. The replay server lists and "
                 "calls the real local MCP server; the cassette holds the model's calls and words.", (
                     Update({**OPENAI_BASE, "tools": [SHOP_TOOL]}),
                     Say("How many pears does the shop have?"),
                     McpCall("Let me check the shop.", server_label="shop", name="stock",
                             arguments={"item": "pear"}),
                     Respond("The shop has twelve pears in stock."),
                     Say("Please order three pears."),
                     McpCall("I'll place the order once you approve it.", server_label="shop", name="order",
                             arguments={"item": "pear", "count": 3}, needs_approval=True),
                     Approve(True),
                     Respond("Done: your order for three pears is placed."),
                 )),
)
