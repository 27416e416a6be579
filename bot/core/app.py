"""Build the core once: content, the flow machines, the plan's rules and the engine.

Every front calls `build_core` at start-up; it fails fast with a ContentError
that names the file and key of every problem, before any user is answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.core import yamlfile
from bot.core.content import Content, ContentError, load_content
from bot.core.engine import ConversationEngine
from bot.core.flow import Flow, load_flow
from bot.core.plan.lifecycle import Lifecycle, PlanRules, load_lifecycle

SYMPTOM_CHECK_FLOW = "symptom_check.yaml"
FLOW_FILES = ("symptom_check.yaml", "reminder_setup.yaml", "plan_review.yaml")
PLAN_FLOW = "plan.yaml"


@dataclass(frozen=True)
class Core:
    content: Content
    flow: Flow
    flows: dict[str, Flow]
    lifecycle: Lifecycle
    plan_rules: PlanRules
    engine: ConversationEngine


def build_core(
    content_dir: Path,
    flows_dir: Path,
    language: str = "en",
    *,
    offer_reminders: bool = False,
    front: str | None = None,
) -> Core:
    """Load and check everything, every language included; `language` is the default one (for
    people whose own is not known), `offer_reminders` is for fronts that can deliver them, and
    `front` picks the sentences that front says its own way (e.g. "type 2" in the terminal)."""
    content = load_content(content_dir, language, front=front)
    problems: list[str] = []
    flows: dict[str, Flow] = {}
    for name in FLOW_FILES:
        try:
            flow = load_flow(flows_dir / name, content)
        except ContentError as error:
            problems.extend(error.problems)
            continue
        flows[flow.name] = flow
    lifecycle = _load_lifecycle(flows_dir / PLAN_FLOW, problems)
    if problems or lifecycle is None:
        raise ContentError(problems)
    plan_rules = PlanRules(lifecycle, content.plan)
    engine = ConversationEngine(content, flows, plan_rules, offer_reminders=offer_reminders)
    return Core(content, flows["symptom_check"], flows, lifecycle, plan_rules, engine)


def _load_lifecycle(path: Path, problems: list[str]) -> Lifecycle | None:
    where = f"{path.parent.name}/{path.name}"
    try:
        raw = yamlfile.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        problems.append(f"{where}: cannot be read: {error.strerror}")
        return None
    except Exception as error:
        problems.append(f"{where}: not valid YAML: {error}")
        return None
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping at the top level")
        return None
    lifecycle, found = load_lifecycle(raw, where)
    problems.extend(found)
    return lifecycle
