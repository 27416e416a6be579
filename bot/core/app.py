"""Build the core once: content, the flow machine and the engine.

Every front calls `build_core` at start-up; it fails fast with a ContentError
that names the file and key of every problem, before any user is answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.core.content import Content, ContentError, load_content
from bot.core.engine import ConversationEngine
from bot.core.flow import Flow, load_flow

SYMPTOM_CHECK_FLOW = "symptom_check.yaml"
FLOW_FILES = ("symptom_check.yaml", "reminder_setup.yaml")


@dataclass(frozen=True)
class Core:
    content: Content
    flow: Flow
    flows: dict[str, Flow]
    engine: ConversationEngine


def build_core(
    content_dir: Path, flows_dir: Path, language: str = "en", *, offer_reminders: bool = False
) -> Core:
    """Load and check everything; `offer_reminders` is for fronts that can deliver them."""
    content = load_content(content_dir, language)
    problems: list[str] = []
    flows: dict[str, Flow] = {}
    for name in FLOW_FILES:
        try:
            flow = load_flow(flows_dir / name, content)
        except ContentError as error:
            problems.extend(error.problems)
            continue
        flows[flow.name] = flow
    if problems:
        raise ContentError(problems)
    engine = ConversationEngine(content, flows, offer_reminders=offer_reminders)
    return Core(content, flows["symptom_check"], flows, engine)
