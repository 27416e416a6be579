"""One user driving the real conversation, plan and scheduler services on a real database
(an SQLite file, or a PostgreSQL database where the test asks for `storage_target`), with an
injected clock: the reminders, check-ins and plan tests share this."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from bot.adapters.telegram.front import _conversation_for
from bot.core.events import Press, Start, Text
from bot.core.plan.effects import PlanEffects
from bot.core.plan.scheduler import Scheduler
from bot.core.plan.service import PlanService
from bot.core.ports import Storage as Database
from bot.core.service import ConversationService
from tests.storage_support import fetch
from tests.support import FakeClock

TYPICAL = {
    "pain_location": ["hip_front"],
    "worse_when_sitting": True,
    "worse_rising_from_chair": True,
    "duration_weeks": 1,
    "pain_now": 4,
    "age": 34,
    "sex": "F",
}


class World:
    """One user, the conversation and plan services, and the outbox they fill."""

    def __init__(self, core: Any, database: Database, clock: FakeClock, user: str = "u1") -> None:
        self.core = core
        self.database = database
        self.clock = clock
        self.plan = PlanService(core.content, database, core.plan_rules, clock)
        self.scheduler = Scheduler(core.content, database, clock)
        effects = PlanEffects(core.content, clock)
        self.chat = ConversationService(core.engine, database, effects=effects.apply, clock=clock)
        self.user = user
        self.seen = 0

    async def send(self, event: Any) -> list[dict[str, Any]]:
        await self.chat.handle("telegram", self.user, event, outbox_context={})
        return await self.new_messages()

    async def press_plan(self, data: str) -> list[dict[str, Any]]:
        handled = await self.plan.press("telegram", self.user, data, message_id=99)
        assert handled.rejected is None, handled.rejected
        follow_up = _conversation_for(handled)
        if follow_up is not None:
            await self.chat.handle("telegram", self.user, follow_up, outbox_context={})
        return await self.new_messages()

    async def new_messages(self) -> list[dict[str, Any]]:
        rows = await self.rows(
            "SELECT o.id, o.payload FROM outbox o JOIN users u ON u.id = o.user_id "
            "WHERE u.external_id = ? AND o.id > ? ORDER BY o.id",
            self.user,
            self.seen,
        )
        if rows:
            self.seen = rows[-1][0]
        return [json.loads(payload) for _, payload in rows]

    async def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return await self.database.read(lambda tx: fetch(tx, self.database, sql, params))

    async def check_and_set_reminders(self, zone_text: str = "Berlin", time: str = "18:00") -> None:
        """Finish a typical check, then set reminders with the suggested days."""
        await self.send(Start())
        messages = await self._answer_through_service(TYPICAL)
        assert any("Set reminders" in str(m) for m in messages)
        step = await self.step()
        await self.send(Press(f"{step}:rem"))
        shown = await self.send(Text(zone_text))
        assert any("On which days" in m["text"] for m in shown), shown
        step = await self.step()
        await self.send(Press(f"{step}:ok"))
        saved = await self.send(Text(time))
        assert any("Reminders set" in m["text"] for m in saved), saved

    async def step(self) -> int:
        rows = await self.rows(
            "SELECT c.step FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.external_id = ?",
            self.user,
        )
        return int(rows[0][0])

    async def _answer_through_service(self, answers: dict[str, Any]) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        script = [
            "yes",
            "front of my hip",
            "nowhere",
            None,
            f"{int(answers['duration_weeks'] * 7)} days",
            str(answers["pain_now"]),
            "no",
            "no",
            "no",
            str(answers["age"]),
            None,
            None,
            "no",
            None,
        ]
        for line in script:
            step = await self.step()
            state = (
                await self.rows(
                    "SELECT c.state FROM conversations c JOIN users u ON u.id = c.user_id WHERE u.external_id = ?",
                    self.user,
                )
            )[0][0]
            if line is not None:
                messages = await self.send(Text(line))
            elif state == "sitting" or state == "sex" or state == "activity":
                messages = await self.send(Press(f"{step}:o0"))
            elif state == "anything_else":
                messages = await self.send(Press(f"{step}:skip"))
        return messages


def buttons(message: dict[str, Any]) -> list[str]:
    return [button[1] for row in message["buttons"] for button in row]


async def move_to_next(world: World, kind: str) -> None:
    rows = await world.rows("SELECT due_at FROM reminders WHERE kind = ? AND status = 'active'", kind)
    world.clock.moment = datetime.fromisoformat(rows[0][0]) + timedelta(seconds=10)


async def fire_session(world: World) -> int:
    """Move the clock to the next routine reminder and return its session id (other messages
    that fall due at the same moment, such as a weekly check-in, are left for the caller)."""
    await move_to_next(world, "session")
    await world.scheduler.tick()
    sent = await world.new_messages()
    card = [m for m in sent if m["buttons"] and m["buttons"][0][0][0].startswith("r:")][-1]
    return int(card["buttons"][0][0][0].split(":")[1])


async def answer_checkin(world: World, pain_now: int, worst: int) -> list[dict[str, Any]]:
    await move_to_next(world, "day_after_checkin")
    await world.scheduler.tick()
    sent = await world.new_messages()
    checkin = [m for m in sent if m["buttons"] and m["buttons"][0][0][0].startswith("c:")][-1]
    checkin_id = next(b[0] for row in checkin["buttons"] for b in row).split(":")[1]
    await world.press_plan(f"c:{checkin_id}:n{pain_now}")
    return await world.press_plan(f"c:{checkin_id}:w{worst}")
