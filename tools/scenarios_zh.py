"""The Mandarin turn scripts of the Chinese edition: media/cassettes/zh-CN/NN_topic.jsonl.

Each scenario is its English namesake in tools/scenarios.py, turn for turn (same client actions,
same number and kind of responses), with Mandarin prompts and Mandarin answers. The assistant
speaks with espeak-ng's Mandarin voice (`cmn`, chosen by tools/synthesize_cassettes.py for CJK
text); the user's spoken turns are media/zh-CN/*.wav (tools/make_media.py, voice `cmn`). The
Chinese notebooks connect with `cassette="zh-CN/NN_topic"`.
"""

from __future__ import annotations

from scenarios import (
    TRANSCRIPTION,
    VOICE,
    WEATHER_TOOL,
    Call,
    Respond,
    Restore,
    ReturnResult,
    Say,
    Scenario,
    SendAudio,
    SendAudioItem,
    Speak,
    Truncate,
    Update,
    vad,
)

PREFIX = "zh-CN/"
INSTRUCTIONS = "你是一个友好的语音助手。回答要简短、清楚。"
BASE = {"instructions": INSTRUCTIONS, "voice": VOICE}
MANUAL = {**BASE, "turn_detection": None}
PROVENANCE = "Mandarin edition, synthesized: espeak-ng voice cmn for both sides. "
WPM = 300  # espeak-ng's cmn counts a syllable as a word: 300 is about five characters a second

WEATHER_TOOL_ZH = {
    "type": "function",
    "function": {
        **WEATHER_TOOL["function"],
        "description": "查询某个城市当前的天气。",
        "parameters": {"type": "object",
                       "properties": {"city": {"type": "string", "description": "城市名，例如：上海"}},
                       "required": ["city"]},
    },
}

QUESTION = "zh-CN/question.wav"            # 你好！讲一个章鱼的趣事吧？
FOLLOWUP = "zh-CN/followup.wav"            # 哇！它有几颗心脏？
STORY_REQUEST = "zh-CN/vad_utterance.wav"  # 讲个小机器人的故事吧。
BARGE_IN = "zh-CN/barge_in.wav"            # 等等，讲短一点。

OCTOPUS_FACT = "当然！章鱼有三颗心脏，它的血是蓝色的，因为它用铜来运输氧气。"
OCTOPUS_BLUE_BLOOD = "当然！章鱼的血是蓝色的，因为它用铜而不是铁来运输氧气。"
OCTOPUS_HEARTS = "它有三颗心脏。两颗把血液泵过鳃，另一颗把血液泵到全身。"
TEA_HISTORY = "茶的历史很悠久。传说几片树叶落进了皇帝煮的开水里，他很喜欢这个味道。后来，茶传到了日本、印度和欧洲。"
GREEN_TEA = "首先，用手采摘新鲜的茶叶。接着，快速加热杀青，让叶子不再变色。然后揉捻成形，最后烘干。"
ROBOT_STORY = "从前，港口住着一个叫小闪的小机器人。一个暴风雨的夜晚停电了，小闪冒着风雨爬上灯塔，让灯光继续为船只照亮方向。"
HISTORY = [
    ("user", "你好！我叫小林，住在杭州。"),
    ("assistant", "很高兴认识你，小林！杭州是个美丽的城市，西湖特别有名。"),
    ("user", "我去那里应该尝尝什么？"),
    ("assistant", "推荐你尝尝西湖醋鱼和龙井虾仁。"),
    ("user", "我叫什么名字？我刚才提到的是哪个城市？"),
    ("assistant", "你叫小林，你说你住在杭州。"),
]


def zh(name: str, description: str, steps: tuple) -> Scenario:
    """The Mandarin scenario of notebook `name[:2]`, stored as media/cassettes/zh-CN/`name`.jsonl."""
    return Scenario(PREFIX + name, PREFIX + name[:2], PROVENANCE + description, steps, wpm=WPM)


SCENARIOS = (
    zh("01_connect", "Connect: the server's session.created, then the client closes.", ()),
    zh("02_session_update", "Two session.update calls, each answered by session.updated.", (
        Update({**BASE, "modalities": ["text", "audio"]}),
        Update({"input_audio_transcription": TRANSCRIPTION, "turn_detection": vad()}),
    )),
    zh("03_text_turn", "One typed Mandarin question, one text-only answer.", (
        Update(MANUAL),
        Say("用两三句话说说，什么是 Realtime API？"),
        Respond("Realtime API 让你的程序通过一条 WebSocket 连接和模型对话。你把文字或音频以流的方式发过去，"
                "模型一边生成、一边把回答流式传回来，所以对话就像实时进行一样。",
                overrides={"modalities": ["text"]}),
    )),
    zh("04_audio_turn", "A Mandarin question appended in chunks and committed; a spoken answer.", (
        Update(MANUAL),
        SendAudio(QUESTION),
        Respond(OCTOPUS_FACT),
    )),
    zh("05_audio_output", "A typed request answered with about five seconds of Mandarin speech.", (
        Update(MANUAL),
        Say("请为新同学说一段简短的欢迎词。"),
        Respond("欢迎来到这门课程！今天你将学会怎样和模型实时对话。我们开始吧！"),
    )),
    zh("06_multi_turn", "Three typed turns; the last answer remembers the first.", (
        Update(MANUAL),
        Say(HISTORY[0][1]), Respond(HISTORY[1][1]),
        Say(HISTORY[2][1]), Respond(HISTORY[3][1]),
        Say(HISTORY[4][1]), Respond(HISTORY[5][1]),
    )),
    zh("06_multi_turn_restore", "A new session: the history of zh-CN/06_multi_turn restored as text items, "
       "then one question.", (
           Update(MANUAL),
           *(Restore(role, text) for role, text in HISTORY),
           Say("你推荐我吃哪道菜？"),
           Respond("我推荐了西湖醋鱼和龙井虾仁，小林。"),
       )),
    zh("07_interruption", "(1) a long answer cancelled mid-stream; (2) a long answer truncated where playback "
       "stopped; (3) the model only remembers what was heard.", (
           Update(MANUAL),
           Say("给我讲讲茶的历史。"),
           Respond(TEA_HISTORY, cancel_after_s=1.2),
           Say("那再讲讲绿茶是怎么做出来的。"),
           Respond(GREEN_TEA),
           Truncate(4500),
           Say("不好意思，你刚才说到哪儿了？"),
           Respond("我刚才说到，新鲜的茶叶先用手采摘，然后快速加热杀青。要我接着讲吗？"),
       )),
    zh("08_function_calling", "get_weather: (1) a call; (2) the answer using its result; (3) speech and a call "
       "in one response; (4) the answer after that result.", (
           Update({**MANUAL, "tools": [WEATHER_TOOL_ZH], "tool_choice": "auto"}),
           Say("上海现在天气怎么样？"),
           Respond(call=Call("get_weather", {"city": "上海"})),
           ReturnResult({"city": "上海", "temperature_c": 18, "condition": "小雨"}),
           Respond("上海现在十八度，有小雨，出门记得带伞。"),
           Say("谢谢！那北京呢？"),
           Respond("好的，我帮你查一下北京。", call=Call("get_weather", {"city": "北京"})),
           ReturnResult({"city": "北京", "temperature_c": 12, "condition": "晴"}),
           Respond("北京是晴天，十二度，很适合出去散散步。"),
       )),
    zh("09_voice_activity", "Server VAD: the same utterance streamed under four settings with create_response "
       "off, each changing one setting of the first, then once with it on.", (
           Update({**BASE, "turn_detection": vad(create_response=False)}),
           Speak(STORY_REQUEST),
           Update({"turn_detection": vad(silence_ms=1000, create_response=False)}),
           Speak(STORY_REQUEST),
           Update({"turn_detection": vad(prefix_ms=0, create_response=False)}),
           Speak(STORY_REQUEST),
           Update({"turn_detection": vad(energy=1000, create_response=False)}),
           Speak(STORY_REQUEST),
           Update({"turn_detection": vad()}),
           Speak(STORY_REQUEST, reply=Respond("从前，一个勇敢的小机器人救下了一只迷路的小猫。")),
       )),
    zh("10_record_and_replay", "A short typed turn with a spoken answer.", (
        Update(MANUAL),
        Say("用一句简短的话跟我打个招呼。"),
        Respond("你好！很高兴听到你的声音。"),
    )),
    zh("11_relay_service", "Two spoken Mandarin turns of one conversation; the follow-up's 它 needs turn 1, "
       "whose answer does not say how many hearts.", (
           Update({**MANUAL, "input_audio_transcription": TRANSCRIPTION}),
           SendAudio(QUESTION), Respond(OCTOPUS_BLUE_BLOOD),
           SendAudio(FOLLOWUP), Respond(OCTOPUS_HEARTS),
       )),
    zh("11_relay_service_restore", "A new session: turn 1 of zh-CN/11_relay_service restored as text items, "
       "then turn 2.", (
           Update({**MANUAL, "input_audio_transcription": TRANSCRIPTION}),
           Restore("user", "你好！讲一个章鱼的趣事吧？"),
           Restore("assistant", OCTOPUS_BLUE_BLOOD),
           SendAudio(FOLLOWUP), Respond(OCTOPUS_HEARTS),
       )),
)

# -- lessons 13-14 (zh-CN) ----
# The Mandarin twins of tools/scenarios_lessons.py's 13_barge_in and 14_audio_input.

ZH_INTRODUCTION = "你好！我是一个语音助手，可以陪你聊天、回答问题。"  # the answer to media/question_zh.wav

SCENARIOS += (
    zh("13_barge_in", "Server VAD: a spoken Mandarin request, a long answer, the user barges in; the answer to "
       "the barge-in.", (
           Update({**BASE, "turn_detection": vad()}),
           Speak(STORY_REQUEST, reply=Respond(ROBOT_STORY)),
           Speak(BARGE_IN, barge_in_after_s=1.5, reply=Respond("好的！一个小机器人在暴风雨里守住了灯塔的光。")),
       )),
    zh("14_audio_input", "Input transcription on: (a) a Mandarin question sent whole as one item; (b) a typed "
       "Mandarin instruction plus an appended Mandarin question, answered in one turn.", (
           Update({**MANUAL, "input_audio_transcription": TRANSCRIPTION}),
           SendAudioItem("question_zh.wav"),
           Respond(ZH_INTRODUCTION),
           Say("用一句简短的话回答后面这段录音里的问题。"),
           SendAudio(QUESTION),
           Respond("章鱼有三颗心脏，血是蓝色的。"),
       )),
)

# -- lesson 12 (zh-CN) ----------------------------------------------------------------------
# The capstone's Mandarin mirror of scenarios_lessons' 12_live_conversation: the push-to-talk
# question (appends of 100 ms + commit), a whole clip that barges in on the answer (the same
# Mandarin media/question_zh.wav the English lesson sends), then the clip a Colab user records
# (here media/zh-CN/followup.wav).
SCENARIOS = SCENARIOS + (
    zh("12_live_conversation", "The capstone: a push-to-talk Mandarin question (appends + commit), a whole "
       "Mandarin clip that barges in on the answer, then the clip a Colab user records (here "
       "media/zh-CN/followup.wav).", (
           Update({**MANUAL, "input_audio_transcription": TRANSCRIPTION}),
           SendAudio(QUESTION, chunk_ms=100),
           # long, as the English: still playing when the lesson barges in
           Respond(OCTOPUS_FACT + "它还能在眨眼之间改变颜色，躲开危险。"),
           SendAudioItem("question_zh.wav"),
           Respond("你好！我是一个语音助手，可以陪你聊天、回答问题。"),
           SendAudioItem(FOLLOWUP),
           Respond(OCTOPUS_HEARTS),
       )),
)
