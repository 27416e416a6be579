"""Stateful fuzzing of the transport-free core, the way Telegram drives it.

A hypothesis `RuleBasedStateMachine` plays five users at once against the real
ConversationService (its effects wired to the plan's effects), PlanService and
Scheduler, on a real SQLite file, with an injected clock. Users send commands, type anything
(Unicode, emoji, control characters, right-to-left marks, up to 5,000
characters) or realistic answers, press the buttons they were shown, press
stale and forged buttons, choose several options at once, send stickers,
answer reminders and check-ins, list and manage reminders, and time jumps
ahead so the scheduler fires. Telegram redelivers updates now and then.

The properties, checked after every input:
- no exception escapes the core, whatever the input;
- the stored conversation is valid: its flow exists, its state belongs to that
  flow and asks a question (or is the result), the step never decreases,
  pending choices belong to the current question, a question of the check
  always has an open check to store its answers under, and handle() reports
  the state it stored;
- every reply fits Telegram once rendered by the Telegram front (1-4,096
  characters per part, bold tags and entities never cut, button data 1-64
  bytes, non-empty labels, at most 100 buttons), and the outbox holds exactly
  the replies of the step;
- bad input changes nothing: stale and forged buttons (conversation and plan),
  text that gets a hint, a sticker, a redelivered update; /help and /routine
  change nothing; a long message only ever keeps the question or shows a result;
- the plan is the one truth (over random histories of checks, check-ins, hurt
  reports, buttons and commands): no message ever offers an exercise the
  person's current plan excludes (ball release after a contraindication, an
  ease or a pause; any exercise at all while the plan is paused for review),
  and an ease-off message is only ever sent with a new "eased" plan event;
- at the end: SQLite's integrity and foreign-key checks pass, and no check is
  left in progress that no conversation continues.

Each machine owns a private event loop, one database file and one clock, and
closes them in `teardown` (the machine is synchronous; aiosqlite hangs unless
the database is closed). The default runs 100 fixed (derandomized) examples of
up to 100 steps and tops up with fixed-seed rounds until 10,000 rules have run.
Environment: PSOASBOT_FUZZ_EXAMPLES / PSOASBOT_FUZZ_STEPS raise the size,
PSOASBOT_FUZZ_RANDOM=1 draws new random examples, PSOASBOT_FUZZ_SHRINK=1 shrinks
a failure to a minimal example (slow), PSOASBOT_FUZZ_STRICT=1 fails on the
known bugs listed below instead of counting them.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bot.adapters.telegram.front import _conversation_for
from bot.adapters.telegram.render import html_text, split_message
from bot.core.engine import _BUTTON_DATA, MAIN_FLOW, Snapshot
from bot.core.events import (
    Back,
    Cancel,
    ChangeTimezone,
    Event,
    Help,
    NewCheck,
    Press,
    Select,
    ShowRoutine,
    Start,
    Text,
    Unsupported,
)
from bot.core.plan.buttons import is_plan_button
from bot.core.plan.effects import PlanEffects
from bot.core.plan.model import Plan, PlanState
from bot.core.plan.scheduler import Scheduler
from bot.core.plan.service import PlanHandled, PlanService
from bot.core.replies import Reply, ReplyKind, reply_from_dict
from bot.core.service import ConversationService, Handled
from bot.storage.sqlite import SqliteStorage as Database
from tests.support import FakeClock
from tests.support import reminders_core as core

T = TypeVar("T")

CHANNEL = "telegram"
USERS = ("1001", "1002", "1003", "1004", "1005")
START_TIME = datetime(2026, 3, 26, 6, 0, tzinfo=UTC)  # a Thursday; Europe and the US change clocks soon after

EXAMPLES = int(os.environ.get("PSOASBOT_FUZZ_EXAMPLES", "100"))
STEPS = int(os.environ.get("PSOASBOT_FUZZ_STEPS", "100"))
RANDOM = os.environ.get("PSOASBOT_FUZZ_RANDOM", "") not in ("", "0")
# Shrinking a failing run of this machine can take hypothesis's full five minutes; CI reports the
# failing example as found (it is reproducible: the examples are fixed) and PSOASBOT_FUZZ_SHRINK=1
# asks for the shortest one.
SHRINK = os.environ.get("PSOASBOT_FUZZ_SHRINK", "") not in ("", "0")
MIN_RULE_EXECUTIONS = 10_000

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_DATA_BYTES = 64
TELEGRAM_MAX_BUTTONS = 100
LONG_TEXT = 1000  # the engine reads no answer from longer messages (engine.LONG_TEXT)
# Known bugs in bot/, reported rather than fixed here. The fuzz stays green by default and
# counts each time it meets one (printed at the end); PSOASBOT_FUZZ_STRICT=1 makes them fail.
STRICT = os.environ.get("PSOASBOT_FUZZ_STRICT", "1") not in ("", "0")  # the known bugs are fixed
# 1. The engine acts on `<current step>:rem` and `<current step>:new` whatever the current keyboard
#    offered: forged data opens the reminder set-up mid-check (or after an EMERGENCY result) and
#    restarts checks. Such presses are left out of "a forged button changes nothing".
UNOFFERED_BUT_ACCEPTED = frozenset({"rem", "new"})
# 2. A reminder nobody answered stays as a session with outcome 'sent'; completing any later
#    check-in builds SessionRecord('sent') in PlanService._decide, which raises ValueError, so
#    the check-in can never be completed (the transaction rolls back every time).
SENT_SESSION_BUG = "SessionRecord.outcome must be one of"
# 3. Typed digits that str.isdigit() accepts but int() does not ("²", "³", "①") crash
#    ConversationEngine._parse_single_choice with ValueError at single-choice questions without a
#    parser (sitting, activity): the exception escapes ConversationService.handle.
DIGIT_BUG = "invalid literal for int()"


def is_digit_bug(text: str, error: ValueError) -> bool:
    stripped = text[:6000].strip()
    return DIGIT_BUG in str(error) and stripped.isdigit() and not stripped.isdecimal()


RULES_RUN: Counter[str] = Counter()
"""Rule executions by rule name, over the whole test run."""
RULE_SECONDS: Counter[str] = Counter()
EXAMPLE_LENGTHS: list[int] = []
LONGEST = [0]
SEEN: Counter[str] = Counter()
"""What the run reached (results, reminders sent, plan buttons accepted, ...), for the coverage check."""


# ------------------------------------------------------------------ strategies

REALISTIC = (
    "yes",
    "no",
    "6/10",
    "about 3 weeks",
    "lower back and groin",
    "Berlin",
    "18:45",
    "I can't pee",
    "no fever",
    "it's numb when I wipe",
    "front of my hip",
    "nowhere",
    "7 days",
    "34",
    "4",
    "0",
    "10",
    "11",
    "-1",
    "1",
    "2",
    "1,3",
    "skip",
    "Skip",
    "back",
    "/start",
    "none",
    "I have a fever",
    "throbbing in my belly",
    "numbness in one leg",
    "my bladder is fine",
    "New York",
    "UTC+5:30",
    "utc -12",
    "GMT+14",
    "Etc/GMT+5",
    "America/Argentina/Buenos_Aires",
    "../../etc/passwd",
    "6pm",
    "noon",
    "23:30",
    "07:00",
    "0730",
    "25:99",
    "１０",
    "٣",
    "²",
    "③",
    "about 999999999999999999999 weeks",
    "1e309",
    "NaN",
    "<b>bold</b> & <i>stuff</i> &amp;",
    "\u202eyes",
    "yes\u200f",
    "\u200b",
    "\x00",
    "\n\n\n",
    "   ",
    "🙂👍🏽",
    "ja",
    "لا",
    "नहीं",
)
CONTROL_AND_DIRECTION = (
    "\x00\x07\x1b\r\n\t\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)

short_text = st.text(max_size=60)
odd_text = st.text(alphabet=st.sampled_from(CONTROL_AND_DIRECTION) | st.characters(), min_size=1, max_size=40)
realistic = st.sampled_from(REALISTIC)
# Long messages are built by repetition so one draw does not use up hypothesis's
# per-example budget; this still reaches 5,000 characters.
long_text = st.builds(
    lambda piece, times, tail: (piece * times)[: 5000 - len(tail)] + tail,
    st.text(min_size=1, max_size=12) | realistic,
    st.integers(1, 5000),
    st.just("") | realistic,
)
mixed_text = st.builds(lambda a, b, c: f"{a} {b} {c}", realistic, short_text, realistic)
any_text = st.one_of(realistic, short_text, odd_text, mixed_text, long_text)

NEAR_MISSES = (
    "9999:o1",
    "1:zz",
    ":",
    "r:1:d",
    "c:999:n5",
    "m:1:x",
    "",
    "0:y",
    "-1:y",
    "1:Y",
    " 1:y",
    "1:y ",
    "1 :y",
    "1:y:y",
    "1:o",
    "1:o1000",
    "1:t-1",
    "1:v",
    "1:v-1",
    "999999999:y",
    "9999999999:y",
    "0000000001:y",
    "1:ok\x00",
    "r:0:d",
    "r:1:",
    "r:1:dd",
    "r:99999999999999:d",
    "h:1:a99",
    "h:1:p11",
    "c:1:t99",
    "c:1:n11",
    "c:1:w",
    "c:1:k",
    "m:1:t",
    "m:0:p",
    "forget:1",
    "x" * 64,
    "é" * 33,
)
forged_data = st.one_of(
    st.sampled_from(NEAR_MISSES),
    st.text(max_size=100),
    st.binary(max_size=100).map(lambda raw: raw.decode("latin-1")),
    st.from_regex(r"\A[0-9]{1,3}:[a-z]{1,3}[0-9]{0,3}\Z"),
    st.from_regex(r"\A[rhcm]:[0-9]{1,3}:[a-z]{1,2}[0-9]{0,2}\Z"),
)
TOKENS = (
    "y",
    "n",
    "ok",
    "none",
    "skip",
    "back",
    "new",
    "routine",
    "rem",
    "review",
    "steps",
    "zz",
    *(f"{kind}{index}" for kind in "vot" for index in (0, 1, 2, 3, 6, 7, 10, 11, 99, 999)),
    *(f"{kind}{index}" for kind in ("up", "dn") for index in (0, 1, 2, 9)),
)
ALWAYS_OFFERED = ("review", "steps", "up", "dn")
"""Tokens /routine offers at any step (how to do each exercise, the next step or an easier one,
restarting a paused plan): a press of one at the current step is a real press."""
UNSUPPORTED_KINDS = (
    "sticker",
    "photo",
    "voice",
    "video",
    "document",
    "audio",
    "location",
    "contact",
    "other",
)
COMMANDS: tuple[Event, ...] = (Start(), NewCheck(), Cancel(), Help(), ShowRoutine(), Back(), ChangeTimezone())
ZONES = ("Berlin", "London", "New York", "Kolkata", "Sydney", "UTC", "UTC+5:45", "Lord Howe", "Chatham")
TIMES = ("07:30", "18:45", "6pm", "21:59", "0730", "12:30", "noon")


# ------------------------------------------------------------------ checks


def button_step_and_token(data: str) -> tuple[int, str] | None:
    """How the engine reads button data (None: it is malformed)."""
    match = _BUTTON_DATA.match(data)
    return (int(match.group(1)), match.group(2)) if match else None


def check_reply(reply: Reply) -> None:
    """The reply is one Telegram accepts once rendered as the Telegram front renders it."""
    rendered = html_text(reply)
    LONGEST[0] = max(LONGEST[0], len(rendered))
    parts = split_message(rendered)
    assert parts, f"no message parts for {reply!r}"
    for part in parts:
        assert 1 <= len(part) <= TELEGRAM_TEXT_LIMIT, f"part of {len(part)} characters in {reply.text[:80]!r}"
        assert part.count("<b>") == part.count("</b>"), f"bold tag cut in two: {part[:80]!r}"
        assert not re.search(r"&(?!amp;|lt;|gt;)", part), f"broken HTML entity in {part[:80]!r}"
    buttons = reply.all_buttons
    assert len(buttons) <= TELEGRAM_MAX_BUTTONS, f"{len(buttons)} buttons"
    for button in (*buttons, *reply.choices):
        size = len(button.data.encode("utf-8"))
        assert 1 <= size <= TELEGRAM_DATA_BYTES, f"button data {button.data!r} is {size} bytes"
        assert button.label.strip(), f"empty label on {button.data!r}"


def offered_now(snapshot: Snapshot) -> set[tuple[int, str]]:
    """(step, token) of every button the current question has, whether or not the user saw it.

    The step is the engine's only way to tell a current press from an old one, so a press
    that names the current step and one of these tokens is a real answer.
    """
    c = core()
    flow = c.flows.get(snapshot.flow)
    question_id = flow.question_of(snapshot.state) if flow and snapshot.state else None
    if question_id is None:
        return set()
    reply = c.engine.present.question(
        c.content.questions[question_id],
        snapshot.step,
        selected=snapshot.pending,
        can_go_back=bool(snapshot.history),
    )
    parsed = (button_step_and_token(button.data) for button in reply.all_buttons)
    return {item for item in parsed if item is not None}


CONVERSATION_SQL = (
    "SELECT u.external_id, c.state, c.step, c.history, c.pending, c.check_id, c.result, c.flow, c.context, "
    "u.timezone, k.status FROM users u LEFT JOIN conversations c ON c.user_id = u.id "
    "LEFT JOIN checks k ON k.id = c.check_id WHERE u.channel = ?"
)
# What a user with no conversation row yet is, in the columns' stored form.
NO_CONVERSATION = (None, 0, "[]", "[]", None, None, MAIN_FLOW, "{}")


def conversation_row(row: Any) -> tuple[Any, ...]:
    """(state, step, history, pending, check_id, result, flow, context, timezone, check status) as stored."""
    if row is None:
        return (*NO_CONVERSATION, None, None)
    if row[2] is None:  # the user exists, the conversation row does not
        return (*NO_CONVERSATION, row[9], None)
    return tuple(row[1:])


@dataclass(frozen=True)
class Stored:
    """One user's conversation exactly as stored: the row, the open check's answers, the checks."""

    row: tuple[Any, ...]
    answers: tuple[Any, ...]
    checks: tuple[Any, ...]

    def snapshot(self) -> Snapshot:
        state, step, history, pending, check_id, result, flow, context, _timezone, _status = self.row
        return Snapshot(
            state=state,
            step=int(step),
            history=tuple(json.loads(history)),
            answers={key: json.loads(value) for key, value in self.answers},
            pending=tuple(json.loads(pending)),
            check_id=check_id,
            result=json.loads(result) if result else None,
            flow=flow,
            context=json.loads(context) if context else {},
        )


def check_snapshot(snapshot: Snapshot, check_status: str | None) -> None:
    """The stored conversation is one the engine can always continue from."""
    c = core()
    assert snapshot.flow in c.flows, f"unknown flow {snapshot.flow!r}"
    flow = c.flows[snapshot.flow]
    if snapshot.state is None:
        assert not snapshot.pending, f"pending {snapshot.pending} with no question"
        assert not snapshot.history, f"history {snapshot.history} with no question"
        assert snapshot.flow == MAIN_FLOW, "the set-up flow without a state"
        return
    assert snapshot.state in flow.states, f"state {snapshot.state!r} not in flow {flow.name}"
    question_id = flow.question_of(snapshot.state)
    if snapshot.flow == MAIN_FLOW:
        assert question_id is not None or snapshot.state == c.engine.result_state, (
            f"stuck in {snapshot.state!r}, which asks nothing"
        )
    else:
        assert question_id is not None, f"set-up flow stored in final state {snapshot.state!r}"
    for earlier in snapshot.history:
        assert earlier in flow.states and flow.question_of(earlier), f"history has {earlier!r}"
    if snapshot.pending:
        assert question_id is not None
        question = c.content.questions[question_id]
        assert question.type == "multi_choice", f"pending {snapshot.pending} on {question.id}"
        option_ids = [option.id for option in question.options]
        assert set(snapshot.pending) <= set(option_ids), f"pending {snapshot.pending} not in {option_ids}"
        assert len(set(snapshot.pending)) == len(snapshot.pending), f"pending repeats {snapshot.pending}"
    if snapshot.flow == MAIN_FLOW and question_id is not None:
        # Answers are stored under the check: a question with no open check would lose them.
        assert snapshot.check_id is not None and check_status == "in_progress", (
            f"question {question_id!r} asked with check {snapshot.check_id} ({check_status})"
        )


# ------------------------------------------------------------------ the machine


@dataclass
class UserModel:
    external_id: str
    step: int = 0
    last_replies: list[Reply] = field(default_factory=list)
    """The replies of the latest input that had any: the buttons the user sees now."""
    seen: dict[str, tuple[int, str] | None] = field(default_factory=dict)
    """Conversation button data shown to the user, oldest first (bounded), and how the engine reads it."""
    plan_messages: list[list[str]] = field(default_factory=list)
    """Plan button data of the latest messages that carried any (reminders, check-ins, lists)."""
    last_update: tuple[str, Event] | None = None
    has_plan: bool = False

    def remember(self, replies: Iterable[Reply]) -> None:
        for reply in replies:
            for button in (*reply.all_buttons, *reply.choices):
                if is_plan_button(button.data):
                    continue
                self.seen.pop(button.data, None)
                self.seen[button.data] = button_step_and_token(button.data)
        while len(self.seen) > 200:
            del self.seen[next(iter(self.seen))]

    def live(self, step: int) -> set[tuple[int, str]]:
        """(step, token) of every button shown at `step` (the current one): pressing one is a real press."""
        return {item for item in self.seen.values() if item is not None and item[0] == step}

    def stale(self) -> list[str]:
        """Data of buttons shown at an earlier step."""
        return [data for data, item in self.seen.items() if item is not None and item[0] < self.step]

    def live_buttons(self) -> list[str]:
        """Conversation buttons of the last replies; plan buttons go through `press_plan_button`."""
        return [
            button.data
            for reply in self.last_replies
            for button in reply.all_buttons
            if not is_plan_button(button.data)
        ]

    def question(self) -> Reply | None:
        questions = [reply for reply in self.last_replies if reply.kind is ReplyKind.QUESTION]
        return questions[-1] if questions else None


def counted(function: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(function)
    def wrapper(self: ConversationFuzz, **kwargs: Any) -> None:
        RULES_RUN[function.__name__] += 1
        self.rules_run += 1
        started = time.perf_counter()
        try:
            function(self, **kwargs)
        finally:
            RULE_SECONDS[function.__name__] += time.perf_counter() - started

    return wrapper


class ConversationFuzz(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.core = core()
        self.messages = self.core.content.messages
        self.loop = asyncio.new_event_loop()
        self.directory = tempfile.mkdtemp(prefix="psoasbot-fuzz-")
        self.database: Database | None = None
        try:
            self.database = self.run(Database(Path(self.directory) / "fuzz.db").open())
        except BaseException:
            self.loop.close()
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self.clock = FakeClock(START_TIME)
        self.plan = PlanService(self.core.content, self.database, self.core.plan_rules, self.clock)
        self.scheduler = Scheduler(self.core.content, self.database, self.clock)
        effects = PlanEffects(self.core.content, self.clock)
        self.chat = ConversationService(
            self.core.engine, self.database, effects=effects.apply, clock=self.clock
        )
        self.eases_seen: Counter[str] = Counter()
        self.ease_title = self.messages.text("plan.decision.ease_title")
        self.exercise_names = {
            exercise_id: self.messages.text(f"exercise.{exercise_id}.name")
            for exercise_id in self.core.content.exercises
        }
        self.users = {external_id: UserModel(external_id) for external_id in USERS}
        self.touched: set[str] = set()
        self.rules_run = 0
        self.outbox_seen = 0
        self.updates = 0
        self.stale_note = self.messages.text("bot.stale_button")
        self.unsupported_note = self.messages.text("bot.unsupported_input")
        self.gone_note = self.messages.text("plan.reminder_gone")
        self.saved_note = self.messages.text("reminders.saved").split("{")[0]

    def teardown(self) -> None:
        EXAMPLE_LENGTHS.append(self.rules_run)
        try:
            if self.database is not None:
                self.run(self._final_checks())
        finally:
            try:
                if self.database is not None:
                    self.run(self.database.close())
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()
                shutil.rmtree(self.directory, ignore_errors=True)

    async def _final_checks(self) -> None:
        assert self.database is not None
        await self._validate(USERS)
        integrity = [row[0] for row in await self.query("PRAGMA integrity_check")]
        orphans = await self.query("PRAGMA foreign_key_check")
        forgotten = await self.query(
            "SELECT k.id, k.user_id, c.check_id FROM checks k LEFT JOIN conversations c "
            "ON c.user_id = k.user_id WHERE k.status = 'in_progress' AND c.check_id IS NOT k.id"
        )
        # A check left in progress that the conversation no longer points to would stay open forever.
        assert list(forgotten) == [], f"checks in progress that no conversation continues: {forgotten}"
        assert integrity == ["ok"], integrity
        assert orphans == [], orphans

    # ------------------------------------------------------------ plumbing

    def run(self, awaitable: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(awaitable)

    async def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """A read of the raw tables (this fuzz runs on SQLite)."""
        assert self.database is not None
        return await self.database.read(lambda tx: tx.raw.execute(sql, params).fetchall())

    def snapshot(self, external_id: str) -> Snapshot:
        """The stored conversation without the answers (one query)."""
        return self.run(self._snapshot(external_id))

    async def _snapshot(self, external_id: str) -> Snapshot:
        assert self.database is not None
        rows = await self.query(CONVERSATION_SQL + " AND u.external_id = ?", CHANNEL, external_id)
        return Stored(conversation_row(next(iter(rows), None)), (), ()).snapshot()

    def stored(self, external_id: str) -> Stored:
        return self.run(self._stored(external_id))

    async def _stored(self, external_id: str) -> Stored:
        """The user's conversation as stored, read straight from the tables."""
        assert self.database is not None
        rows = await self.query(CONVERSATION_SQL + " AND u.external_id = ?", CHANNEL, external_id)
        answers = await self.query(
            "SELECT a.key, a.value FROM answers a JOIN conversations c ON c.check_id = a.check_id "
            "JOIN users u ON u.id = c.user_id WHERE u.channel = ? AND u.external_id = ? ORDER BY a.key",
            CHANNEL,
            external_id,
        )
        checks = await self.query(
            "SELECT k.id, k.status FROM checks k JOIN users u ON u.id = k.user_id "
            "WHERE u.channel = ? AND u.external_id = ? ORDER BY k.id",
            CHANNEL,
            external_id,
        )
        row = next(iter(rows), None)
        return Stored(conversation_row(row), tuple(answers), tuple(checks))

    async def _validate(self, external_ids: Iterable[str]) -> dict[str, Snapshot]:
        """Check the stored conversations of these users; returns them (without answers)."""
        assert self.database is not None
        wanted = set(external_ids)
        found: dict[str, Snapshot] = {}
        rows = await self.query(CONVERSATION_SQL, CHANNEL)
        for row in rows:
            external_id = row[0]
            assert external_id in self.users, f"a user nobody played: {external_id!r}"
            if external_id not in wanted:
                continue
            stored = conversation_row(row)
            snapshot = Stored(stored, (), ()).snapshot()
            model = self.users[external_id]
            assert snapshot.step >= model.step, (
                f"user {external_id}: step went from {model.step} to {snapshot.step}"
            )
            check_snapshot(snapshot, stored[-1])
            model.step = snapshot.step
            found[external_id] = snapshot
            SEEN[f"state:{snapshot.flow}:{snapshot.state}"] += 1
        return found

    def converse(self, external_id: str, event: Event) -> Handled:
        """One update through the conversation service, as the Telegram front sends it."""
        self.updates += 1
        key = f"update:{self.updates}"
        handled = self.run(
            self.chat.handle(
                CHANNEL, external_id, event, inbox_key=key, outbox_context={"pressed_message_id": None}
            )
        )
        assert not handled.duplicate
        model = self.users[external_id]
        model.last_update = (key, event)
        for reply in handled.replies:
            SEEN[f"reply:{reply.kind.value}"] += 1
        if handled.replies:
            model.last_replies = list(handled.replies)
            model.remember(handled.replies)
            if any(reply.text.startswith(self.saved_note) for reply in handled.replies):
                model.has_plan = True
                SEEN["reminders set"] += 1
            if any(reply.kind in (ReplyKind.RESULT, ReplyKind.ESCALATION) for reply in handled.replies):
                SEEN["result shown"] += 1
        if handled.rejected:
            SEEN["rejected"] += 1
        rows, stored = self.run(self._after_input(external_id))
        written = [reply for user, reply in self.collect_outbox(rows) if user == external_id]
        assert written == handled.replies, "the outbox does not hold exactly the replies of the step"
        assert handled.state == stored.state, f"handle() said {handled.state!r}, stored {stored.state!r}"
        return handled

    async def _after_input(self, external_id: str) -> tuple[list[tuple[int, str, str]], Snapshot]:
        return await self._new_outbox(), (await self._validate([external_id]))[external_id]

    def press_plan(
        self, external_id: str, data: str, message_id: int | None
    ) -> tuple[PlanHandled, list[tuple[str, Reply]]]:
        """A plan button through the plan service, as the Telegram front routes it."""
        try:
            handled = self.run(self.plan.press(CHANNEL, external_id, data, message_id))
        except ValueError as error:
            if STRICT or SENT_SESSION_BUG not in str(error):
                raise
            SEEN["known bug: check-in crashed on an unanswered reminder"] += 1
            return PlanHandled(None, rejected="known bug"), self.collect_outbox()
        if handled.rejected is None and handled.user_id is not None:
            SEEN["plan press accepted"] += 1
        new = self.collect_outbox()
        follow_up = _conversation_for(handled)
        if follow_up is not None:
            self.converse(external_id, follow_up)
        return handled, new

    def collect_outbox(self, rows: list[tuple[int, str, str]] | None = None) -> list[tuple[str, Reply]]:
        """Check every new outbox message and note the buttons it gave each user."""
        if rows is None:
            rows = self.run(self._new_outbox())
        found = []
        plans = self.run(self._plans()) if rows else {}
        for row_id, external_id, payload in rows:
            self.outbox_seen = max(self.outbox_seen, row_id)
            reply = reply_from_dict(json.loads(payload))
            check_reply(reply)
            self.check_against_plan(external_id, reply, plans.get(external_id))
            model = self.users.get(external_id)
            if model is None:
                continue
            model.remember([reply])
            plan_data = [button.data for button in reply.all_buttons if is_plan_button(button.data)]
            if plan_data:
                model.plan_messages = [*model.plan_messages[-7:], plan_data]
            found.append((external_id, reply))
        return found

    async def _new_outbox(self) -> list[tuple[int, str, str]]:
        assert self.database is not None
        rows = await self.query(
            "SELECT o.id, u.external_id, o.payload FROM outbox o JOIN users u ON u.id = o.user_id "
            "WHERE o.id > ? ORDER BY o.id",
            self.outbox_seen,
        )
        return [(row[0], row[1], row[2]) for row in rows]

    async def _plans(self) -> dict[str, tuple[Plan | None, int]]:
        """Each user's plan as stored now, and how many times it has eased."""
        assert self.database is not None

        def read(tx: Any) -> dict[str, tuple[Plan | None, int]]:
            found: dict[str, tuple[Plan | None, int]] = {}
            for external_id in USERS:
                user_id = tx.users.find(CHANNEL, external_id)
                if user_id is None:
                    continue
                eased = sum(1 for event in tx.plans.events(user_id) if event.event == "eased")
                found[external_id] = (tx.plans.get(user_id), eased)
            return found

        return await self.database.read(read)

    def check_against_plan(
        self, external_id: str, reply: Reply, stored: tuple[Plan | None, int] | None
    ) -> None:
        """No message offers what the person's plan excludes, and an ease-off is never repeated
        without a new ease. Checked on every message, right after the step that wrote it (the
        plan read is the one that step committed)."""
        plan, eases = stored if stored is not None else (None, 0)
        offered = {
            exercise_id
            for exercise_id, name in self.exercise_names.items()
            if re.search(rf"(?m)^\s*\d+\. {re.escape(name)}:", reply.text)
            or any(button.label == name for button in reply.all_buttons)
        }
        if offered:
            SEEN["exercises shown"] += 1
            assert plan is not None and plan.state.offers_exercises, (
                f"exercises {sorted(offered)} shown to {external_id} while the plan is "
                f"{plan.state.value if plan else 'absent'}: {reply.text[:200]!r}"
            )
            for exercise_id in offered:
                clash = self.core.content.exercises[exercise_id].tags & plan.excluded_tags
                assert not clash, (
                    f"{exercise_id} shown though the plan excludes {sorted(clash)}: {reply.text[:200]!r}"
                )
            if plan.ball_withdrawn or not plan.ball_allowed:
                SEEN["exercises shown with ball work withdrawn"] += 1
        if plan is not None and plan.state is PlanState.PAUSED:
            SEEN["messages while paused"] += 1
        if reply.title == self.ease_title:
            self.eases_seen[external_id] += 1
            assert self.eases_seen[external_id] <= eases, (
                f"ease-off message number {self.eases_seen[external_id]} to {external_id} with only {eases} eases"
            )
            SEEN["ease-off shown"] += 1

    async def _plan_rows(self, external_id: str) -> list[Any]:
        """Everything the plan service stores about one user."""
        found: list[Any] = []
        for table in ("reminders", "sessions", "checkins", "plans", "plan_events"):
            rows = await self.query(
                f"SELECT t.* FROM {table} t JOIN users u ON u.id = t.user_id "
                "WHERE u.channel = ? AND u.external_id = ? ORDER BY 1",
                CHANNEL,
                external_id,
            )
            found.append((table, list(rows)))
        return found

    async def _owns(self, external_id: str, data: str) -> bool:
        """Whether the object a plan button names belongs to this user."""
        assert self.database is not None
        match = re.match(r"^([rhcmg]):(\d{1,12}):", data)
        assert match is not None
        if match.group(1) == "m" and match.group(2) == "0":
            return True  # the person's own plan (quiet hours, end the plan, restart after a pause)
        table = {"r": "sessions", "h": "sessions", "c": "checkins", "m": "reminders", "g": "checkins"}[
            match.group(1)
        ]
        rows = await self.query(
            f"SELECT 1 FROM {table} t JOIN users u ON u.id = t.user_id "
            "WHERE t.id = ? AND u.channel = ? AND u.external_id = ?",
            int(match.group(2)),
            CHANNEL,
            external_id,
        )
        return bool(list(rows))

    def assert_unchanged(self, before: Stored, external_id: str, why: str) -> None:
        after = self.stored(external_id)
        assert after == before, f"{why} changed the conversation:\n before {before}\n after  {after}"

    def press_conversation_data(self, external_id: str, data: str, why: str) -> None:
        """A press whose data the user was not shown at the current step: it must change nothing."""
        model = self.users[external_id]
        before = self.stored(external_id)
        current = before.snapshot().step
        parsed = button_step_and_token(data)
        live = parsed is not None and (
            parsed in model.live(current) | offered_now(before.snapshot())
            or (parsed[0] == current and parsed[1].startswith(ALWAYS_OFFERED))
        )
        handled = self.converse(external_id, Press(data))
        if live:
            SEEN[f"{why}: same as a shown button"] += 1
            return
        if parsed is None:
            assert handled.rejected and handled.replies == [], (handled.rejected, handled.replies)
            self.assert_unchanged(before, external_id, f"malformed {why} press {data!r}")
            SEEN[f"{why}: malformed"] += 1
            return
        step, token = parsed
        if step > current:
            assert handled.rejected and handled.replies == [], (handled.rejected, handled.replies)
            SEEN[f"{why}: from the future"] += 1
        elif step < current:
            assert handled.replies and handled.replies[0].text == self.stale_note, handled.replies
            assert handled.rejected is None
            SEEN[f"{why}: stale"] += 1
        elif token in UNOFFERED_BUT_ACCEPTED and not STRICT:
            SEEN[f"{why}: unoffered {token!r} accepted (known)"] += 1
            return
        else:
            SEEN[f"{why}: unoffered at the current step"] += 1
        self.assert_unchanged(before, external_id, f"{why} press {data!r}")

    # ------------------------------------------------------------ rules: the conversation

    @rule(user=st.sampled_from(USERS), command=st.sampled_from(COMMANDS))
    @counted
    def command(self, user: str, command: Event) -> None:
        before = self.stored(user)
        handled = self.converse(user, command)
        assert handled.replies, f"{command} got no reply"
        if isinstance(command, Help | ShowRoutine):
            self.assert_unchanged(before, user, type(command).__name__)

    @rule(user=st.sampled_from(USERS), text=any_text)
    @counted
    def type_text(self, user: str, text: str) -> None:
        stored_before = self.stored(user)
        try:
            handled = self.converse(user, Text(text))
        except ValueError as error:
            if STRICT or not is_digit_bug(text, error):
                raise
            SEEN["known bug: typed superscript digit crashed the step"] += 1
            self.assert_unchanged(stored_before, user, "a step that raised")  # rolled back
            return
        assert handled.replies, "typed text got no reply"
        if any(reply.kind is ReplyKind.HINT for reply in handled.replies):
            # Not understood: a hint and the same question, nothing else.
            self.assert_unchanged(stored_before, user, f"text that got a hint ({text[:60]!r})")
            SEEN["text not understood"] += 1
        if len(text) > LONG_TEXT:
            before, after = stored_before.snapshot(), self.snapshot(user)
            # Read for red flags only; the question is asked again unless a flag ended the check.
            where = (after.flow, after.state, after.pending, after.history)
            if after.state == self.core.engine.result_state and after.step > before.step:
                SEEN["long text escalated"] += 1
            else:
                assert where == (before.flow, before.state, before.pending, before.history), (
                    f"a long message moved the conversation from {before} to {after}"
                )
                SEEN["long text kept the question"] += 1

    @precondition(lambda self: any(model.live_buttons() for model in self.users.values()))
    @rule(data=st.data())
    @counted
    def press_shown_button(self, data: st.DataObject) -> None:
        user = data.draw(st.sampled_from(sorted(u for u, m in self.users.items() if m.live_buttons())))
        button = data.draw(st.sampled_from(self.users[user].live_buttons()))
        handled = self.converse(user, Press(button))
        assert handled.rejected is None, f"a shown button {button!r} was rejected: {handled.rejected}"
        assert not handled.replies or handled.replies[0].text != self.stale_note, f"{button!r} called stale"
        SEEN["shown button pressed"] += 1

    @precondition(lambda self: any(model.stale() for model in self.users.values()))
    @rule(data=st.data())
    @counted
    def press_stale_button(self, data: st.DataObject) -> None:
        user = data.draw(st.sampled_from(sorted(u for u, m in self.users.items() if m.stale())))
        button = data.draw(st.sampled_from(self.users[user].stale()))
        self.press_conversation_data(user, button, "stale")

    @rule(user=st.sampled_from(USERS), forged=forged_data, message_id=st.none() | st.integers(1, 10**6))
    @counted
    def press_forged_button(self, user: str, forged: str, message_id: int | None) -> None:
        if is_plan_button(forged):  # the front routes these to the plan service
            self.forged_plan_press(user, forged, message_id)
        else:
            self.press_conversation_data(user, forged, "forged")

    @rule(user=st.sampled_from(USERS), token=st.sampled_from(TOKENS), offset=st.integers(-2, 2))
    @counted
    def press_near_miss(self, user: str, token: str, offset: int) -> None:
        """Well-formed data near the current step: a token the question may not have offered."""
        step = self.snapshot(user).step + offset
        self.press_conversation_data(user, f"{max(step, 0)}:{token}", "near miss")

    @precondition(lambda self: any(model.question() is not None for model in self.users.values()))
    @rule(data=st.data())
    @counted
    def select_several(self, data: st.DataObject) -> None:
        user = data.draw(
            st.sampled_from(sorted(u for u, m in self.users.items() if m.question() is not None))
        )
        model = self.users[user]
        question = model.question()
        assert question is not None
        shown = [button.data for button in question.choices] or [b.data for b in question.all_buttons]
        chosen = data.draw(st.lists(st.sampled_from(shown), max_size=len(shown) + 1))
        extra = data.draw(st.none() | forged_data | st.sampled_from(sorted(model.seen) or [":"]))
        if extra is not None:
            chosen.insert(data.draw(st.integers(0, len(chosen))), extra)
        before = self.stored(user)
        current = before.snapshot()
        asks = current.state is not None and self.core.flows[current.flow].question_of(current.state)
        handled = self.converse(user, Select(tuple(chosen)))
        parsed = [button_step_and_token(item) for item in chosen]
        if not asks or any(item is None for item in parsed):
            assert handled.rejected and handled.replies == [], (handled.rejected, handled.replies)
            self.assert_unchanged(before, user, f"a selection with malformed data {chosen!r}")
            SEEN["select: malformed"] += 1
        elif any(item is not None and item[0] != current.step for item in parsed):
            assert handled.replies and handled.replies[0].text == self.stale_note, handled.replies
            self.assert_unchanged(before, user, f"a selection with stale data {chosen!r}")
            SEEN["select: stale"] += 1
        else:
            assert handled.rejected is None, handled.rejected
            SEEN["select: current"] += 1

    @rule(user=st.sampled_from(USERS), kind=st.sampled_from(UNSUPPORTED_KINDS))
    @counted
    def send_unsupported(self, user: str, kind: str) -> None:
        before = self.stored(user)
        handled = self.converse(user, Unsupported(kind))
        assert handled.replies and handled.replies[0].text == self.unsupported_note, handled.replies
        self.assert_unchanged(before, user, f"an unsupported {kind}")

    @precondition(lambda self: any(model.last_update for model in self.users.values()))
    @rule(data=st.data())
    @counted
    def redeliver_update(self, data: st.DataObject) -> None:
        """Telegram delivers the same update again (after a crash): it is applied once."""
        user = data.draw(st.sampled_from(sorted(u for u, m in self.users.items() if m.last_update)))
        last = self.users[user].last_update
        assert last is not None
        key, event = last
        before = self.stored(user)
        outbox_before = self.outbox_seen
        handled = self.run(self.chat.handle(CHANNEL, user, event, inbox_key=key, outbox_context={}))
        assert handled.duplicate and handled.replies == [], handled
        self.assert_unchanged(before, user, "a redelivered update")
        assert self.collect_outbox() == [] and self.outbox_seen == outbox_before

    @rule(
        user=st.sampled_from(USERS),
        zone=st.sampled_from(ZONES),
        local_time=st.sampled_from(TIMES),
        answers=st.integers(1, 4),
    )
    @counted
    def answer_sensibly(self, user: str, zone: str, local_time: str, answers: int) -> None:
        """A few plausible answers in a row, so the other rules also meet users deep in a check."""
        for _ in range(answers):
            self.converse(user, self.sensible_event(user, zone, local_time))

    @precondition(lambda self: not any(model.has_plan for model in self.users.values()))
    @rule(user=st.sampled_from(USERS), zone=st.sampled_from(ZONES), local_time=st.sampled_from(TIMES))
    @counted
    def finish_check_and_set_reminders(self, user: str, zone: str, local_time: str) -> None:
        """A whole check answered plausibly and reminders set, in one go (for one user per
        example: the others get there, or not, a few steps at a time)."""
        model = self.users[user]
        self.converse(user, NewCheck())
        for _ in range(40):
            if any(reply.text.startswith(self.saved_note) for reply in model.last_replies):
                return
            self.converse(user, self.sensible_event(user, zone, local_time))
        raise AssertionError(f"40 plausible answers did not set reminders: {self.snapshot(user)}")

    def sensible_event(self, user: str, zone: str, local_time: str) -> Event:
        snapshot = self.snapshot(user)
        step = snapshot.step
        flow = self.core.flows[snapshot.flow]
        question_id = flow.question_of(snapshot.state) if snapshot.state else None
        if question_id is None:
            if snapshot.state == self.core.engine.result_state:
                live = self.users[user].live(step)
                if (step, "rem") in live:
                    return Press(f"{step}:rem")
                if (step, "review") in live:
                    # A plan paused after an urgent result restarts once a professional has
                    # looked at it; only then are reminders offered again.
                    return Press(f"{step}:review")
                return Press(f"{step}:new")
            return NewCheck()
        question = self.core.content.questions[question_id]
        if question.type == "yes_no":
            agrees = question.id in ("consent", "checked_by_professional")
            return Press(f"{step}:y" if agrees else f"{step}:n")
        if question.type == "number":
            return Press(f"{step}:v{min(max(4, question.minimum or 0), question.maximum or 4)}")
        if question.type == "free_text":
            return Press(f"{step}:skip") if question.skippable else Text("nothing else")
        if question.type == "multi_choice":
            if question.none_option:
                return Press(f"{step}:none")
            return Press(f"{step}:ok" if snapshot.pending else f"{step}:t1")
        typed = {"duration": "about 3 weeks", "age": "34", "timezone": zone, "time": local_time}
        if question.parser in typed:
            return Text(typed[question.parser])
        return Press(f"{step}:o0")

    # ------------------------------------------------------------ rules: the plan

    @rule(user=st.sampled_from(USERS))
    @counted
    def list_reminders(self, user: str) -> None:
        self.run(self.plan.list_reminders(CHANNEL, user))
        self.collect_outbox()

    @precondition(lambda self: any(model.plan_messages for model in self.users.values()))
    @rule(data=st.data(), message_id=st.none() | st.integers(1, 10**6))
    @counted
    def press_plan_button(self, data: st.DataObject, message_id: int | None) -> None:
        user = data.draw(st.sampled_from(sorted(u for u, m in self.users.items() if m.plan_messages)))
        messages = self.users[user].plan_messages
        # Mostly the newest message (what people answer), sometimes an older one.
        shown = data.draw(st.sampled_from(messages[-1:] * 3 + messages))
        self.press_plan(user, data.draw(st.sampled_from(shown)), message_id)

    @rule(user=st.sampled_from(USERS), forged=forged_data, message_id=st.none() | st.integers(1, 10**6))
    @counted
    def press_forged_plan_button(self, user: str, forged: str, message_id: int | None) -> None:
        self.forged_plan_press(user, forged, message_id)

    def forged_plan_press(self, user: str, data: str, message_id: int | None) -> None:
        if not is_plan_button(data):
            handled = self.run(self.plan.press(CHANNEL, user, data, message_id))
            assert handled.rejected and handled.user_id is None, handled
            SEEN["forged plan: malformed"] += 1
            return
        if self.run(self._owns(user, data)):
            SEEN["forged plan: names the user's own object"] += 1
            self.press_plan(user, data, message_id)
            return
        before = self.run(self._plan_rows(user))
        conversation = self.stored(user)
        handled, replies = self.press_plan(user, data, message_id)
        assert _conversation_for(handled) is None, handled
        new = [reply.text for external_id, reply in replies if external_id == user]
        assert handled.rejected or new == [self.gone_note], (handled, new)
        assert self.run(self._plan_rows(user)) == before, f"forged {data!r} changed the plan"
        self.assert_unchanged(conversation, user, f"forged plan button {data!r}")
        SEEN["forged plan: someone else's or nothing"] += 1

    @rule(minutes=st.integers(0, 48 * 60))
    @counted
    def tick(self, minutes: int) -> None:
        self.clock.moment += timedelta(minutes=minutes)
        self.scheduler_tick()

    @rule(late=st.integers(0, 150))
    @counted
    def tick_when_due(self, late: int) -> None:
        """Jump to the next reminder's time (up to 2.5 hours late, around the missed-grace limit)."""
        due = self.run(self._next_due())
        if due is not None and due > self.clock.moment:
            self.clock.moment = due
        self.clock.moment += timedelta(minutes=late)
        self.scheduler_tick()

    def scheduler_tick(self) -> None:
        touched = self.run(self.scheduler.tick())
        again = self.run(self.scheduler.tick())
        assert again == [], f"a second tick at the same moment sent more: {again}"
        if touched:
            SEEN["reminders sent"] += len(touched)
        for user_id, external_id in touched:
            assert external_id in self.users, (user_id, external_id)
        self.collect_outbox()
        self.touched.update(USERS)

    async def _next_due(self) -> datetime | None:
        rows = await self.query("SELECT MIN(due_at) FROM reminders WHERE due_at IS NOT NULL")
        row = rows[0] if rows else None
        return datetime.fromisoformat(row[0]).astimezone(UTC) if row and row[0] else None

    # ------------------------------------------------------------ after every rule

    @invariant()
    def conversations_are_valid(self) -> None:
        if self.touched:
            self.run(self._validate(sorted(self.touched)))
            self.touched.clear()


def fuzz_settings(examples: int, derandomize: bool) -> settings:
    phases = tuple(Phase) if SHRINK else (Phase.explicit, Phase.reuse, Phase.generate)
    return settings(
        max_examples=examples,
        phases=phases,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=derandomize,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


def test_the_core_survives_many_users_doing_anything() -> None:
    RULES_RUN.clear()
    RULE_SECONDS.clear()
    SEEN.clear()
    EXAMPLE_LENGTHS.clear()
    target = EXAMPLES * STEPS
    quiet = logging.getLogger("psoasbot")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # rejected input is logged as a warning; thousands of them say nothing here
    try:
        # Hypothesis ends an example early when its choices outgrow its buffer (long texts), so
        # a round can fall short of EXAMPLES * STEPS; further rounds, with fixed seeds (still
        # the same examples on every run), make up the difference.
        for round_number in range(10):
            missing = target - sum(RULES_RUN.values())
            if missing <= 0:
                break
            if round_number == 0:
                machine: type[ConversationFuzz] = ConversationFuzz
                examples, derandomize = EXAMPLES, not RANDOM
            else:
                machine = seed(round_number)(
                    type(f"ConversationFuzzRound{round_number}", (ConversationFuzz,), {})
                )
                examples, derandomize = -(-missing // STEPS), False
            run_state_machine_as_test(machine, settings=fuzz_settings(examples, derandomize))
            SEEN["rounds"] += 1
    finally:
        quiet.setLevel(level)
    total = sum(RULES_RUN.values())
    print(
        f"\nfuzz: {total} rule executions in {len(EXAMPLE_LENGTHS)} examples: {dict(sorted(RULES_RUN.items()))}"
    )
    print(f"fuzz: steps per example {sorted(Counter(EXAMPLE_LENGTHS).items())}")
    print(f"fuzz: seconds by rule { ({k: round(v, 1) for k, v in sorted(RULE_SECONDS.items())}) }")
    print(f"fuzz: longest rendered reply {LONGEST[0]} characters")
    print(f"fuzz: reached {dict(sorted(SEEN.items()))}")
    assert total >= target, f"only {total} rule executions of {target}"
    if target >= MIN_RULE_EXECUTIONS:
        # The fuzz is only worth its time if it gets everywhere: results, set-up, reminders, plan buttons.
        for reached in ("result shown", "reminders set", "reminders sent", "plan press accepted"):
            assert SEEN[reached] > 0, f"the fuzz never reached {reached!r}: {dict(SEEN)}"
