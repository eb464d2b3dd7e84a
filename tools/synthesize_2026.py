"""Synthesize the cassettes of tools/scenarios_2026.py (lessons 15-19); run by tools/synthesize_cassettes.py.

Extends the synthesizer's `Recording` with what is new in 2026. Everything below is MODELLED,
not measured, and the cassettes say so (provenance "synthesized"):

* reasoning latency: the answer of a reasoning model starts `EFFORT_MS[effort]` later than a
  non-reasoning one (a StepFun model thinks for `THINKING_MS_PER_TOKEN` per thinking token);
* a preamble is a second assistant message item (output 0), spoken before the answer (output 1);
* image tokens: OpenAI's published tile rule for its vision models (85 base + 170 per 512 px tile
  after scaling into 2048 px and the short side to 768 px; `detail: low` = 85). Whether Realtime
  counts the same is unconfirmed;
* truncation `retention_ratio`: when the tokens after the instructions exceed the limit, the
  oldest items are dropped until `retention_ratio` of the limit remains, silently (whether the
  server announces it is unconfirmed), and the cache starts over;
* transcription sessions: `helpers.replay.transcription` (its own timing model).

OpenAI scenarios are written in the GA dialect (`provider: openai`), converted from the flat
scripts with the dialect conversion of `helpers.personas`.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import math
from pathlib import Path

import synthesize_cassettes as synth
from scenarios_2026 import SCENARIOS_2026, Approve, Caption, Condense, McpCall, OutOfBand, Reason, SayWithImage, Scenario2026

from helpers import events
from helpers.cassette import Cassette, Frame
from helpers.personas import convert_item, convert_response, convert_session
from helpers.replay.recording import convert_run
from helpers.replay.transcription import TranscriptionSession
from scenarios import Call, Respond

__all__ = ["SCENARIOS_2026", "image_tokens", "synthesize_2026"]

EFFORT_MS = {None: 0, "minimal": 150, "low": 450, "medium": 1100, "high": 2300, "xhigh": 3800}
THINKING_MS_PER_TOKEN = 30
IMAGE_BASE_TOKENS, IMAGE_TILE_TOKENS = 85, 170


def image_tokens(png: bytes, detail: str) -> int:
    """Modelled image tokens of a PNG (see the module notes; unconfirmed for Realtime)."""
    if detail == "low":
        return IMAGE_BASE_TOKENS
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    tiles = math.ceil(width * scale / 512) * math.ceil(height * scale / 512)
    return IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * tiles


class Recording2026(synth.Recording):
    """A `Recording` that also speaks the 2026 steps (see tools/scenarios_2026.py)."""

    def __init__(self, scenario: Scenario2026):
        super().__init__(scenario)
        self.session["model"] = scenario.model
        if scenario.provider == "openai":
            self.session["voice"] = "marin"
        self.image_tokens: dict[str, int] = {}
        self.pending_approval: str | None = None

    # responses ----------------------------------------------------------------------------
    def outputs_for(self, step: Respond, modalities: list) -> list[synth.Output]:
        kind = "audio" if "audio" in modalities else "text"
        if isinstance(step, Reason):
            lead = EFFORT_MS[step.effort] + synth.text_tokens(step.thinking) * THINKING_MS_PER_TOKEN
            if step.preamble:
                return [synth.Output(0, self.new_id("item_"), kind, script=step.preamble),
                        synth.Output(1, self.new_id("item_"), kind, script=step.say, lead_ms=lead)]
            return [synth.Output(0, self.new_id("item_"), kind, script=step.say, lead_ms=lead)]
        if isinstance(step, McpCall):
            return super().outputs_for(dataclasses.replace(step, call=Call(step.name, step.arguments)), modalities)
        return super().outputs_for(step, modalities)

    def plan(self, step: Respond, trigger_ms: int) -> synth.Run:
        self.truncate_context()
        run = super().plan(step, trigger_ms)
        run.step = step
        run.image_in = sum(self.image_tokens.get(i, 0) for i in self.items)
        return run

    def respond(self, step: Respond, trigger_ms: int | None = None) -> None:
        if isinstance(step, OutOfBand):
            refs = [{"type": "item_reference", "id": i} for i in self.items[-step.reference_last:]]
            step = dataclasses.replace(step, overrides={**step.overrides, "conversation": "none",
                                                        "metadata": step.metadata, "input": refs})
        elif isinstance(step, Reason) and step.effort:
            step = dataclasses.replace(step, overrides={**step.overrides, "reasoning": {"effort": step.effort}})
        super().respond(step, trigger_ms)
        if isinstance(step, McpCall) and step.needs_approval:
            self.request_approval()

    def render(self, run: synth.Run, cut: int | None, reason: str) -> None:
        super().render(run, cut, reason)
        step = run.step
        if isinstance(step, Reason) and step.thinking:
            self.add_thinking(run, step.thinking)
        if isinstance(step, McpCall):
            self.as_mcp_call(run, step.server_label)
        if isinstance(step, OutOfBand):
            self.out_of_band(run, step.metadata)

    def usage(self, run: synth.Run) -> dict:
        usage = super().usage(run)
        images = getattr(run, "image_in", 0)
        if images:
            usage["input_tokens"] += images
            usage["total_tokens"] += images
            usage["input_token_details"]["image_tokens"] = images
            usage["input_token_details"]["cached_tokens_details"]["image_tokens"] = 0
        return usage

    # the rewrites of a rendered response ----------------------------------------------------
    def _run_frames(self, run: synth.Run) -> list[tuple[int, int, Frame]]:
        mine = {id(frame) for frame in run.frames}
        return [entry for entry in self.frames if id(entry[2]) in mine]

    def add_thinking(self, run: synth.Run, thinking: str) -> None:
        """StepFun: a `thinking` part (index 0) streamed before the speech part, which becomes index 1."""
        out = run.outputs[0]
        entries = self._run_frames(run)
        first_delta = min(ms for ms, _, f in entries if f.event.get("item_id") == out.item_id
                          and f.event["type"].endswith(".delta"))
        opened = next(ms for ms, _, f in entries if f.event["type"] == "response.content_part.added")
        where = {"response_id": run.response_id, "item_id": out.item_id, "output_index": 0, "content_index": 0}
        pieces = synth.split_tokens(thinking)
        step_ms = max(1, (first_delta - opened - 20) // (len(pieces) + 2))
        t = opened
        new = [self.server(t, "response.content_part.added", **where, part={"type": "thinking", "thinking": ""})]
        for piece in pieces:
            t += step_ms
            new.append(self.server(t, "response.thinking.delta", **where, delta=piece))
        new.append(self.server(t + 1, "response.thinking.done", **where, thinking=thinking))
        new.append(self.server(t + 1, "response.content_part.done", **where,
                               part={"type": "thinking", "thinking": thinking}))
        thinking_part = {"type": "thinking", "thinking": thinking}
        for ms, seq, frame in entries:
            event = frame.event
            if event.get("item_id") == out.item_id and "content_index" in event:
                event["content_index"] = 1
            if event["type"] == "response.content_part.added" and event.get("item_id") == out.item_id:
                self.frames.remove((ms, seq, frame))
                self.frames.append((t + 2, seq, frame))
            for item in ([event["item"]] if "item" in event else []) + (event.get("response") or {}).get("output", []):
                if item.get("id") == out.item_id and item.get("content"):
                    item["content"] = [thinking_part, *item["content"]]
        run.frames.extend(new)

    def as_mcp_call(self, run: synth.Run, label: str) -> None:
        """The function_call output of an McpCall becomes an `mcp_call` item with its argument events."""
        out = next(o for o in run.outputs if o.kind == "function_call")
        self.last_call = None

        def mcp_item(item: dict) -> dict:
            return {"id": item["id"], "type": "mcp_call", "server_label": label, "name": out.call.name,
                    "arguments": item.get("arguments", ""), "approval_request_id": None, "output": None,
                    "error": None}

        for _, _, frame in self._run_frames(run):
            event = frame.event
            if event["type"] == "response.function_call_arguments.delta":
                event["type"] = "response.mcp_call_arguments.delta"
                del event["call_id"]
            elif event["type"] == "response.function_call_arguments.done":
                event.update(type="response.mcp_call_arguments.done")
                del event["call_id"], event["name"]
            if event.get("item", {}).get("id") == out.item_id:
                event["item"] = mcp_item(event["item"])
            if event.get("response", {}).get("output"):
                event["response"]["output"] = [mcp_item(i) if i["id"] == out.item_id else i
                                               for i in event["response"]["output"]]

    def request_approval(self) -> None:
        """After the response: the `mcp_approval_request` item the client must answer."""
        run = self.last_run
        out = next(o for o in run.outputs if o.kind == "function_call")
        self.pending_approval = self.new_id("mcpr_")
        item = {"id": self.pending_approval, "type": "mcp_approval_request", "server_label": run.step.server_label,
                "name": out.call.name, "arguments": out.arguments}
        self.add_item(run.done_ms + self.jitter(30, 60), item, (synth.text_tokens(out.arguments), 0))

    def out_of_band(self, run: synth.Run, metadata: dict) -> None:
        """`conversation: "none"`: nothing joins the conversation; the response says so and carries `metadata`."""
        ids = {o.item_id for o in run.outputs}
        for entry in self._run_frames(run):
            event = entry[2].event
            if event["type"] == "conversation.item.created" and event["item"]["id"] in ids:
                self.frames.remove(entry)
            if "response" in event:
                event["response"].update(conversation_id=None, metadata=metadata)
        self.items = [i for i in self.items if i not in ids]

    # the new client steps ----------------------------------------------------------------
    def truncate_context(self) -> None:
        """Drop the oldest items (from the model's view) when the retention_ratio budget is exceeded."""
        rule = self.session.get("truncation")
        if not isinstance(rule, dict) or rule.get("type") != "retention_ratio":
            return
        limit = (rule.get("token_limits") or {}).get("post_instructions")
        if not limit:
            return
        counted = [i for i in self.items if sum(self.item_tokens[i]) + self.image_tokens.get(i, 0)]
        total = sum(sum(self.item_tokens[i]) + self.image_tokens.get(i, 0) for i in counted)
        if total <= limit:
            return
        while counted and total > limit * rule["retention_ratio"]:
            dropped = counted.pop(0)
            total -= sum(self.item_tokens[dropped]) + self.image_tokens.pop(dropped, 0)
            self.item_tokens[dropped] = (0, 0)
        self.last_input = 0

    def say_with_image(self, step: SayWithImage) -> None:
        png = (synth.MEDIA_DIR / step.image).read_bytes()
        url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        content = [{"type": "input_text", "text": step.text},
                   {"type": "input_image", "image_url": url, "detail": step.detail}]
        t = self.client(self.next_client_ms(), events.item_create({"type": "message", "role": "user",
                                                                   "content": content}))
        item = self.message("user", content)
        self.add_item(t + self.jitter(60, 120), item, (synth.text_tokens(step.text), 0))
        self.image_tokens[item["id"]] = image_tokens(png, step.detail)

    def condense(self, step: Condense) -> None:
        t = self.next_client_ms()
        for item_id in self.items[:step.delete_first]:
            t = self.client(t, events.item_delete(item_id))
            self.server(t + self.jitter(20, 40), "conversation.item.deleted", item_id=item_id)
            t += self.jitter(5, 15)
        del self.items[:step.delete_first]
        event = events.assistant_text(step.summary, "beta", previous_item_id="root")
        t = self.client(self.now + self.jitter(30, 60), event)
        item = self.message("assistant", [{"type": "text", "text": step.summary}])
        self.items.insert(0, item["id"])
        self.item_tokens[item["id"]] = (synth.text_tokens(step.summary), 0)
        self.server(t + self.jitter(40, 90), "conversation.item.created", previous_item_id=None, item=item)

    def approve(self, step: Approve) -> None:
        if self.pending_approval is None:
            raise ValueError(f"{self.scenario.name}: Approve without a pending MCP approval request")
        item = {"type": "mcp_approval_response", "approval_request_id": self.pending_approval,
                "approve": step.approve}
        t = self.client(self.next_client_ms(), events.item_create(item))
        self.add_item(t + self.jitter(40, 90), {"id": self.new_id("item_"), **item}, (1, 0))
        self.pending_approval = None

    # the whole session ---------------------------------------------------------------------
    def actions(self) -> dict:
        return {**super().actions(), Reason: self.respond, OutOfBand: self.respond, McpCall: self.respond,
                SayWithImage: self.say_with_image, Condense: self.condense, Approve: self.approve}

    def run(self) -> Cassette:
        return self.transcription_run() if self.scenario.kind == "transcription" else super().run()

    def ordered_frames(self) -> list[Frame]:
        frames = super().ordered_frames()
        return to_ga(frames) if self.scenario.provider == "openai" and self.scenario.kind == "realtime" else frames

    def transcription_run(self) -> Cassette:
        """A transcription session: the client streams each clip in real time and commits it."""
        self.frames = []                       # no conversation session.created: the transcription one
        ids: dict[str, int] = {}

        def new_id(prefix: str) -> str:
            ids[prefix] = ids.get(prefix, 0) + 1
            return synth.stable_id(prefix, self.scenario.name, prefix, ids[prefix])

        def answer(replies: list[tuple[int, dict]]) -> None:
            for due, event in replies:
                self.add(due, Frame(due / 1000, "server", {"event_id": new_id("event_"), **event}))

        captions = [s for s in self.scenario.steps if isinstance(s, Caption)]
        live = TranscriptionSession([synth.spoken_words(c.wav) for c in captions], new_id, self.session["expires_at"])
        answer(live.created())
        t = 0
        for step in self.scenario.steps:
            t += self.jitter(250, 600)
            if isinstance(step, Caption):
                pcm = synth.user_audio(step.wav)
                chunk = synth.RATE * 2 * step.chunk_ms // 1000
                for offset in range(0, len(pcm), chunk):
                    t += step.send_every_ms
                    append = events.input_audio_append(pcm[offset:offset + chunk])
                    self.client(t, append)
                    live.handle(append, t)
                t += 3
                event = events.input_audio_commit()
            else:
                event = events.session_update(step.session)
            self.client(t, event)
            answer(live.handle(event, t + self.jitter(20, 60)))
        self.add(self.now + 500, Frame(0, "server", close={"code": 1000, "reason": ""}))
        return Cassette(self.metadata(), self.ordered_frames())

    def metadata(self) -> dict:
        meta = super().metadata()
        scenario = self.scenario
        ga = scenario.provider == "openai"
        meta.update(provider=scenario.provider, dialect="ga" if ga else "beta", model=scenario.model)
        service = "OpenAI" if ga else "StepFun"
        meta["provenance"].update(tool="tools/synthesize_cassettes.py (tools/synthesize_2026.py)",
                                  note=f"made locally by a script; not a recording of the {service} service",
                                  rerecord=f"helpers.connect(provider='{scenario.provider}', model='{scenario.model}', "
                                           f"record='media/cassettes/{scenario.name}.jsonl') and run notebook "
                                           f"{scenario.notebook}")
        if scenario.kind == "transcription":
            meta["provenance"]["speech"] = "none (user audio from media/)"
            meta["intent"] = "transcription"
        return meta


def to_ga(frames: list[Frame]) -> list[Frame]:
    """The frames of a flat-script recording in the GA dialect (server events and client payloads)."""
    server = [(k, f) for k, f in enumerate(frames) if f.source == "server" and f.event is not None]
    converted = convert_run([f.event for _, f in server], "ga")
    out: list[Frame] = []
    extra: dict[int, list[dict]] = {}
    for index, event in converted:
        extra.setdefault(server[index][0], []).append(event)
    for k, frame in enumerate(frames):
        if frame.source == "server" and frame.event is not None:
            out.extend(Frame(frame.t, "server", event) for event in extra.get(k, []))
        elif frame.event is not None:
            out.append(Frame(frame.t, "client", _client_to_ga(frame.event)))
        else:
            out.append(frame)
    return out


def _client_to_ga(event: dict) -> dict:
    if event["type"] == "session.update":
        return {**event, "session": convert_session(event["session"], "ga")}
    if event["type"] == "conversation.item.create":
        return {**event, "item": convert_item(event["item"], "ga")}
    if event["type"] == "response.create" and event.get("response"):
        return {**event, "response": convert_response(event["response"], "ga")}
    return event


def make_sales_chart(path: Path) -> None:
    """media/sales_chart.png: the bar chart lesson 16 shows the model (run once; the PNG is committed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.bar(["Jan", "Feb", "Mar", "Apr"], [40, 55, 82, 61], color="#4477aa")
    ax.set_title("Sales by month")
    ax.set_ylabel("units")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    path.write_bytes(buffer.getvalue())


def synthesize_2026(scenario: Scenario2026) -> Cassette:
    """The cassette of one 2026 scenario."""
    return Recording2026(scenario).run()

