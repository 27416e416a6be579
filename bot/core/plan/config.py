"""content/plan.yaml: the tunables of a plan, validated once at start-up.

The fallback and eased routines, quiet hours, the snooze length, the grace for a
reminder missed during downtime and the check-in times are choices, not
mechanisms, so they live in content where whoever runs the bot can change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.core import yamlfile
from bot.core.answers import Weekday
from bot.core.clock import LocalTime, QuietHours

_LOCAL_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class PlanConfigError(ValueError):
    """content/plan.yaml is invalid; `problems` names the file and key of each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid plan settings:\n  " + "\n  ".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _RoutinesModel(_Strict):
    default: str
    eased: str


class _QuietModel(_Strict):
    start: str = Field(pattern=_LOCAL_TIME)
    end: str = Field(pattern=_LOCAL_TIME)


class _RemindersModel(_Strict):
    quiet_hours: _QuietModel
    snooze_minutes: int = Field(ge=5, le=240)
    missed_grace_minutes: int = Field(ge=0, le=24 * 60)
    session_resume_hours: int = Field(ge=1, le=48)


class _LocalTimeModel(_Strict):
    local_time: str = Field(pattern=_LOCAL_TIME)


class _WeeklyModel(_Strict):
    weekday: Weekday
    local_time: str = Field(pattern=_LOCAL_TIME)


class _CheckinsModel(_Strict):
    day_after: _LocalTimeModel
    weekly: _WeeklyModel


class _FileModel(_Strict):
    schema_version: Literal[1]
    routines: _RoutinesModel
    reminders: _RemindersModel
    checkins: _CheckinsModel


@dataclass(frozen=True)
class PlanConfig:
    default_routine: str
    eased_routine: str
    quiet_hours: QuietHours
    snooze: timedelta
    missed_grace: timedelta
    session_resume: timedelta
    day_after_checkin_time: LocalTime
    weekly_checkin_weekday: str
    weekly_checkin_time: LocalTime


def _location(parts: tuple[int | str, ...]) -> str:
    return ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in parts).replace(".[", "[")


def _time(text: str) -> LocalTime:
    parsed = LocalTime.parse(text)
    assert parsed is not None  # the schema's pattern admits only valid HH:MM
    return parsed


def load_plan_config(path: Path, name: str | None = None) -> PlanConfig:
    """Load and validate the plan settings; PlanConfigError names file and key of each problem."""
    where = name or str(path)
    try:
        with path.open(encoding="utf-8") as handle:
            raw: Any = yamlfile.safe_load(handle)
    except FileNotFoundError:
        raise PlanConfigError([f"{where}: file is missing"]) from None
    except yaml.YAMLError as error:
        raise PlanConfigError([f"{where}: not valid YAML: {error}"]) from None
    try:
        model = _FileModel.model_validate(raw)
    except ValidationError as error:
        raise PlanConfigError(
            [f"{where}: {_location(detail['loc'])}: {detail['msg']}" for detail in error.errors()]
        ) from None
    reminders, checkins = model.reminders, model.checkins
    return PlanConfig(
        default_routine=model.routines.default,
        eased_routine=model.routines.eased,
        quiet_hours=QuietHours(_time(reminders.quiet_hours.start), _time(reminders.quiet_hours.end)),
        snooze=timedelta(minutes=reminders.snooze_minutes),
        missed_grace=timedelta(minutes=reminders.missed_grace_minutes),
        session_resume=timedelta(hours=reminders.session_resume_hours),
        day_after_checkin_time=_time(checkins.day_after.local_time),
        weekly_checkin_weekday=checkins.weekly.weekday,
        weekly_checkin_time=_time(checkins.weekly.local_time),
    )
