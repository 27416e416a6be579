"""Conditions over answers, written as data in content files and compiled once.

Red flags, contraindications and routine matching all say *when* they apply with
the same small expression language, so a clinician can read and change them
without touching Python:

    fever                                  # a boolean answer is true
    {all: [fever, iv_drug_use]}            # every part holds
    {any: [saddle_numbness, {not: fever}]} # at least one part holds
    {not: previously_assessed}
    {key: age, gte: 50}                    # comparisons: eq ne gt gte lt lte
    {key: sex, in: [F, X]}
    {key: pain_location, has_any: [groin, hip_front]}   # list answers
    {key: urgency, eq: ROUTINE}            # derived facts, where the caller offers them
    always                                 # matches everything (a default rule)

An unknown answer (a number or choice nobody gave) never satisfies a comparison,
so a rule like "age >= 50" cannot fire on a missing age. Compilation checks every
key and operator and reports the file and key path of any mistake.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.answers import KEY_SPECS, KeyKind, value_of

Predicate = Callable[[Mapping[str, Any]], bool]

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
_LIST_OPERATORS = ("has_any", "has_all")


class RuleError(ValueError):
    """A condition in a content file cannot be compiled; the message names where."""


@dataclass(frozen=True)
class FactSpec:
    """A derived fact a caller adds beside the answers (e.g. the triage urgency)."""

    name: str
    kind: KeyKind
    choices: tuple[str, ...] = ()


def _lookup(name: str, facts: Mapping[str, FactSpec]) -> Callable[[Mapping[str, Any]], Any]:
    if name in facts:
        return lambda context: context.get(name)
    return lambda context: value_of(context, name)


def _kind_of(name: str, facts: Mapping[str, FactSpec], where: str) -> KeyKind:
    if name in facts:
        return facts[name].kind
    if name in KEY_SPECS:
        return KEY_SPECS[name].kind
    raise RuleError(f"{where}: unknown answer key {name!r}")


def compile_condition(
    expression: object, where: str, facts: Mapping[str, FactSpec] | None = None
) -> Predicate:
    """Compile one condition expression into a predicate over answers (plus facts).

    `where` is the "file: key.path" prefix used in error messages.
    """
    known_facts = facts or {}
    if expression == "always":
        return lambda context: True
    if isinstance(expression, str):
        kind = _kind_of(expression, known_facts, where)
        if kind is not KeyKind.BOOL:
            raise RuleError(f"{where}: {expression!r} is not a yes/no answer; compare it with key:")
        get = _lookup(expression, known_facts)
        return lambda context: get(context) is True
    if not isinstance(expression, Mapping):
        raise RuleError(f"{where}: expected a key name or a mapping, got {expression!r}")
    if "key" in expression:
        return _compile_comparison(expression, where, known_facts)
    if len(expression) != 1:
        raise RuleError(f"{where}: expected exactly one of all/any/not, got {sorted(expression)}")
    ((combinator, operand),) = expression.items()
    if combinator == "not":
        inner = compile_condition(operand, f"{where}.not", known_facts)
        return lambda context: not inner(context)
    if combinator in ("all", "any"):
        if not isinstance(operand, Sequence) or isinstance(operand, str) or not operand:
            raise RuleError(f"{where}.{combinator}: expected a non-empty list of conditions")
        parts = tuple(
            compile_condition(part, f"{where}.{combinator}[{index}]", known_facts)
            for index, part in enumerate(operand)
        )
        if combinator == "all":
            return lambda context: all(part(context) for part in parts)
        return lambda context: any(part(context) for part in parts)
    raise RuleError(f"{where}: unknown operator {combinator!r} (use all, any, not or key)")


def _compile_comparison(
    expression: Mapping[str, Any], where: str, facts: Mapping[str, FactSpec]
) -> Predicate:
    name = expression["key"]
    if not isinstance(name, str):
        raise RuleError(f"{where}.key: expected a key name, got {name!r}")
    kind = _kind_of(name, facts, f"{where}.key")
    operators = [op for op in expression if op != "key"]
    if len(operators) != 1:
        raise RuleError(f"{where}: a comparison needs exactly one operator, got {operators}")
    (op,) = operators
    target = expression[op]
    get = _lookup(name, facts)
    choices = facts[name].choices if name in facts else KEY_SPECS[name].choices

    if op in _LIST_OPERATORS:
        if kind is not KeyKind.AREA_LIST:
            raise RuleError(f"{where}.{op}: {name!r} is not a list answer")
        wanted = _as_choice_list(target, choices, f"{where}.{op}")
        if op == "has_any":
            return lambda context: any(item in (get(context) or ()) for item in wanted)
        return lambda context: all(item in (get(context) or ()) for item in wanted)
    if op == "in":
        options = _as_choice_list(target, choices, f"{where}.in")
        return lambda context: get(context) in options
    if op not in _COMPARISONS:
        raise RuleError(f"{where}: unknown comparison {op!r}")
    compare = _COMPARISONS[op]
    if kind in (KeyKind.NUMBER, KeyKind.INTEGER):
        if isinstance(target, bool) or not isinstance(target, int | float):
            raise RuleError(f"{where}.{op}: {name!r} is a number; compare it with a number")
    elif kind in (KeyKind.CHOICE, KeyKind.BOOL):
        if op not in ("eq", "ne"):
            raise RuleError(f"{where}.{op}: {name!r} can only be compared with eq or ne")
        if kind is KeyKind.CHOICE:
            _as_choice_list([target], choices, f"{where}.{op}")
    else:
        raise RuleError(f"{where}.{op}: {name!r} cannot be compared")

    def compare_known(context: Mapping[str, Any]) -> bool:
        value = get(context)
        return value is not None and bool(compare(value, target))

    return compare_known


def _as_choice_list(target: object, choices: tuple[str, ...], where: str) -> tuple[str, ...]:
    if not isinstance(target, Sequence) or isinstance(target, str):
        raise RuleError(f"{where}: expected a list of values")
    items = tuple(str(item) for item in target)
    unknown = [item for item in items if choices and item not in choices]
    if unknown:
        raise RuleError(f"{where}: unknown value(s) {unknown}; expected some of {list(choices)}")
    return items


def negated_keys(expression: object, negated: bool = False) -> frozenset[str]:
    """Yes/no keys the condition reads under an odd number of `not`s.

    For such a key a yes can make a rule stop matching ("new pain after 50 and
    not previously_assessed"): a reading of typed text must never add that yes
    where it would lower an urgency (see `triage.merge_text_findings`).
    """
    if isinstance(expression, str):
        return frozenset({expression}) if negated and expression != "always" else frozenset()
    if not isinstance(expression, Mapping) or "key" in expression:
        return frozenset()
    found: frozenset[str] = frozenset()
    for combinator, operand in expression.items():
        if combinator == "not":
            found |= negated_keys(operand, not negated)
        elif combinator in ("all", "any") and isinstance(operand, Sequence):
            for part in operand:
                found |= negated_keys(part, negated)
    return found


def condition_keys(expression: object) -> frozenset[str]:
    """Every yes/no key a condition reads, at any depth."""
    if isinstance(expression, str):
        return frozenset() if expression == "always" else frozenset({expression})
    if not isinstance(expression, Mapping) or "key" in expression:
        return frozenset()
    found: frozenset[str] = frozenset()
    for combinator, operand in expression.items():
        if combinator == "not":
            found |= condition_keys(operand)
        elif combinator in ("all", "any") and isinstance(operand, Sequence):
            for part in operand:
                found |= condition_keys(part)
    return found
