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
PROVENANCE = "Mandarin edition, synthesized: espeak-ng voice cmn for both sides. "
WPM = 300  # espeak-ng's cmn counts a syllable as a word: 300 is about five characters a second


def zh2026(name: str, description: str, steps: tuple, **persona) -> Scenario2026:
    """The Mandarin 2026 scenario of notebook `name[:2]`, stored as media/cassettes/zh-CN/`name`.jsonl.
    `persona`: provider / model / kind, as in the English scenario."""
    return Scenario2026(PREFIX + name, PREFIX + name[:2], PROVENANCE + description, steps, wpm=WPM, **persona)


SCENARIOS: tuple[Scenario2026, ...] = ()
