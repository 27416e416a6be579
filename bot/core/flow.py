"""The conversation flow: flows/*.yaml turned into one `transitions` machine.

The machine is built once at start-up with `model=None`; every input drives a
light `FlowModel` made from the stored row, so no machine is ever built per
message or per user (one per user measured 0.2-1.7 ms and 21-98 KiB each).
Conditions are named in YAML and looked up in bot/core/conditions.py;
`load_flow` checks that every name exists, every state is reachable and every
non-final state has a way on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from transitions import EventData, Machine

from bot.core.conditions import CONDITIONS, FlowModel
from bot.core.content import Content, ContentError, _Collector


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ACTIONS = (
    "show_result",
    "save_reminders",
    "save_timezone",
    "change_reminder_time",
    "change_reminder_days",
    "save_quiet_hours",
    "resume_plan",
    "keep_paused",
)
"""What the engine does on reaching a final state, by name (flows name them in YAML)."""


class StateModel(_Strict):
    name: str
    question: str | None = None
    final: bool = False
    action: str | None = None


class TransitionModel(_Strict):
    trigger: Literal["answer", "escalate", "restart"]
    source: str
    dest: str
    conditions: list[str] = Field(default_factory=list)


class FlowFile(_Strict):
    schema_version: Literal[1]
    name: str
    initial: str
    entries: list[str] = Field(default_factory=list)
    """States besides `initial` the engine may enter directly (e.g. to change one setting)."""
    states: list[StateModel] = Field(min_length=1)
    transitions: list[TransitionModel] = Field(min_length=1)


@dataclass(frozen=True)
class FlowState:
    name: str
    question: str | None
    final: bool
    action: str | None


@dataclass(frozen=True)
class Flow:
    """A validated flow and the one machine that runs it for every user."""

    name: str
    initial: str
    states: Mapping[str, FlowState]
    machine: Machine
    definition: FlowFile

    def fire(self, trigger: str, model: FlowModel) -> None:
        """Run one trigger on a per-user model; the model's `state` changes in place."""
        self.machine.events[trigger].trigger(model)

    def state_with(self, action: str) -> str | None:
        """The final state that runs `action`, if this flow has one."""
        return next((state.name for state in self.states.values() if state.action == action), None)

    def question_of(self, state: str) -> str | None:
        flow_state = self.states.get(state)
        return flow_state.question if flow_state else None


def _condition(name: str) -> Any:
    check = CONDITIONS[name]

    def evaluate(event: EventData) -> bool:
        model = event.model
        assert isinstance(model, FlowModel)
        return check(model)

    evaluate.__name__ = name
    return evaluate


def load_flow(path: Path, content: Content) -> Flow:
    """Load and validate a flow file; raise ContentError naming file and key."""
    found = _Collector(content.root)
    definition: FlowFile | None = found.parse(path, FlowFile)
    if definition is None:
        raise ContentError(found.problems)
    _validate(definition, path, content, found)
    if found.problems:
        raise ContentError(found.problems)
    states = {
        state.name: FlowState(state.name, state.question, state.final, state.action)
        for state in definition.states
    }
    machine = Machine(
        model=None,
        initial=None,
        auto_transitions=False,
        send_event=True,
        states=list(states),
        transitions=[
            {
                "trigger": item.trigger,
                "source": item.source,
                "dest": item.dest,
                "conditions": [_condition(name) for name in item.conditions],
            }
            for item in definition.transitions
        ],
    )
    return Flow(definition.name, definition.initial, states, machine, definition)


def _validate(definition: FlowFile, path: Path, content: Content, found: _Collector) -> None:
    names = [state.name for state in definition.states]
    known = set(names)
    if len(known) != len(names):
        found.add(path, "states", "state names must be unique")
    if definition.initial not in known:
        found.add(path, "initial", f"unknown state {definition.initial!r}")
    for index, state in enumerate(definition.states):
        if state.action is not None and state.action not in ACTIONS:
            found.add(
                path,
                f"states[{index}].action",
                f"unknown action {state.action!r}; use one of {list(ACTIONS)}",
            )
        if state.action is not None and not state.final:
            found.add(path, f"states[{index}].action", "only a final state can have an action")
        if state.question is None and not state.final:
            found.add(path, f"states[{index}]", f"state {state.name!r} needs a question or final: true")
        if state.question is not None and state.question not in content.questions:
            found.add(path, f"states[{index}].question", f"unknown question {state.question!r}")
    outgoing: dict[str, set[str]] = {name: set() for name in names}
    for index, item in enumerate(definition.transitions):
        where = f"transitions[{index}]"
        if item.source != "*" and item.source not in known:
            found.add(path, f"{where}.source", f"unknown state {item.source!r}")
        if item.dest not in known:
            found.add(path, f"{where}.dest", f"unknown state {item.dest!r}")
        for position, name in enumerate(item.conditions):
            if name not in CONDITIONS:
                found.add(
                    path,
                    f"{where}.conditions[{position}]",
                    f"condition {name!r} has no implementation (known: {sorted(CONDITIONS)})",
                )
        sources = names if item.source == "*" else [item.source]
        for source in sources:
            if source in outgoing:
                outgoing[source].add(item.dest)
    answering = {item.source for item in definition.transitions if item.trigger == "answer"}
    for index, state in enumerate(definition.states):
        if not state.final and state.name not in answering:
            found.add(path, f"states[{index}]", f"state {state.name!r} has no way out (no answer transition)")
    for index, entry in enumerate(definition.entries):
        if entry not in known:
            found.add(path, f"entries[{index}]", f"unknown state {entry!r}")
    if definition.initial in known:
        reachable: set[str] = set()
        for start in (definition.initial, *definition.entries):
            if start in known:
                reachable |= _reachable(start, outgoing)
        for index, state in enumerate(definition.states):
            if state.name not in reachable:
                found.add(
                    path,
                    f"states[{index}]",
                    f"state {state.name!r} is unreachable from {definition.initial!r} and the entries",
                )


def _reachable(start: str, outgoing: Mapping[str, set[str]]) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for nxt in outgoing.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
