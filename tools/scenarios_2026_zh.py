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
from scenarios_2026 import EFFORTS, OPENAI_BASE, STEPFUN_MANUAL, Caption, Reason, SayWithImage  # noqa: E402

from scenarios import Respond, Say, Update  # noqa: E402

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


# -- lessons 18 and 19 (zh-CN) ----------------------------------------------------------------
# Mirrors of 18_long_conversation, 19_tools_stepfun and 19_tools_mcp (tools/scenarios_2026.py):
# same steps and personas; Mandarin words. The MCP tool names and arguments stay English: the
# replay server calls the real MCP server the notebook starts.

from scenarios_2026 import OPENAI_BASE, SHOP_TOOL, TOKEN_LIMIT, Approve, Condense, McpCall, OutOfBand  # noqa: E402

from scenarios import VOICE, Respond, Say, Update  # noqa: E402

ZH_OPENAI = {**OPENAI_BASE, "instructions": INSTRUCTIONS}
ZH_STEPFUN_MANUAL = {"instructions": INSTRUCTIONS, "voice": VOICE, "turn_detection": None}
ZH_TRIP = [
    ("user", "我打算和父母去杭州过一个周末。"),
    ("assistant", "太好了！先去西湖，趁人少一早去走苏堤。"),
    ("user", "我爸爸喜欢喝茶，我们该去哪儿？"),
    ("assistant", "去龙井村吧，可以在茶农家尝尝新鲜的绿茶。"),
    ("user", "那周六晚上吃什么好呢？"),
    ("assistant", "去湖边的餐馆，尝尝西湖醋鱼和东坡肉。"),
]
ZH_TRIP_SUMMARY = "目前的计划：和父母在杭州过周末；清早游西湖，带爸爸去龙井村，周六晚上吃西湖醋鱼和东坡肉。"
ZH_WEB_SEARCH = {"type": "web_search",
                 "function": {"description": "在网上搜索最新信息。",
                              "options": {"top_k": 5, "timeout_seconds": 3}}}
ZH_RETRIEVAL = {"type": "retrieval",
                "function": {"description": "根据课程手册回答。",
                             "options": {"vector_store_id": "vs_course_handbook",
                                         "prompt_template": "请根据下面的知识回答。\n{{knowledge}}\n问题：{{query}}"}}}

SCENARIOS += (
    zh2026("18_long_conversation",
           "gpt-realtime-2.1 with truncation retention_ratio 0.8 of a 64-token budget (the third turn is "
           "truncated): three text turns; an out-of-band summary (conversation none, metadata, item "
           "references); the client swaps the first four items for the summary; a last turn that still "
           "knows the plan.", (
               Update({**ZH_OPENAI, "modalities": ["text"],
                       "truncation": {"type": "retention_ratio", "retention_ratio": 0.8,
                                      "token_limits": {"post_instructions": TOKEN_LIMIT}}}),
               *(step for k in range(0, 6, 2)
                 for step in (Say(ZH_TRIP[k][1]), Respond(ZH_TRIP[k + 1][1]))),
               OutOfBand(ZH_TRIP_SUMMARY, metadata={"task": "summary"}, reference_last=6,
                         overrides={"modalities": ["text"], "instructions": "用一句话总结这段对话。"}),
               Condense(ZH_TRIP_SUMMARY, delete_first=4),
               Say("提醒我一下：周六我们在哪儿吃饭？"),
               Respond("在湖边的餐馆，吃西湖醋鱼和东坡肉。"),
           )),
    zh2026("18_long_conversation_stepfun",
           "step-1o-audio, text answers: the same three turns; the client swaps the first four items for "
           "the summary (conversation.item.delete, then create); a last turn that still knows the plan. "
           "No truncation and no out-of-band response: StepFun documents neither.", (
               Update({**ZH_STEPFUN_MANUAL, "modalities": ["text"]}),
               *(step for k in range(0, 6, 2)
                 for step in (Say(ZH_TRIP[k][1]), Respond(ZH_TRIP[k + 1][1]))),
               Condense(ZH_TRIP_SUMMARY, delete_first=4),
               Say("提醒我一下：周六我们在哪儿吃饭？"),
               Respond("在湖边的餐馆，吃西湖醋鱼和东坡肉。"),
           ), provider="stepfun", model="step-1o-audio"),
    zh2026("19_tools_stepfun",
           "step-audio-2 with the built-in web_search and retrieval tools: a question about today's news, "
           "one about the course handbook. StepFun's built-in tool events are unconfirmed: the cassette "
           "has none, only the spoken answers.", (
               Update({**ZH_STEPFUN_MANUAL, "tools": [ZH_WEB_SEARCH, ZH_RETRIEVAL]}),
               Say("上网搜一下：上海今天天气怎么样？"),
               Respond("根据今天的预报，上海多云，气温十四度左右。"),
               Say("根据课程手册，每节课大概多长时间？"),
               Respond("手册上说，每节课大约二十分钟。"),
           ), provider="stepfun", model="step-audio-2"),
    zh2026("19_tools_mcp",
           "gpt-realtime-2.1 with a remote MCP server (label shop): a read-only stock check runs without "
           "approval; an order waits for the client's approval. The replay server lists and calls the "
           "real local MCP server; the cassette holds the model's calls and words.", (
               Update({**ZH_OPENAI, "tools": [SHOP_TOOL]}),
               Say("店里有多少个梨？"),
               McpCall("我查一下店里的库存。", server_label="shop", name="stock", arguments={"item": "pear"}),
               Respond("店里有十二个梨。"),
               Say("请帮我订三个梨。"),
               McpCall("你批准之后我就下单。", server_label="shop", name="order",
                       arguments={"item": "pear", "count": 3}, needs_approval=True),
               Approve(True),
               Respond("好了，三个梨已经下单。"),
           )),
)
# -- end of lessons 18 and 19 (zh-CN) ---------------------------------------------------------
