"""The turn scripts of every shipped cassette: what the client does, what the model answers.

Read a scenario top to bottom as the notebook runs it. Each step is one client action and the
server's answer to it; `Respond`, and `Speak` with a `reply`, are the recorded RESPONSES that
the replay server plays back in order (the contract with the notebook; see
media/cassettes/README.md). tools/synthesize_cassettes.py turns these scripts into cassettes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from helpers.catalogue import default_transcription_model

# -- the script language ---------------------------------------------------------------

@dataclass(frozen=True)
class Update:
    """`session.update` with `session` (beta, flat) -> `session.updated` (full merged session)."""

    session: dict


@dataclass(frozen=True)
class Say:
    """The user types `text`: a user `input_text` item."""

    text: str


@dataclass(frozen=True)
class Restore:
    """Put history back into a new session: a `role` ("user" or "assistant") text item."""

    role: str
    text: str


@dataclass(frozen=True)
class SendAudio:
    """Append `wav` (a file in media/) in chunks of `chunk_ms`, then commit it: a user audio item."""

    wav: str
    chunk_ms: int = 200


@dataclass(frozen=True)
class SendAudioItem:
    """Send `wav` whole as one user `input_audio` item (`conversation.item.create`)."""

    wav: str


@dataclass(frozen=True)
class Call:
    """A function call the model makes: `name` with JSON `arguments`."""

    name: str
    arguments: dict


@dataclass(frozen=True)
class Respond:
    """`response.create` -> one response saying `say` (speech + transcript, or text when the
    effective modalities are text only) and/or making `call`.

    `cancel_after_s`: the client sends `response.cancel` that long after `response.create`.
    `overrides` is the `response` object of `response.create`.
    """

    say: str = ""
    call: Call | None = None
    cancel_after_s: float | None = None
    overrides: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ReturnResult:
    """The client returns `output` for the model's latest function call (`function_call_output`)."""

    output: dict


@dataclass(frozen=True)
class Truncate:
    """The client cuts the latest assistant audio at `audio_end_ms`, the part actually played."""

    audio_end_ms: int


@dataclass(frozen=True)
class Speak:
    """Server VAD on: the client streams `wav` in real time (100 ms chunks); the server detects
    speech, commits it, and, when `create_response` is on, answers with `reply`.

    `barge_in_after_s`: start speaking that long after the previous response began (barge-in);
    a response still being generated is cancelled (`turn_detected`) and the client truncates
    its audio at the played position.
    """

    wav: str
    reply: Respond | None = None
    barge_in_after_s: float | None = None


@dataclass(frozen=True)
class Scenario:
    """One cassette: its name, the notebook that uses it, what it shows and its steps."""

    name: str
    notebook: str
    description: str
    steps: tuple
    created: str = "2026-11-22T00:00:00Z"
    wpm: int = 175                 # the assistant's espeak-ng speaking rate (words per minute)

    @property
    def responses(self) -> int:
        """How many responses the cassette holds (the replay contract)."""
        return sum(isinstance(s, Respond) or (isinstance(s, Speak) and s.reply is not None)
                   for s in self.steps)


# -- shared settings -------------------------------------------------------------------

INSTRUCTIONS = "You are a friendly voice assistant. Keep your answers short and clear."
VOICE = "jingdiannvsheng"
TRANSCRIPTION = {"model": default_transcription_model("stepfun")}  # all scenarios here are StepFun's
BASE = {"instructions": INSTRUCTIONS, "voice": VOICE}
MANUAL = {**BASE, "turn_detection": None}


def vad(silence_ms: int = 500, prefix_ms: int = 300, energy: int = 2500, create_response: bool = True) -> dict:
    """A server-VAD `turn_detection` in StepFun's terms (plus OpenAI's `create_response`)."""
    return {"type": "server_vad", "prefix_padding_ms": prefix_ms, "silence_duration_ms": silence_ms,
            "energy_awakeness_threshold": energy, "create_response": create_response,
            "interrupt_response": True}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {"type": "object",
                       "properties": {"city": {"type": "string", "description": "City name, e.g. Shanghai"}},
                       "required": ["city"]},
    },
}

OCTOPUS_FACT = ("Sure! An octopus has three hearts, and its blood is blue "
                "because it uses copper to carry oxygen.")
OCTOPUS_BLUE_BLOOD = "Sure! An octopus has blue blood, because it carries oxygen with copper instead of iron."
OCTOPUS_HEARTS = ("It has three hearts. Two pump blood through the gills, "
                  "and one pumps it to the rest of the body.")
TEA_HISTORY = ("Tea has a long history. Legend says that in ancient China, leaves fell into "
               "the emperor's boiling water, and he loved the taste. Over many centuries, tea "
               "spread along trade routes to Japan, India and Europe, and became one of the "
               "most popular drinks in the world.")
GREEN_TEA = ("First, the fresh leaves are picked by hand. Next, they are heated quickly to stop "
             "them from changing colour. Then they are rolled into shape, and finally they are "
             "dried so they keep for a long time.")
ROBOT_STORY = ("Once upon a time, a little robot named Bolt lived in a busy harbour. Every night "
               "he polished the lighthouse lamp, until one stormy evening the power failed, and "
               "Bolt had to climb the tower in the wind and rain to keep the light shining for the "
               "boats at sea.")
HISTORY = [
    ("user", "Hi! My name is Lin, and I live in Hangzhou."),
    ("assistant", "Nice to meet you, Lin! Hangzhou is a lovely city, famous for West Lake."),
    ("user", "What food should I try there?"),
    ("assistant", "You should try West Lake fish in vinegar sauce, and Longjing shrimp."),
    ("user", "What is my name again, and which city did I mention?"),
    ("assistant", "Your name is Lin, and you mentioned that you live in Hangzhou."),
]


# -- the scenarios ---------------------------------------------------------------------

SCENARIOS = (
    Scenario("01_connect", "01", "Connect: the server's session.created, then the client closes.", ()),
    Scenario("02_session_update", "02",
             "Two session.update calls, each answered by session.updated with the full session.", (
                 Update({**BASE, "modalities": ["text", "audio"]}),
                 Update({"input_audio_transcription": TRANSCRIPTION, "turn_detection": vad()}),
             )),
    Scenario("03_text_turn", "03", "One typed question, one text-only answer.", (
        Update(MANUAL),
        Say("In two or three sentences, what is the Realtime API?"),
        Respond("The Realtime API lets your program talk with a model over one WebSocket "
                "connection. You stream text or audio in, and the model streams its answer back "
                "as it is generated, so conversations feel live.",
                overrides={"modalities": ["text"]}),
    )),
    Scenario("04_audio_turn", "04", "An English question appended in chunks and committed; a spoken answer.", (
        Update(MANUAL),
        SendAudio("question_en.wav"),
        Respond(OCTOPUS_FACT),
    )),
    Scenario("05_audio_output", "05", "A typed request answered with about five seconds of speech.", (
        Update(MANUAL),
        Say("Please say a short welcome message for new students."),
        Respond("Welcome to the course! Today you will learn how to talk to a model in real "
                "time. Let's get started."),
    )),
    Scenario("06_multi_turn", "06", "Three typed turns; the last answer remembers the first.", (
        Update(MANUAL),
        Say(HISTORY[0][1]), Respond(HISTORY[1][1]),
        Say(HISTORY[2][1]), Respond(HISTORY[3][1]),
        Say(HISTORY[4][1]), Respond(HISTORY[5][1]),
    )),
    Scenario("06_multi_turn_restore", "06",
             "A new session: the history of 06_multi_turn restored as text items, then one question.", (
                 Update(MANUAL),
                 *(Restore(role, text) for role, text in HISTORY),
                 Say("Which dish did you recommend to me?"),
                 Respond("I recommended West Lake fish in vinegar sauce, and Longjing shrimp, Lin."),
             )),
    Scenario("07_interruption", "07",
             "(1) a long answer cancelled mid-stream; (2) a long answer truncated where playback "
             "stopped; (3) the model only remembers what was heard.", (
                 Update(MANUAL),
                 Say("Tell me about the history of tea."),
                 Respond(TEA_HISTORY, cancel_after_s=1.2),
                 Say("Then tell me how green tea is made."),
                 Respond(GREEN_TEA),
                 Truncate(4500),
                 Say("Sorry, what were you saying?"),
                 Respond("I was saying that the fresh leaves are picked by hand, and then heated "
                         "quickly. Shall I go on?"),
             )),
    Scenario("08_function_calling", "08",
             "get_weather: (1) a call; (2) the answer using its result; (3) speech and a call in "
             "one response; (4) the answer after that result.", (
                 Update({**MANUAL, "tools": [WEATHER_TOOL], "tool_choice": "auto"}),
                 Say("What's the weather like in Shanghai right now?"),
                 Respond(call=Call("get_weather", {"city": "Shanghai"})),
                 ReturnResult({"city": "Shanghai", "temperature_c": 18, "condition": "light rain"}),
                 Respond("It's eighteen degrees with light rain in Shanghai, so take an umbrella."),
                 Say("Thanks! And how about Beijing?"),
                 Respond("Sure, let me check Beijing for you.", call=Call("get_weather", {"city": "Beijing"})),
                 ReturnResult({"city": "Beijing", "temperature_c": 12, "condition": "sunny"}),
                 Respond("Beijing is sunny and twelve degrees, a nice day for a walk."),
             )),
    Scenario("09_voice_activity", "09",
             "Server VAD: the same utterance streamed under four settings with create_response off "
             "(speech_started / speech_stopped / committed only), each changing one setting of the "
             "first, then once with create_response on.", (
                 Update({**BASE, "turn_detection": vad(create_response=False)}),
                 Speak("vad_utterance.wav"),
                 Update({"turn_detection": vad(silence_ms=1000, create_response=False)}),
                 Speak("vad_utterance.wav"),
                 Update({"turn_detection": vad(prefix_ms=0, create_response=False)}),
                 Speak("vad_utterance.wav"),
                 Update({"turn_detection": vad(energy=1000, create_response=False)}),
                 Speak("vad_utterance.wav"),
                 Update({"turn_detection": vad()}),
                 Speak("vad_utterance.wav",
                       reply=Respond("Once upon a time, a brave little robot saved a lost kitten.")),
             )),
    Scenario("10_record_and_replay", "10", "A short typed turn with a spoken answer.", (
        Update(MANUAL),
        Say("Say hello in one short sentence."),
        Respond("Hello! It's nice to hear from you."),
    )),
    Scenario("11_relay_service", "11", "Two spoken user turns of one conversation; the follow-up's \"it\" "
             "needs turn 1, whose answer does not say how many hearts.", (
        Update({**MANUAL, "input_audio_transcription": TRANSCRIPTION}),
        SendAudio("question_en.wav"), Respond(OCTOPUS_BLUE_BLOOD),
        SendAudio("followup_en.wav"), Respond(OCTOPUS_HEARTS),
    )),
    Scenario("11_relay_service_restore", "11",
             "A new session: turn 1 of 11_relay_service restored as text items, then turn 2.", (
                 Update({**MANUAL, "input_audio_transcription": TRANSCRIPTION}),
                 Restore("user", "Hi! Can you tell me a fun fact about octopuses?"),
                 Restore("assistant", OCTOPUS_BLUE_BLOOD),
                 SendAudio("followup_en.wav"), Respond(OCTOPUS_HEARTS),
             )),
)
