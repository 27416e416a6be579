"""`psoasbot assess`: one JSON object of answers in, one JSON result out.

The contract (README: "psoasbot assess") is used by tools outside the project:
exit 0 with the result on standard output, or exit 2 with a one-line error on
standard error for input that is not a JSON object of valid answers. An optional
`language` key ("de", "es-MX") picks the language of `message` and of the text reader.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import IO, Any

from bot.core import locales
from bot.core.answers import AnswerError, validate_answers
from bot.core.app import Core
from bot.core.presenter import Presenter
from bot.core.triage import merge_text_findings

EXIT_INVALID = 2
MAX_INPUT_BYTES = 1_048_576
"""The largest JSON input read (1 MiB): room for the longest `text` (MAX_TEXT_CHARS
characters, up to 4 bytes each) and every other answer; anything larger is refused."""


class InvalidInput(ValueError):
    """Input that does not fit the contract; its message is the one line printed."""


def assess(raw_json: str, core: Core) -> dict[str, Any]:
    """Triage one answer set given as JSON text."""
    try:
        data = json.loads(raw_json)
    except (json.JSONDecodeError, RecursionError) as error:
        raise InvalidInput(f"input is not valid JSON: {error}") from error
    engine = core.engine
    if isinstance(data, dict) and "language" in data:
        # Not an answer: the language of `message`, and the one `text` is read in.
        data = dict(data)
        tag = data.pop("language")
        code = locales.match(tag, core.content.languages) if isinstance(tag, str) else None
        if code is None:
            present = ", ".join(core.content.languages)
            raise InvalidInput(f"language: {tag!r} is not a language present (present: {present})")
        engine = engine.in_language(code)
    try:
        answers = validate_answers(data)
    except AnswerError as error:
        raise InvalidInput(str(error)) from error
    # The routine a first check would offer: the plan that result starts, as every front shows it.
    result, _, routine = engine.assess(answers, None, datetime.now(UTC))
    content = engine.content
    replies = Presenter(content).result(result, merge_text_findings(answers, content), routine, 0)
    first = replies[0]
    return {
        "urgency": result.urgency.value,
        "reasons": list(result.reasons + result.contraindications) or ["no_red_flags"],
        "ball_release_allowed": result.ball_release_allowed,
        "routine": routine.id if routine else None,
        "message": f"{first.title}\n\n{first.text}" if first.title else first.text,
    }


def run_assess(source: IO[str], output: IO[str], errors: IO[str], core: Core) -> int:
    raw = source.read(MAX_INPUT_BYTES + 1)
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
        errors.write(f"psoasbot assess: input is larger than {MAX_INPUT_BYTES:,} bytes\n")
        return EXIT_INVALID
    try:
        result = assess(raw, core)
    except InvalidInput as error:
        errors.write(f"psoasbot assess: {str(error).splitlines()[0]}\n")
        return EXIT_INVALID
    output.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0
