"""The Mandarin turn scripts of the 2026 lessons (15-19) for the Chinese edition: media/cassettes/zh-CN/NN_topic.jsonl.

Each scenario mirrors its English namesake in tools/scenarios_2026.py turn for turn (same client
actions, same number and kind of responses), with Mandarin prompts and Mandarin answers; the
persona (provider, model) is the English one: StepFun where the feature exists there, the OpenAI
GA persona otherwise. tools/synthesize_cassettes.py builds them through tools/synthesize_2026.py
(espeak-ng's Mandarin voice `cmn` for CJK text; user audio from media/zh-CN/). Every cassette is
SYNTHESIZED. The Chinese notebooks connect with `cassette="zh-CN/NN_topic"`.

Each translator appends one clearly delimited block per lesson at the END of this file
(`# -- lesson NN (zh-CN) ----`) and adds its scenarios to SCENARIOS there, so that parallel
branches merge cleanly.
"""

from __future__ import annotations

from scenarios_2026 import Scenario2026

__all__ = ["SCENARIOS", "zh2026"]

PREFIX = "zh-CN/"
INSTRUCTIONS = "你是一个友好的语音助手。回答要简短、清楚。"
PROVENANCE = "Mandarin edition, synthesized: every voice is espeak-ng cmn. "
WPM = 300  # espeak-ng's cmn counts a syllable as a word: 300 is about five characters a second


def zh2026(name: str, description: str, steps: tuple, **persona) -> Scenario2026:
    """The Mandarin 2026 scenario of notebook `name[:2]`, stored as media/cassettes/zh-CN/`name`.jsonl.
    `persona`: provider / model / kind, as in the English scenario."""
    return Scenario2026(PREFIX + name, PREFIX + name[:2], PROVENANCE + description, steps, wpm=WPM, **persona)


SCENARIOS: tuple[Scenario2026, ...] = ()


# -- lesson 15 (zh-CN) ------------------------------------------------------------------------
from scenarios import Respond, Say, Update  # noqa: E402
from scenarios_2026 import EFFORTS, OPENAI_BASE, STEPFUN_MANUAL, Caption, Reason, SayWithImage  # noqa: E402

OPENAI_ZH = {**OPENAI_BASE, "instructions": INSTRUCTIONS}
STEPFUN_ZH = {**STEPFUN_MANUAL, "instructions": INSTRUCTIONS}
WHY_SKY_ZH = "天空为什么是蓝色的？请用两句话回答。"
SKY_ANSWER_ZH = "空气分子散射蓝光比散射红光强得多。所以不管看向哪里，天空都是蓝色的。"

SCENARIOS += (
    zh2026("15_reasoning",
           "gpt-realtime-2.1: one question asked at reasoning.effort low, then at minimal, low, medium and high; "
           "each answer opens with a spoken preamble (a second assistant item).", (
               Update({**OPENAI_ZH, "reasoning": {"effort": "low"}}),
               *(step for effort in ("low", *EFFORTS) for step in (
                   Say(WHY_SKY_ZH),
                   Reason(SKY_ANSWER_ZH, preamble="好问题，我想一想。", effort=effort))),
           )),
    zh2026("15_reasoning_stepfun",
           "step-audio-r1.1: the same question; the model streams its thinking before it speaks.", (
               Update(STEPFUN_ZH),
               Say(WHY_SKY_ZH),
               Reason(SKY_ANSWER_ZH, thinking="用户问天空的颜色。瑞利散射：波长越短，散射越强。用两句简单的话回答。"),
           ), provider="stepfun", model="step-audio-r1.1"),
)


# -- lesson 16 (zh-CN) ------------------------------------------------------------------------

SCENARIOS += (
    zh2026("16_images",
           "gpt-realtime-2.1: a bar chart (PNG) and a question about it in one user message; a spoken answer. "
           "Usage counts image tokens.", (
               Update(OPENAI_ZH),
               SayWithImage("这张图里哪个月的销售额最高？", "sales_chart.png"),
               Respond("三月的销售额最高，大约是一月的两倍。"),
           )),
)


# -- lesson 17 (zh-CN) ------------------------------------------------------------------------

SCENARIOS += (
    zh2026("17_transcription",
           "A transcription session (intent=transcription, gpt-realtime-whisper): two Mandarin clips from files "
           "(media/zh-CN/), each sent ten times faster than real time and committed; the short second one is "
           "transcribed first.", (
               Update({"type": "transcription",
                       "audio": {"input": {"transcription": {"model": "gpt-realtime-whisper"},
                                           "turn_detection": None}}}),
               Caption("zh-CN/vad_utterance.wav", send_every_ms=10),
               Caption("zh-CN/followup.wav", send_every_ms=10),
           ), kind="transcription", model="gpt-realtime-whisper"),
)
