"""The turn scripts of the cassettes that lessons 12-14 added (the split of 04 and 07, the capstone).

Same script language and shared settings as tools/scenarios.py; tools/synthesize_cassettes.py
builds these after those.
"""

from __future__ import annotations

from scenarios import (
                       BASE,
                       MANUAL,
                       OCTOPUS_FACT,
                       OCTOPUS_HEARTS,
                       ROBOT_STORY,
                       TRANSCRIPTION,
                       Respond,
                       Say,
                       Scenario,
                       SendAudio,
                       SendAudioItem,
                       Speak,
                       Update,
                       vad,
)

ZH_INTRODUCTION = "你好！我是一个语音助手，可以陪你聊天、回答问题。"
# The capstone's first answer is long (about 9 s of speech) so that it is still playing when the
# lesson barges in a few cells later, however slowly those cells run.
OCTOPUS_FACT_LONG = OCTOPUS_FACT + " It can also change colour in the blink of an eye to hide from danger."

SCENARIOS = (
    Scenario("12_live_conversation", "12",
             "The capstone: a push-to-talk question (appends + commit), a Mandarin clip that barges in "
             "on the answer, then the clip a Colab user records (here media/followup_en.wav).", (
                 Update({**MANUAL, "input_audio_transcription": TRANSCRIPTION}),
                 SendAudio("question_en.wav", chunk_ms=100),
                 Respond(OCTOPUS_FACT_LONG),
                 SendAudioItem("question_zh.wav"),
                 Respond(ZH_INTRODUCTION),
                 SendAudioItem("followup_en.wav"),
                 Respond(OCTOPUS_HEARTS),
             )),
    Scenario("13_barge_in", "13",
             "Server VAD: a spoken request, a long answer, the user barges in; the answer to the barge-in.", (
                 Update({**BASE, "turn_detection": vad()}),
                 Speak("vad_utterance.wav", reply=Respond(ROBOT_STORY)),
                 Speak("barge_in.wav", barge_in_after_s=1.5,
                       reply=Respond("Okay! A little robot kept a lighthouse shining through a storm.")),
             )),
    Scenario("14_audio_input", "14",
             "Input transcription on: (a) a Mandarin question sent whole as one item; (b) a typed "
             "instruction plus an appended English question, answered in one turn.", (
                 Update({**MANUAL, "input_audio_transcription": TRANSCRIPTION}),
                 SendAudioItem("question_zh.wav"),
                 Respond(ZH_INTRODUCTION),
                 Say("Answer the question in the recording that follows in one short sentence."),
                 SendAudio("question_en.wav"),
                 Respond("An octopus has three hearts."),
             )),
)
