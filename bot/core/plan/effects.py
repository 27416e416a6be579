"""What a conversation step does to reminders: the effects the engine asks for.

The engine is pure; when a step sets up reminders, changes a time zone, a
reminder's time or days, the quiet hours, or restarts a paused plan, it returns
an effect and the conversation service runs `apply_effects` inside the same
transaction (so the step and its effects commit together or not at all).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.core.clock import Clock
from bot.core.content import Content
from bot.core.plan.model import Plan
from bot.core.ports import Tx
from bot.core.records import Reminder

log = logging.getLogger("psoasbot.plan")

REPEATING = ("session", "weekly_checkin")


class PlanEffects:
    def __init__(self, content: Content, clock: Clock) -> None:
        self.content = content
        self.config = content.plan
        self.clock = clock

    def apply(self, tx: Tx, user_id: int, effects: tuple[dict[str, Any], ...], plan: Plan | None) -> None:
        now = self.clock.now()
        for effect in effects:
            kind = effect["type"]
            if kind == "set_timezone":
                self._set_timezone(tx, user_id, str(effect["timezone"]))
            elif kind == "set_quiet_hours":
                tx.users.set_quiet_hours(user_id, str(effect["start"]), str(effect["end"]))
            elif kind == "save_reminders":
                self._save_reminders(tx, user_id, effect, plan)
            elif kind == "change_reminder_time":
                found = tx.reminders.get(user_id, int(effect["reminder_id"] or 0))
                if found is not None:
                    moved = replace(found, local_time=str(effect["time"]))
                    tx.reminders.update(
                        found.id, local_time=moved.local_time, due_at=moved.next_due(now), status="active"
                    )
            elif kind == "change_reminder_days":
                found = tx.reminders.get(user_id, int(effect["reminder_id"] or 0))
                days = tuple(effect.get("days") or ())
                if found is not None and days:
                    moved = replace(found, days=days)
                    tx.reminders.update(found.id, days=days, due_at=moved.next_due(now), status="active")
            elif kind == "plan_resumed":
                self._catch_up(tx, user_id)
            else:
                raise ValueError(f"unknown effect {kind!r}")

    def _set_timezone(self, tx: Tx, user_id: int, zone: str) -> None:
        """Keep every reminder's local time; only the UTC moment it maps to changes."""
        now = self.clock.now()
        tx.users.set_timezone(user_id, zone)
        for item in tx.reminders.of(user_id, REPEATING):
            moved = replace(item, timezone=zone)
            due = moved.next_due(now) if item.status == "active" else None
            tx.reminders.update(item.id, timezone=zone, due_at=due, clear_due=due is None)

    def _save_reminders(self, tx: Tx, user_id: int, effect: dict[str, Any], plan: Plan | None) -> None:
        if plan is None or not plan.state.sends_reminders:
            # Never exercise reminders for someone whose plan allows no exercise now.
            log.error("reminders refused: the plan offers no routine now", extra={"user": user_id})
            return
        zone = str(effect["timezone"])
        days = tuple(effect["days"])
        time = str(effect["time"])
        if not days or not zone:  # the flow never allows this; refuse rather than fail the step
            log.error("reminder set-up without days or zone ignored", extra={"user": user_id})
            return
        now = self.clock.now()
        for item in tx.reminders.of(user_id, REPEATING):
            tx.reminders.delete(user_id, item.id)
        session = Reminder(0, user_id, "session", days, time, zone, "active", None, None)
        tx.reminders.add(user_id, "session", days, time, zone, session.next_due(now))
        config = self.config
        weekly_days = (config.weekly_checkin_weekday,)
        weekly = Reminder(
            0,
            user_id,
            "weekly_checkin",
            weekly_days,
            str(config.weekly_checkin_time),
            zone,
            "active",
            None,
            None,
        )
        first_weekly = weekly.next_due(now + timedelta(days=6))
        tx.reminders.add(user_id, "weekly_checkin", weekly.days, weekly.local_time, zone, first_weekly)

    def _catch_up(self, tx: Tx, user_id: int) -> None:
        """A paused plan restarted: reminders that were held get their next time again."""
        now = self.clock.now()
        for item in tx.reminders.of(user_id, REPEATING):
            if item.status == "active" and (item.due_at is None or item.due_at < now):
                tx.reminders.update(item.id, due_at=item.next_due(now))
