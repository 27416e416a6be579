"""Build the core once: content, the flow machine and the engine.

Every front calls `build_core` at start-up; it fails fast with a ContentError
that names the file and key of every problem, before any user is answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.core.content import Content, load_content
from bot.core.engine import ConversationEngine
from bot.core.flow import Flow, load_flow

SYMPTOM_CHECK_FLOW = "symptom_check.yaml"


@dataclass(frozen=True)
class Core:
    content: Content
    flow: Flow
    engine: ConversationEngine


def build_core(content_dir: Path, flows_dir: Path, language: str = "en") -> Core:
    content = load_content(content_dir, language)
    flow = load_flow(flows_dir / SYMPTOM_CHECK_FLOW, content)
    return Core(content, flow, ConversationEngine(content, flow))
