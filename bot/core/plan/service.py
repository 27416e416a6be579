"""The plan's buttons: reminder cards, hurt reports, check-ins, /reminders.

Transport-free like the conversation service: each press is one unit of work
(bot/core/ports.py) that reads and writes the stores and puts its replies in the
outbox, which a front delivers. Every decision about what the person may do goes
through the plan's rules (bot/core/plan/lifecycle.py) and every exercise shown
comes from the current plan (bot/core/routines.py: plan_routine).

A weekly check-in's warning-sign screens work like the first check's: "have any
of these started?" with Yes / No / Not sure, and on Yes or Not sure the list to
tick. `flag_stage` on the check-in says which screen is open:
  emergency_signs -> (emergency_signs_pick) -> serious_signs -> (serious_signs_pick) -> done

Every press is answered in the person's language: the service for that language is the
same service built on the content in that language (`in_language`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.answers import AREAS, WEEKDAYS
from bot.core.clock import (
    Clock,
    LocalTime,
    QuietHours,
    SystemClock,
    next_occurrence,
    shift_out_of_quiet_hours,
)
from bot.core.content import Content
from bot.core.locales import user_language
from bot.core.plan.buttons import PlanButton
from bot.core.plan.lifecycle import Assessed, PlanRules
from bot.core.plan.model import Plan, PlanChange, PlanState
from bot.core.plan.rules import (
    JUDGED_STATES,
    SESSION_OUTCOMES,
    CheckinRecord,
    Evidence,
    SessionRecord,
    decide,
)
from bot.core.plan.screens import FLAG_GROUPS, PlanScreens
from bot.core.ports import Storage, Tx
from bot.core.presenter import Presenter
from bot.core.records import Checkin, Guide
from bot.core.replies import Reply, ReplyKind, reply_to_dict
from bot.core.routines import match_routine, plan_routine
from bot.core.triage import triage

log = logging.getLogger("psoasbot.plan")


@dataclass
class PlanHandled:
    user_id: int | None
    change_time_of: int | None = None
    """A reminder whose time the person wants to change: the front starts that conversation."""
    change_days_of: int | None = None
    quiet_hours: bool = False
    """The person wants to change their quiet hours: the front starts that conversation."""
    review: bool = False
    """The person wants to restart a paused plan: the front starts the review question."""
    rejected: str | None = None
    duplicate: bool = False
    """The same press delivered again (after a crash): applied once already, nothing done now."""


@dataclass
class Batch:
    """Replies for one user, written to the outbox at the end of the unit of work."""

    replies: list[tuple[Reply, dict[str, Any]]] = field(default_factory=list)

    def say(self, reply: Reply, **context: Any) -> None:
        self.replies.append((reply, context))

    def write(self, tx: Tx, user_id: int) -> None:
        """The replies into the outbox, one row each, in order."""
        for reply, context in self.replies:
            tx.outbox.add(user_id, [reply_to_dict(reply)], context)


class PlanService:
    def __init__(
        self, content: Content, storage: Storage, rules: PlanRules, clock: Clock | None = None
    ) -> None:
        self.content = content
        self.storage = storage
        self.rules = rules
        self.checkin_rules = content.checkin_rules
        self.config = content.plan
        self.clock = clock or SystemClock()
        self.messages = content.messages
        self.present = Presenter(content)
        self.screens = PlanScreens(content)
        self._languages: dict[str, PlanService] = {content.language: self}

    def in_language(self, language: str | None) -> PlanService:
        """This service writing in `language` (the default when it is not present)."""
        code = self.content.pick_language(language)
        found = self._languages.get(code)
        if found is None:
            found = PlanService(self.content.in_language(code), self.storage, self.rules, self.clock)
            found._languages = self._languages
            self._languages[code] = found
        return found

    # ------------------------------------------------------------ buttons

    async def press(
        self,
        channel: str,
        external_id: str,
        data: str,
        message_id: int | None,
        language: str | None = None,
        *,
        inbox_key: str | None = None,
    ) -> PlanHandled:
        """One plan button. `language` is what the person's app reports (see
        ConversationService.handle). `inbox_key` (a transport's update id) makes it idempotent,
        as ConversationService.handle does for everything else: a press delivered twice is
        applied once."""
        button = PlanButton.decode(data)
        if button is None:
            return PlanHandled(None, rejected="malformed plan button")
        return await self.storage.write(
            partial(
                self._press,
                channel=channel,
                external_id=external_id,
                button=button,
                message_id=message_id,
                language=language,
                inbox_key=inbox_key,
            ),
            key=f"{channel}:{external_id}",
        )

    def _press(
        self,
        tx: Tx,
        *,
        channel: str,
        external_id: str,
        button: PlanButton,
        message_id: int | None,
        language: str | None,
        inbox_key: str | None = None,
    ) -> PlanHandled:
        user_id = tx.users.find(channel, external_id)
        if user_id is None:
            return PlanHandled(None, rejected="unknown user")
        if inbox_key is not None and not tx.inbox.claim(inbox_key, user_id):
            return PlanHandled(user_id, duplicate=True)
        speaking = self.in_language(user_language(tx, user_id, self.content, language))
        return speaking._press_for(tx, user_id, button, message_id)

    def _press_for(self, tx: Tx, user_id: int, button: PlanButton, message_id: int | None) -> PlanHandled:
        batch = Batch()
        edit = {"edit_message_id": message_id} if message_id is not None else {}
        now = self.clock.now()
        plan = tx.plans.get(user_id)
        if button.area == "m":
            handled = self._manage(tx, user_id, plan, button, batch, now)
        elif button.area == "r":
            handled = self._session_button(tx, user_id, plan, button, batch, edit, now)
        elif button.area == "h":
            handled = self._hurt_button(tx, user_id, plan, button, batch, edit, now)
        elif button.area == "g":
            handled = self._next_step_button(tx, user_id, plan, button, batch, edit, now)
        elif button.area == "u":
            retire = {"retire_message_id": message_id} if message_id is not None else {}
            handled = self._guide_button(tx, user_id, plan, button, batch, retire, now)
        else:
            handled = self._checkin_button(tx, user_id, plan, button, batch, edit, now)
        batch.write(tx, user_id)
        return handled

    def _save(self, tx: Tx, user_id: int, change: PlanChange) -> Plan | None:
        if change.plan is not None and change.event is not None:
            tx.plans.save(user_id, change.plan)
            tx.plans.add_event(user_id, change.event)
        return change.plan

    # ------------------------------------------------------------ the reminder card

    def _session_button(
        self,
        tx: Tx,
        user_id: int,
        plan: Plan | None,
        button: PlanButton,
        batch: Batch,
        edit: dict[str, Any],
        now: datetime,
    ) -> PlanHandled:
        session = tx.sessions.get(user_id, button.ref)
        if session is None:
            return PlanHandled(user_id, rejected="unknown session")
        m = self.messages
        if button.action == "v":
            # Works on an answered card too (people look the steps up again), but always from
            # the current plan: an old card never brings back what the plan has withdrawn.
            routine = plan_routine(plan, self.content) if plan and plan.state.sends_reminders else None
            if routine is None:
                batch.say(self.present.info("plan.steps_unavailable"), standalone=True)
            else:
                for reply in self.present.steps(routine):
                    batch.say(reply, standalone=True)
            return PlanHandled(user_id)
        if session.outcome != "sent":
            batch.say(self.present.info("plan.already_noted"))
            return PlanHandled(user_id)
        if button.action == "g":
            return self._start_guide(tx, user_id, plan, session.id, batch, now)
        if button.action == "d":
            tx.sessions.update(session.id, outcome="done")
            self._schedule_day_after(tx, user_id, now)
            batch.say(Reply(ReplyKind.QUESTION, m.text("plan.session_done")), **edit)
        elif button.action == "s":
            tx.sessions.update(session.id, outcome="skipped")
            batch.say(Reply(ReplyKind.QUESTION, m.text("plan.session_skipped")), **edit)
        elif button.action == "z":
            tx.sessions.update(session.id, outcome="snoozed")
            zone = tx.users.timezone(user_id) or "UTC"
            at = shift_out_of_quiet_hours(now + self.config.snooze, zone, self._quiet(tx, user_id))
            tx.reminders.add(user_id, "snooze", (), "00:00", zone, at, ref_session=session.id)
            local = m.time(at.astimezone(ZoneInfo(zone)))
            minutes = int(self.config.snooze.total_seconds() // 60)
            batch.say(
                Reply(ReplyKind.QUESTION, m.plural("plan.session_snoozed", minutes, time=local)), **edit
            )
        else:  # "h": it hurt
            tx.sessions.update(session.id, outcome="hurt")
            routine = plan_routine(plan, self.content)
            if routine is None or not routine.exercises:
                batch.say(self.screens.hurt_where(session.id), **edit)
            else:
                batch.say(self.screens.hurt_which(session.id, routine), **edit)
        return PlanHandled(user_id)

    def _quiet(self, tx: Tx, user_id: int) -> QuietHours:
        stored = tx.users.quiet_hours(user_id)
        if stored is not None:
            start, end = LocalTime.parse(stored[0]), LocalTime.parse(stored[1])
            if start is not None and end is not None:
                return QuietHours(start, end)
        return self.config.quiet_hours

    # ------------------------------------------------------------ a guided session

    def _start_guide(
        self, tx: Tx, user_id: int, plan: Plan | None, session_id: int | None, batch: Batch, now: datetime
    ) -> PlanHandled:
        """Walk through the plan's routine one exercise at a time, from the first."""
        routine = (
            plan_routine(plan, self.content) if plan is not None and plan.state.sends_reminders else None
        )
        if plan is None or routine is None or not routine.exercises:
            batch.say(self.present.info("plan.steps_unavailable"), standalone=True)
            return PlanHandled(user_id)
        if session_id is None:  # started from /routine: a session of its own, with no reminder
            session_id = tx.sessions.add(user_id, None, now, plan.routine)
            assert session_id is not None  # no reminder, so nothing to collide with
        guide = Guide(tuple(exercise.id for exercise in routine.exercises), 0, (), now)
        tx.sessions.update(session_id, guide=guide)
        self._show_step(session_id, guide, batch)
        return PlanHandled(user_id)

    def _show_step(
        self, session_id: int, guide: Guide, batch: Batch, retire: dict[str, Any] | None = None
    ) -> None:
        current = guide.current
        assert current is not None
        exercise = self.content.exercises[current]
        # Its picture's legend is written by the front, in this language.
        batch.say(
            self.screens.guided_step(session_id, guide, exercise),
            standalone=True,
            language=self.content.language,
            **(retire or {}),
        )

    def _guide_button(
        self,
        tx: Tx,
        user_id: int,
        plan: Plan | None,
        button: PlanButton,
        batch: Batch,
        retire: dict[str, Any],
        now: datetime,
    ) -> PlanHandled:
        """A step's button. Moving on (`retire`) takes the buttons off the step that was pressed,
        so the chat shows one live step; timing a hold keeps them, the step is still on."""
        if button.action == "s":
            if button.ref != 0:
                return PlanHandled(user_id, rejected="a guided session starts from session 0 only")
            return self._start_guide(tx, user_id, plan, None, batch, now)
        session = tx.sessions.get(user_id, button.ref)
        if session is None or session.guide is None:
            return PlanHandled(user_id, rejected="no guided session")
        guide = session.guide
        if session.outcome != "sent" or (button.value is not None and button.value != guide.position):
            batch.say(self.present.info("plan.already_noted"), standalone=True)  # an older step's button
            return PlanHandled(user_id)
        if now - guide.started_at > self.config.session_resume or not (plan and plan.state.sends_reminders):
            batch.say(self.present.info("guide.expired"), standalone=True)
            return PlanHandled(user_id)
        current = guide.current
        assert current is not None
        if button.action == "c":
            self._show_step(session.id, guide, batch, retire)
        elif button.action == "t":
            hold = self.content.exercises[current].dose.hold_seconds
            if hold:
                # The countdown's later edits are written by the front, in this language.
                batch.say(self.screens.guided_timer(hold), standalone=True, language=self.content.language)
        elif button.action == "x":
            batch.say(self.screens.guided_stopped(session.id), standalone=True, **retire)
        elif button.action == "h":
            tx.sessions.update(session.id, outcome="hurt", hurt_exercise=current)
            batch.say(self.screens.hurt_where(session.id), standalone=True, **retire)
        else:  # next, or skip
            skipped = (*guide.skipped, current) if button.action == "k" else guide.skipped
            moved = Guide(guide.exercises, guide.position + 1, skipped, guide.started_at)
            tx.sessions.update(session.id, guide=moved)
            if moved.current is not None:
                self._show_step(session.id, moved, batch, retire)
            else:
                tx.sessions.update(session.id, outcome="done")
                self._schedule_day_after(tx, user_id, now)
                batch.say(self.screens.guided_finished(moved.skipped), standalone=True, **retire)
        return PlanHandled(user_id)

    # ------------------------------------------------------------ it hurt

    def _hurt_button(
        self,
        tx: Tx,
        user_id: int,
        plan: Plan | None,
        button: PlanButton,
        batch: Batch,
        edit: dict[str, Any],
        now: datetime,
    ) -> PlanHandled:
        session = tx.sessions.get(user_id, button.ref)
        if session is None or session.outcome != "hurt":
            return PlanHandled(user_id, rejected="no hurt report to answer")
        if session.hurt_settled is not None:  # finished already: a stale button
            batch.say(self.present.info("plan.already_noted"))
            return PlanHandled(user_id)
        value = button.value
        if button.action == "e" and value is not None:
            routine = plan_routine(plan, self.content)
            exercises = routine.exercises if routine is not None else ()
            exercise = exercises[value].id if value < len(exercises) else None
            tx.sessions.update(session.id, hurt_exercise=exercise or "unknown")
            batch.say(self.screens.hurt_where(session.id), **edit)
        elif button.action == "a" and value is not None and value < len(AREAS):
            tx.sessions.update(session.id, hurt_area=AREAS[value])
            batch.say(self.screens.hurt_how_much(session.id), **edit)
        elif button.action == "p" and value is not None and value <= 10 and session.hurt_area is not None:
            tx.sessions.update(session.id, hurt_pain=value)
            batch.say(self.screens.hurt_settled(session.id), **edit)
        elif button.action in ("sy", "sn") and session.hurt_pain is not None:
            settled = button.action == "sy"
            tx.sessions.update(session.id, hurt_settled=settled)
            if not settled:
                self._schedule_day_after(tx, user_id, now)
            batch.say(Reply(ReplyKind.QUESTION, self.messages.text("plan.hurt_noted")), **edit)
            self._decide(tx, user_id, plan, now, batch, checkin=None)
        else:
            return PlanHandled(user_id, rejected="hurt button out of order")
        return PlanHandled(user_id)

    # ------------------------------------------------------------ check-ins

    def _checkin_button(
        self,
        tx: Tx,
        user_id: int,
        plan: Plan | None,
        button: PlanButton,
        batch: Batch,
        edit: dict[str, Any],
        now: datetime,
    ) -> PlanHandled:
        checkin = tx.checkins.get(user_id, button.ref)
        if checkin is None:
            return PlanHandled(user_id, rejected="unknown check-in")
        if checkin.answered_at is not None:
            batch.say(self.present.info("plan.already_noted"))
            return PlanHandled(user_id)
        action, value = button.action, button.value
        stage = checkin.flag_stage
        if action == "n" and value is not None and value <= 10:
            tx.checkins.update(checkin.id, pain_now=value)
            batch.say(self.screens.checkin_pain_worst(checkin.id), **edit)
        elif action == "w" and value is not None and value <= 10 and checkin.pain_now is not None:
            tx.checkins.update(checkin.id, pain_worst=value)
            if checkin.kind == "day_after" and tx.sessions.unsettled_hurt(user_id) is not None:
                batch.say(self.screens.checkin_settled(checkin.id), **edit)
            else:
                self._after_scores(tx, user_id, plan, checkin, batch, edit, now)
        elif action in ("sy", "sn") and checkin.pain_worst is not None and stage is None:
            settled = action == "sy"
            tx.checkins.update(checkin.id, settled=settled)
            hurt = tx.sessions.unsettled_hurt(user_id)
            if hurt is not None:
                tx.sessions.update(hurt, settled_next_morning=settled)
            self._after_scores(tx, user_id, plan, checkin, batch, edit, now)
        elif action in ("fy", "fu", "fn") and stage in FLAG_GROUPS:
            assert stage is not None
            if action == "fn":
                self._next_flag_screen(tx, user_id, plan, checkin, stage, batch, edit, now)
            else:
                tx.checkins.update(
                    checkin.id, flag_stage=f"{stage}_pick", new_flags=list(checkin.new_flags or ())
                )
                chosen = [key for key in (checkin.new_flags or ()) if key in self.content.groups[stage]]
                batch.say(self.screens.flag_picker(checkin.id, stage, chosen, unsure=action == "fu"), **edit)
        elif action == "t" and value is not None and stage is not None and stage.endswith("_pick"):
            group = stage.removesuffix("_pick")
            keys = self.content.groups[group]
            if value >= len(keys):
                return PlanHandled(user_id, rejected="flag out of range")
            chosen = list(checkin.new_flags or ())
            key = keys[value]
            chosen = [item for item in chosen if item != key] if key in chosen else [*chosen, key]
            tx.checkins.update(checkin.id, new_flags=chosen)
            picked = [item for item in chosen if item in keys]
            batch.say(self.screens.flag_picker(checkin.id, group, picked, unsure=False), **edit)
        elif action == "k" and stage is not None and stage.endswith("_pick"):
            self._next_flag_screen(tx, user_id, plan, checkin, stage.removesuffix("_pick"), batch, edit, now)
        else:
            return PlanHandled(user_id, rejected="check-in button out of order")
        return PlanHandled(user_id)

    def _after_scores(
        self,
        tx: Tx,
        user_id: int,
        plan: Plan | None,
        checkin: Checkin,
        batch: Batch,
        edit: dict[str, Any],
        now: datetime,
    ) -> None:
        if checkin.kind == "weekly":
            tx.checkins.update(checkin.id, flag_stage=FLAG_GROUPS[0])
            batch.say(self.screens.flag_screen(checkin.id, FLAG_GROUPS[0]), **edit)
            return
        self._complete_checkin(tx, user_id, plan, checkin.id, (), batch, edit, now)

    def _next_flag_screen(
        self,
        tx: Tx,
        user_id: int,
        plan: Plan | None,
        checkin: Checkin,
        group: str,
        batch: Batch,
        edit: dict[str, Any],
        now: datetime,
    ) -> None:
        position = FLAG_GROUPS.index(group)
        fresh = tx.checkins.get(user_id, checkin.id)
        flags = tuple(fresh.new_flags or ()) if fresh else ()
        if position + 1 < len(FLAG_GROUPS):
            following = FLAG_GROUPS[position + 1]
            tx.checkins.update(checkin.id, flag_stage=following)
            batch.say(self.screens.flag_screen(checkin.id, following), **edit)
            return
        tx.checkins.update(checkin.id, flag_stage="done")
        self._complete_checkin(tx, user_id, plan, checkin.id, flags, batch, edit, now)

    def _complete_checkin(
        self,
        tx: Tx,
        user_id: int,
        plan: Plan | None,
        checkin_id: int,
        flags: tuple[str, ...],
        batch: Batch,
        edit: dict[str, Any],
        now: datetime,
    ) -> None:
        tx.checkins.update(checkin_id, new_flags=list(flags), answered_at=now)
        batch.say(Reply(ReplyKind.QUESTION, self.messages.text("plan.checkin_thanks")), **edit)
        if flags:
            self._reassess(tx, user_id, plan, flags, batch, now)
            return
        self._decide(tx, user_id, plan, now, batch, checkin=checkin_id)

    def _reassess(
        self, tx: Tx, user_id: int, plan: Plan | None, flags: tuple[str, ...], batch: Batch, now: datetime
    ) -> None:
        """A warning sign at a check-in: the same result as the first check would give, and
        the plan follows it (paused at URGENT or EMERGENCY)."""
        snapshot = tx.conversations.load_for(user_id)
        answers = {**snapshot.answers, **{key: True for key in flags}}
        result = triage(answers, self.content)
        pain = answers.get("pain_now")
        assessed = Assessed(
            urgency=result.urgency,
            reasons=result.reasons,
            forbidden_tags=result.forbidden_tags,
            ball_allowed=result.ball_release_allowed,
            pain_now=pain if isinstance(pain, int) else None,
            source="checkin",
        )
        excluded = result.forbidden_tags | (plan.excluded_tags if plan else frozenset())
        ball = result.ball_release_allowed and "abdominal_pressure" not in excluded
        matched = match_routine(answers, result.urgency, ball, self.content)
        updated = self._save(tx, user_id, self.rules.assessed(plan, assessed, matched, now))
        routine = plan_routine(updated, self.content) if result.offers_routine else None
        for reply in self.present.result(result, answers, routine, snapshot.step):
            # The result's own buttons belong to the conversation's screen, not this one.
            batch.say(replace(reply, buttons=()))
        if updated is not None and updated.state is PlanState.PAUSED:
            batch.say(Reply(ReplyKind.INFO, self.messages.text("plan.reminders_on_hold")))

    # ------------------------------------------------------------ deciding

    def _decide(
        self, tx: Tx, user_id: int, plan: Plan | None, now: datetime, batch: Batch, *, checkin: int | None
    ) -> None:
        m = self.messages
        if plan is None or plan.state not in JUDGED_STATES:
            if plan is not None and plan.state is PlanState.PAUSED:
                batch.say(Reply(ReplyKind.INFO, m.text("plan.reminders_on_hold")))
            return
        checkins = tuple(
            CheckinRecord(c.at, c.pain_now, c.pain_worst if c.pain_worst is not None else c.pain_now)
            for c in tx.checkins.answered(user_id)
            if c.pain_now is not None
        )
        sessions = tuple(
            SessionRecord(s.at, s.outcome, s.hurt_pain, s.hurt_settled, s.settled_next_morning)
            for s in tx.sessions.of(user_id)
            if s.outcome in SESSION_OUTCOMES  # "sent" and not answered yet: nothing to judge
        )
        baseline = plan.baseline_pain
        if baseline is None:
            baseline = checkins[0].pain_now if checkins else None
        if baseline is None:
            return
        reference = plan.reference_pain if plan.reference_pain is not None else baseline
        evidence = Evidence(
            state=plan.state,
            baseline_pain=baseline,
            reference_pain=reference,
            started_at=plan.started_at,
            reference_at=plan.reference_at,
            checkins=checkins,
            sessions=sessions,
            last_referral_at=plan.last_referral_at,
        )
        decision = decide(evidence, now, self.checkin_rules)
        latest = checkins[-1].pain_now if checkins and checkins[-1].at >= plan.reference_at else None
        if decision.action == "refer":
            self._save(tx, user_id, self.rules.referred(plan, decision.reasons, now))
            batch.say(self._with_reasons("plan.decision.refer", decision.reasons, review=True))
        elif decision.action == "ease":
            self._save(tx, user_id, self.rules.eased(plan, decision.reasons, latest, now))
            batch.say(self._with_reasons("plan.decision.ease", decision.reasons))
        elif decision.action == "refer_no_improvement":
            self._save(tx, user_id, self.rules.no_improvement(plan, decision.reasons, now))
            batch.say(self._with_reasons("plan.decision.no_improvement", decision.reasons))
        elif decision.action == "progress":
            updated = (
                self._save(tx, user_id, self.rules.improved(plan, decision.reasons, latest, now)) or plan
            )
            routine = plan_routine(updated, self.content)
            if routine is not None and routine.has_next_level and checkin is not None:
                step = m.text(f"routine.{routine.id}.level.{routine.level + 1}")
                batch.say(self.screens.next_step_offer(checkin, routine, step))
            else:
                batch.say(Reply(ReplyKind.INFO, m.text("plan.decision.better_keep_going")))
        else:
            since = "start" if plan.reference_at <= plan.started_at else "change"
            batch.say(Reply(ReplyKind.INFO, m.text(f"plan.decision.continue.{since}.{decision.change}")))

    def _with_reasons(self, key: str, reasons: tuple[str, ...], *, review: bool = False) -> Reply:
        m = self.messages
        lines = [
            f"• {m.text(f'checkin_rule.{reason}')}" for reason in reasons if m.has(f"checkin_rule.{reason}")
        ]
        text = m.text(key) + ("\n\n" + "\n".join(lines) if lines else "")
        buttons = ((self.screens.review_button(),),) if review else ()
        return Reply(ReplyKind.ESCALATION, text, title=m.text(f"{key}_title"), buttons=buttons)

    def _next_step_button(
        self,
        tx: Tx,
        user_id: int,
        plan: Plan | None,
        button: PlanButton,
        batch: Batch,
        edit: dict[str, Any],
        now: datetime,
    ) -> PlanHandled:
        checkin = tx.checkins.get(user_id, button.ref)
        if checkin is None or plan is None:
            return PlanHandled(user_id, rejected="no next step was offered")
        offered_at = checkin.answered_at or now
        moved_on = ("progressed", "regressed", "eased", "referred", "assessed_urgent", "assessed_routine")
        if any(event.event in moved_on and event.at >= offered_at for event in tx.plans.events(user_id)):
            # The plan has changed since the offer (or it was taken already): an old button.
            batch.say(self.present.info("plan.already_noted"))
            return PlanHandled(user_id)
        m = self.messages
        if button.action == "s":
            batch.say(Reply(ReplyKind.QUESTION, m.text("plan.next_step_declined")), **edit)
            return PlanHandled(user_id)
        routine = plan_routine(plan, self.content)
        if routine is None:
            return PlanHandled(user_id, rejected="the plan offers no routine now")
        change = self.rules.progressed(
            plan, routine.routine.level_count, ("meaningful_improvement",), plan.reference_pain, now
        )
        updated = self._save(tx, user_id, change)
        new_routine = plan_routine(updated, self.content)
        if new_routine is None or updated is None or updated.level == plan.level:
            batch.say(self.present.info("plan.already_noted"))
            return PlanHandled(user_id)
        batch.say(Reply(ReplyKind.QUESTION, m.text("plan.next_step_taken")), **edit)
        batch.say(self.present.routine(new_routine), standalone=True)
        return PlanHandled(user_id)

    def _schedule_day_after(self, tx: Tx, user_id: int, now: datetime) -> None:
        if tx.reminders.pending_day_after(user_id):
            return
        zone = tx.users.timezone(user_id) or "UTC"
        time = self.config.day_after_checkin_time
        tomorrow = (now + timedelta(days=1)).astimezone(ZoneInfo(zone)).date()
        day = WEEKDAYS[tomorrow.weekday()]
        at = next_occurrence((day,), time, zone, now)
        tx.reminders.add(user_id, "day_after_checkin", (day,), str(time), zone, at)

    # ------------------------------------------------------------ /reminders

    async def list_reminders(self, channel: str, external_id: str, language: str | None = None) -> int | None:
        """Put the list of reminders, with their buttons, in the user's outbox."""

        def work(tx: Tx) -> int | None:
            user_id = tx.users.find(channel, external_id)
            if user_id is None:
                return None
            batch = Batch()
            speaking = self.in_language(user_language(tx, user_id, self.content, language))
            speaking._reminder_list(tx, user_id, batch)
            batch.write(tx, user_id)
            return user_id

        return await self.storage.write(work, key=f"{channel}:{external_id}")

    def _reminder_list(self, tx: Tx, user_id: int, batch: Batch) -> None:
        plan = tx.plans.get(user_id)
        paused_on = None
        if plan is not None and plan.state is PlanState.PAUSED:
            pauses = [
                event.at
                for event in tx.plans.events(user_id)
                if event.to_state is PlanState.PAUSED and event.from_state is not PlanState.PAUSED
            ]
            paused_on = pauses[-1] if pauses else None
        reminders = tx.reminders.of(user_id, ("session", "weekly_checkin"))
        for reply in self.screens.reminder_list(plan, reminders, paused_on):
            batch.say(reply, standalone=True)

    def _manage(
        self, tx: Tx, user_id: int, plan: Plan | None, button: PlanButton, batch: Batch, now: datetime
    ) -> PlanHandled:
        m = self.messages
        if button.ref == 0:
            if button.action == "q":
                return PlanHandled(user_id, quiet_hours=True)
            if button.action == "r":
                return PlanHandled(user_id, review=True)
            if button.action == "e" and plan is not None:
                ended = self._save(tx, user_id, self.rules.ended(plan, now))
                if ended is None or ended.state is not PlanState.ENDED:
                    batch.say(self.present.info("plan.cannot_end_now"))
                    return PlanHandled(user_id)
                for item in tx.reminders.of(user_id):
                    tx.reminders.delete(user_id, item.id)
                batch.say(Reply(ReplyKind.INFO, m.text("plan.ended")))
                return PlanHandled(user_id)
            return PlanHandled(user_id, rejected="unknown plan action")
        found = tx.reminders.get(user_id, button.ref)
        if found is None:
            batch.say(Reply(ReplyKind.INFO, m.text("plan.reminder_gone")))
            return PlanHandled(user_id)
        if button.action == "p":
            tx.reminders.update(found.id, status="paused", clear_due=True)
            batch.say(Reply(ReplyKind.INFO, m.text("plan.paused")))
        elif button.action == "r":
            if plan is not None and plan.state is PlanState.PAUSED:
                # After a pause for review, restarting asks whether a professional has checked first.
                return PlanHandled(user_id, review=True)
            tx.reminders.update(found.id, status="active", due_at=found.next_due(now))
            batch.say(Reply(ReplyKind.INFO, m.text("plan.resumed")))
        elif button.action == "x":
            tx.reminders.delete(user_id, found.id)
            batch.say(Reply(ReplyKind.INFO, m.text("plan.deleted")))
        elif button.action == "t":
            return PlanHandled(user_id, change_time_of=found.id)
        elif button.action == "d" and found.kind == "session":
            return PlanHandled(user_id, change_days_of=found.id)
        else:
            return PlanHandled(user_id, rejected="unknown reminder action")
        return PlanHandled(user_id)
