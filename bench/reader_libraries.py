"""Reading typed text: psoasbot's own reader against clinical-NLP libraries, on the narrative set.

Run by hand, after installing the optional extra:

    .venv/bin/pip install -e '.[dev,reader-comparison]'
    .venv/bin/python bench/reader_libraries.py [--repeats 5] [--startup-runs 5] [--as-shipped]

It is not part of `make test` or `make bench`. Without the extra it says so and exits 0.

Readers compared, each on the English dev and holdout sets apart
(tests/narratives/en), all finding yes/no keys with the SAME target patterns, the
`flags.<key>.patterns` regexes of content/understanding/en.yaml, on the text as the
lexicon normalises it (lower case, apostrophes unified, "cannot" -> "can't"), so
what differs is how a mention is judged in its context:

- `psoasbot`: `bot.core.understanding.understand` as the bot runs it (which also reads
  areas, duration, pain score, age and sex, so it does more work per message).
- `medspacy`: `medspacy.load()` with its tokenizer and PyRuSH sentence splitter, a
  TargetMatcher holding one regex TargetRule per lexicon pattern (medspaCy's
  RegexMatcher; results in a span group without pruning, so overlapping mentions of
  two keys both survive), and ConText with its packaged default rules and the option
  `prune_on_target_overlap` (see `context_config`; `--as-shipped` leaves it off).
- `negspacy`: NegEx (negspacy, default `en_clinical` termset) on spaCy's own English
  tokenizer and rule-based sentencizer. An EntityRuler cannot hold these patterns
  (its patterns are phrases or one regex per token, and ours span several words), so
  the same regex matches are set as entities directly, in layers of
  non-overlapping spans because `doc.ents` may not overlap.
- `hybrid`: psoasbot's own target finding (patterns, `except`, `context` and
  `negative` phrasings, within the lexicon's sentences) with medspaCy's ConText (default
  rules) deciding negation, history, hypotheticals and family.

For a library reader a key is affirmed when one of its mentions is not negated,
historical, hypothetical or about family; it is negated (False) when every mention
is negated. ConText's "possible" (uncertain) does not exclude a mention: when in
doubt the bot escalates.

Figures per reader and split: agreement with each story's `expect` (flags_true:
the key is affirmed; flags_false: it is not affirmed, which is what triage needs;
negated: it is explicitly negated), start-up (a fresh process: imports, building,
the lexicon and one short message; the median, the fastest and the CPU time of
several runs) and CPU per message
(`time.process_time`, each story read `--repeats` times after a warm-up pass, the
median per story, then the median and p95 over all stories, long ones included).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: `bench` and `tests` live at the top

from bench.common import machine, memory_mb, percentile  # noqa: E402

LEXICON_PATH = ROOT / "content" / "understanding" / "en.yaml"
LANGUAGE = "en"
SPLITS = ("dev", "holdout")
READERS = ("psoasbot", "medspacy", "negspacy", "hybrid")
NEEDS: dict[str, tuple[str, ...]] = {
    "psoasbot": (),
    "medspacy": ("spacy", "medspacy"),
    "negspacy": ("spacy", "negspacy"),
    "hybrid": ("spacy", "medspacy"),
}
VERSIONS = ("spacy", "medspacy", "negspacy", "PyRuSH", "numpy")
INSTALL_HINT = ".venv/bin/pip install -e '.[dev,reader-comparison]'"
STARTUP_LIMIT_S = 2.0
CPU_LIMIT_MS = 2.0
WARM_UP_TEXT = "No fever, but since yesterday I can't pee and my left leg is numb."
GROUP = "psoasbot_targets"
"""The span group targets are kept in: unlike doc.ents, it may hold overlapping spans."""


# --------------------------------------------------------------------------- deciding


@dataclass(frozen=True)
class Mention:
    """One target found for a key, and what the context made of it."""

    key: str
    negated: bool
    excluded: bool  # historical, hypothetical or about family
    reasons: tuple[str, ...] = ()  # which of negated, historical, hypothetical, family
    negative: bool = False  # a phrasing that states the key is false ("sitting is a relief")


def decide(mentions: Iterable[Mention]) -> dict[str, bool]:
    """Affirmed when a mention stands; negated when every mention is negated."""
    by_key: dict[str, list[Mention]] = {}
    for mention in mentions:
        by_key.setdefault(mention.key, []).append(mention)
    flags: dict[str, bool] = {}
    for key, found in by_key.items():
        positive = [m for m in found if not m.negative]
        stated_false = any(m.negative and not m.negated and not m.excluded for m in found)
        if any(not m.negated and not m.excluded for m in positive):
            flags[key] = True
        elif (positive and all(m.negated for m in positive)) or stated_false:
            flags[key] = False
    return flags


def flag_patterns(lexicon: Any) -> list[tuple[str, str]]:
    """(key, regex source) of every flag pattern, placeholders already expanded."""
    return [(rule.key, pattern.pattern) for rule in lexicon.flags for pattern in rule.patterns]


def quiet_pyrush() -> None:
    """PyRuSH logs each sentence split at DEBUG through loguru, to standard error by default.

    A bot would switch that off (it would also put users' words in the log), so the bench
    does too; with standard error discarded it cost about 0.2 ms of PyRuSH's 3.3 ms here.
    """
    from loguru import logger

    logger.disable("PyRuSH")


def context_config(as_shipped: bool) -> dict[str, Any]:
    """ConText with its default rules, reading the targets from our span group.

    `prune_on_target_overlap` (a documented option, off by default) drops a modifier
    that lies within a target. Off, a target's own words negate it: ConText's check
    that a modifier does not overlap its target misses a modifier strictly inside
    the target, so the "n't" of "can't pee" or "can't put weight on it" negates the
    finding. `--as-shipped` measures that default.
    """
    return {
        "input_span_type": "group",
        "span_group_name": GROUP,
        "prune_on_target_overlap": not as_shipped,
    }


CONTEXT_ATTRIBUTES = ("negated", "historical", "hypothetical", "family")


def context_of(span: Any) -> tuple[bool, bool, tuple[str, ...]]:
    """(negated, excluded, reasons) as medspaCy's ConText set them on a span."""
    reasons = tuple(name for name in CONTEXT_ATTRIBUTES if getattr(span._, f"is_{name}"))
    return "negated" in reasons, any(name != "negated" for name in reasons), reasons


# --------------------------------------------------------------------------- readers


class Reader:
    """Reads one message; `findings` returns the reader's Findings.

    A library reader keeps the mentions of the last message in `mentions`, so the
    report can say why an expected key was missed.
    """

    name = ""
    mentions: list[Mention] | None = None

    def findings(self, text: str) -> Any:
        raise NotImplementedError


class OursReader(Reader):
    name = "psoasbot"

    def __init__(self, lexicon: Any, *, as_shipped: bool = False) -> None:
        from bot.core.understanding import understand

        self.lexicon = lexicon
        self.understand = understand

    def findings(self, text: str) -> Any:
        return self.understand(text, self.lexicon)


class MedspacyReader(Reader):
    name = "medspacy"

    def __init__(self, lexicon: Any, *, as_shipped: bool = False) -> None:
        import medspacy
        from medspacy.target_matcher import TargetRule

        from bot.core.understanding import Findings, normalise

        quiet_pyrush()
        nlp = medspacy.load(medspacy_enable=["medspacy_tokenizer", "medspacy_pyrush"])
        matcher = nlp.add_pipe(
            "medspacy_target_matcher",
            config={"result_type": "group", "span_group_name": GROUP, "prune": False},
        )
        nlp.add_pipe("medspacy_context", config=context_config(as_shipped))
        matcher.add(
            [
                TargetRule(literal=f"{key} pattern {index}", category=key, pattern=source)
                for index, (key, source) in enumerate(flag_patterns(lexicon))
            ]
        )
        self.nlp = nlp
        self.lexicon = lexicon
        self.normalise = normalise
        self.make = Findings

    def findings(self, text: str) -> Any:
        doc = self.nlp(self.normalise(text, self.lexicon))
        self.mentions = [Mention(span.label_, *context_of(span)) for span in doc.spans.get(GROUP, ())]
        return self.make(flags=decide(self.mentions))


def layers(spans: Sequence[tuple[int, int, str]]) -> list[list[tuple[int, int, str]]]:
    """Token spans (start, end, key) in as few lists of non-overlapping spans as possible."""
    result: list[list[tuple[int, int, str]]] = []
    for span in sorted(set(spans)):
        for layer in result:
            if layer[-1][1] <= span[0]:
                layer.append(span)
                break
        else:
            result.append([span])
    return result


class NegspacyReader(Reader):
    name = "negspacy"

    def __init__(self, lexicon: Any, *, as_shipped: bool = False) -> None:
        import re

        import negspacy.negation  # noqa: F401 - registers the "negex" factory
        import spacy
        from spacy.tokens import Span

        from bot.core.understanding import Findings, normalise

        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        self.negex = nlp.add_pipe("negex")  # default termset: en_clinical
        self.sentencizer = nlp.get_pipe("sentencizer")
        self.nlp = nlp
        self.span = Span
        # the same regexes as the medspaCy reader, with medspaCy's RegexMatcher flag
        self.patterns = [(key, re.compile(source, re.IGNORECASE)) for key, source in flag_patterns(lexicon)]
        self.lexicon = lexicon
        self.normalise = normalise
        self.make = Findings

    def findings(self, text: str) -> Any:
        doc = self.sentencizer(self.nlp.make_doc(self.normalise(text, self.lexicon)))
        spans: list[tuple[int, int, str]] = []
        for key, pattern in self.patterns:
            for match in pattern.finditer(doc.text):
                span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
                if span is not None and len(span):
                    spans.append((span.start, span.end, key))
        mentions: list[Mention] = []
        for layer in layers(spans):
            doc.ents = [self.span(doc, start, end, label=key) for start, end, key in layer]
            self.negex(doc)
            mentions.extend(
                Mention(ent.label_, bool(ent._.negex), False, ("negated",) if ent._.negex else ())
                for ent in doc.ents
            )
        self.mentions = mentions
        return self.make(flags=decide(mentions))


class HybridReader(Reader):
    """psoasbot's target finding, medspaCy ConText's judgement of each target."""

    name = "hybrid"

    def __init__(self, lexicon: Any, *, as_shipped: bool = False) -> None:
        import medspacy
        from spacy.tokens import Span

        from bot.core.understanding import Findings, normalise

        quiet_pyrush()
        nlp = medspacy.load(medspacy_enable=["medspacy_tokenizer", "medspacy_pyrush"])
        self.context = nlp.add_pipe("medspacy_context", config=context_config(as_shipped))
        self.before = [component for name, component in nlp.pipeline if name != "medspacy_context"]
        self.nlp = nlp
        self.span = Span
        self.lexicon = lexicon
        self.normalise = normalise
        self.make = Findings

    def targets(self, text: str) -> Iterator[tuple[int, int, str, bool]]:
        """(start, end, key, negative phrasing) as psoasbot's reader finds mentions, before context."""
        lexicon = self.lexicon
        position = 0
        sentences: list[tuple[int, int]] = []
        for end in lexicon.sentence_end.finditer(text):
            if end.start() > position:
                sentences.append((position, end.start()))
            position = end.end()
        if position < len(text):
            sentences.append((position, len(text)))
        for rule in lexicon.flags:
            for start, stop in sentences:
                if rule.context is not None and not rule.context.search(text, start, stop):
                    continue
                excepted = (
                    [m.span() for m in rule.exceptions.finditer(text, start, stop)]
                    if rule.exceptions is not None
                    else []
                )
                for pattern in rule.patterns:
                    for match in pattern.finditer(text, start, stop):
                        if match.end() > match.start() and not any(
                            s < match.end() and match.start() < e for s, e in excepted
                        ):
                            yield match.start(), match.end(), rule.key, False
                if rule.negative is not None:
                    for match in rule.negative.finditer(text, start, stop):
                        yield match.start(), match.end(), rule.key, True

    def findings(self, text: str) -> Any:
        clean = self.normalise(text, self.lexicon)
        doc = self.nlp.make_doc(clean)
        for component in self.before:
            doc = component(doc)
        spans = []
        for start, end, key, negative in self.targets(clean):
            span = doc.char_span(start, end, alignment_mode="expand")
            if span is not None and len(span):
                spans.append(self.span(doc, span.start, span.end, label=f"{key}!" if negative else key))
        doc.spans[GROUP] = spans
        doc = self.context(doc)
        self.mentions = [
            Mention(span.label_.rstrip("!"), *context_of(span), negative=span.label_.endswith("!"))
            for span in doc.spans[GROUP]
        ]
        return self.make(flags=decide(self.mentions))


BUILDERS: dict[str, Callable[..., Reader]] = {
    "psoasbot": OursReader,
    "medspacy": MedspacyReader,
    "negspacy": NegspacyReader,
    "hybrid": HybridReader,
}


# --------------------------------------------------------------------------- measuring


def missing(reader: str) -> list[str]:
    return [name for name in NEEDS[reader] if importlib.util.find_spec(name) is None]


def startup_child(reader: str) -> None:
    """In a fresh process: imports, lexicon, pipeline and one message; prints JSON."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    from bot.core.understanding import load_lexicon

    lexicon = load_lexicon(LEXICON_PATH)
    loaded = time.perf_counter()
    instance = BUILDERS[reader](lexicon)
    instance.findings(WARM_UP_TEXT)
    ready = time.perf_counter()
    print(
        json.dumps(
            {
                "lexicon_s": loaded - started,
                "ready_s": ready - started,
                "ready_cpu_s": time.process_time() - cpu_started,
                "rss_mb": memory_mb()["VmHWM"],
            }
        )
    )


def startup(reader: str, runs: int) -> dict[str, float]:
    """Medians over `runs` fresh processes (one more run first, discarded, warms the disk cache).

    The wall-clock time is what the limit is about; on a machine shared with other work
    it varies from run to run, so the fastest run and the CPU time are given too.
    """
    samples: list[dict[str, float]] = []
    for index in range(runs + 1):
        done = subprocess.run(
            [sys.executable, __file__, "--startup-child", reader],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        if index:
            samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    summary = {name: statistics.median(s[name] for s in samples) for name in samples[0]}
    summary["ready_min_s"] = min(s["ready_s"] for s in samples)
    return summary


def cpu_per_message(reader: Reader, texts: Sequence[str], repeats: int) -> list[float]:
    """CPU seconds per text: the median of `repeats` reads, after one warm-up read of each."""
    for text in texts:
        reader.findings(text)
    samples: list[list[float]] = [[] for _ in texts]
    for _ in range(repeats):
        for index, text in enumerate(texts):
            started = time.process_time()
            reader.findings(text)
            samples[index].append(time.process_time() - started)
    return [statistics.median(values) for values in samples]


@dataclass
class Row:
    reader: str
    split: str
    agreement: dict[str, tuple[int, int]]
    cpu_ms: list[float]
    missed_true: Counter[str]
    wrong_false: Counter[str]
    why_missed: Counter[str]


def measure(reader: Reader, split: str, stories: Sequence[Any], repeats: int) -> Row:
    from tests.narratives import expect_agreement

    agreement = expect_agreement(stories, reader.findings)
    missed_true: Counter[str] = Counter()
    wrong_false: Counter[str] = Counter()
    why_missed: Counter[str] = Counter()
    for story in stories:
        flags = reader.findings(story.narrative).flags
        missed = [k for k in story.expect.flags_true if flags.get(k) is not True]
        missed_true.update(missed)
        wrong_false.update(k for k in story.expect.flags_false if flags.get(k) is True)
        if reader.mentions is not None:
            for key in missed:
                mine = [m for m in reader.mentions if m.key == key and not m.negative]
                why_missed.update({reason for m in mine for reason in m.reasons} if mine else {"not found"})
    cpu = [seconds * 1000 for seconds in cpu_per_message(reader, [s.narrative for s in stories], repeats)]
    return Row(reader.name, split, agreement, cpu, missed_true, wrong_false, why_missed)


def stage_costs(lexicon: Any, texts: Sequence[str], repeats: int) -> dict[str, list[float]]:
    """CPU ms per message of each stage of the library pipelines on its own, over all stories.

    Each stage gets its input prepared outside the timing (normalised text, or a
    tokenised doc with sentences), so the figures add up to roughly a reader's cost.
    """
    import medspacy
    import spacy
    from medspacy.target_matcher import TargetRule

    from bot.core.understanding import normalise

    quiet_pyrush()
    clean = [normalise(text, lexicon) for text in texts]
    blank = spacy.blank("en")
    blank.add_pipe("sentencizer")
    sentences = blank.get_pipe("sentencizer")
    med = medspacy.load(medspacy_enable=["medspacy_tokenizer", "medspacy_pyrush"])
    pyrush = med.get_pipe("medspacy_pyrush")
    context = med.add_pipe("medspacy_context", config=context_config(False))
    matcher = med.add_pipe("medspacy_target_matcher", config={"result_type": None, "prune": False})
    matcher.add(
        [
            TargetRule(literal=f"{key} pattern {index}", category=key, pattern=source)
            for index, (key, source) in enumerate(flag_patterns(lexicon))
        ]
    )
    split = [pyrush(med.make_doc(text)) for text in clean]
    for doc in split:
        doc.spans[GROUP] = []

    def timed(work: Callable[[Any], object], inputs: Sequence[Any]) -> list[float]:
        return [seconds * 1000 for seconds in cpu_per_message(_Stage(work), inputs, repeats)]

    return {
        "lexicon normalisation (input of every library reader)": timed(
            lambda t: normalise(t, lexicon), texts
        ),
        "spaCy tokenizer (blank English)": timed(blank.make_doc, clean),
        "spaCy tokenizer + rule-based sentencizer": timed(lambda t: sentences(blank.make_doc(t)), clean),
        "medspaCy tokenizer": timed(med.make_doc, clean),
        "medspaCy tokenizer + PyRuSH sentences": timed(lambda t: pyrush(med.make_doc(t)), clean),
        f"TargetMatcher, {len(matcher.rules)} regex rules, on a tokenised doc": timed(matcher, split),
        "ConText, default rules, no targets, on a doc with sentences": timed(context, split),
    }


class _Stage(Reader):
    """One pipeline stage, timed like a reader."""

    def __init__(self, work: Callable[[Any], object]) -> None:
        self.work = work

    def findings(self, text: Any) -> Any:
        return self.work(text)


def format_stages(costs: dict[str, list[float]]) -> str:
    lines = ["CPU per message of each stage alone, all stories (ms):"]
    lines.append(f"  {'stage':<64}{'p50':>8}{'p95':>8}{'max':>9}")
    for name, values in costs.items():
        lines.append(
            f"  {name:<64}{percentile(values, 50):>8.2f}{percentile(values, 95):>8.2f}{max(values):>9.2f}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- reporting


def pct(hit: int, total: int) -> str:
    return f"{100 * hit / total:5.1f}% ({hit}/{total})" if total else "-"


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in VERSIONS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def table(rows: Sequence[Row], starts: dict[str, dict[str, float]]) -> str:
    header = (
        f"{'reader':<10}{'split':<9}{'flags_true':>18}{'flags_false':>18}{'negated':>18}"
        f"{'start-up s':>14}{'CPU ms p50':>12}{'p95':>8}{'max':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        a = row.agreement
        start = starts.get(row.reader)
        shown = "-" if start is None else f"{start['ready_s']:.2f} ({start['ready_min_s']:.2f})"
        lines.append(
            f"{row.reader:<10}{row.split:<9}{pct(*a['flags_true']):>18}{pct(*a['flags_false']):>18}"
            f"{pct(*a['flags_false_negated']):>18}"
            f"{shown:>14}"
            f"{percentile(row.cpu_ms, 50):>12.2f}{percentile(row.cpu_ms, 95):>8.2f}{max(row.cpu_ms):>8.2f}"
        )
    return "\n".join(lines)


def differences(rows: Sequence[Row]) -> str:
    lines = ["Keys most often missed (expected true, not affirmed) / wrongly affirmed (expected false):"]
    for row in rows:
        missed = ", ".join(f"{k} {n}" for k, n in row.missed_true.most_common(6)) or "none"
        wrong = ", ".join(f"{k} {n}" for k, n in row.wrong_false.most_common(4)) or "none"
        lines.append(f"  {row.reader:<9}{row.split:<8} missed: {missed}")
        lines.append(f"  {'':<17} wrongly affirmed: {wrong}")
        if row.why_missed:
            why = ", ".join(f"{k} {n}" for k, n in row.why_missed.most_common())
            lines.append(f"  {'':<17} missed keys whose mentions were: {why}")
    return "\n".join(lines)


def verdict(rows: Sequence[Row], starts: dict[str, dict[str, float]]) -> str:
    """One line per library reader: within the limits, and how it reads against psoasbot's reader."""
    ours = {row.split: row for row in rows if row.reader == "psoasbot"}
    base = starts.get("psoasbot", {}).get("ready_min_s")
    lines = [
        f"Limits: start-up <= {STARTUP_LIMIT_S:.0f} s (the fastest run), CPU per message <= "
        f"{CPU_LIMIT_MS:.0f} ms (p95). "
        "Start-up as median (fastest).\nAgreement: expected keys read right, gained (+) or lost (-) "
        "against psoasbot's reader, dev / holdout."
    ]
    for name in READERS[1:]:
        mine = [row for row in rows if row.reader == name]
        if not mine or not ours:
            continue
        start = starts.get(name, {}).get("ready_min_s", float("nan"))
        added = "" if base is None else f" (+{start - base:.2f} s over psoasbot's)"
        p95 = max(percentile(row.cpu_ms, 95) for row in mine)
        within = start <= STARTUP_LIMIT_S and p95 <= CPU_LIMIT_MS
        deltas = {
            field: " / ".join(
                f"{row.agreement[field][0] - ours[row.split].agreement[field][0]:+d}" for row in mine
            )
            for field in ("flags_true", "flags_false", "flags_false_negated")
        }
        lines.append(
            f"  {name}: start-up {start:.2f} s{added}, CPU p95 {p95:.2f} ms -> "
            f"{'within' if within else 'OUTSIDE'} the limits; flags_true {deltas['flags_true']}, "
            f"flags_false {deltas['flags_false']}, negated {deltas['flags_false_negated']}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5, help="timed reads of each story (default 5)")
    parser.add_argument("--startup-runs", type=int, default=5, help="fresh processes per reader (default 5)")
    parser.add_argument("--only", nargs="*", choices=READERS, help="measure only these readers")
    parser.add_argument(
        "--as-shipped",
        action="store_true",
        help="ConText without prune_on_target_overlap (its default; see context_config)",
    )
    parser.add_argument("--no-stages", action="store_true", help="skip the CPU cost of each stage")
    parser.add_argument("--startup-child", choices=READERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.startup_child:
        startup_child(args.startup_child)
        return 0

    wanted = list(args.only or READERS)
    libraries = [name for name in wanted if name != "psoasbot"]
    if libraries and all(missing(name) for name in libraries):
        print(
            "The library comparison needs the optional extra `reader-comparison` "
            f"(spaCy, medspaCy, negspacy), which is not installed here.\nInstall it with:  {INSTALL_HINT}"
        )
        return 0
    for name in list(wanted):
        lacking = missing(name)
        if lacking:
            print(f"{name}: skipped, not installed: {', '.join(lacking)}")
            wanted.remove(name)

    from bot.core.understanding import load_lexicon
    from tests.narratives import load_stories

    lexicon = load_lexicon(LEXICON_PATH)
    stories = {split: load_stories(LANGUAGE, split) for split in SPLITS}
    facts = machine()
    print(
        f"{time.strftime('%Y-%m-%d')}, {facts['cores']} cores {facts['cpu_model']}, Python {facts['python']}, "
        + ", ".join(f"{k} {v}" for k, v in versions().items() if v)
    )
    print(
        f"stories: {', '.join(f'{split} {len(items)}' for split, items in stories.items())}; "
        f"{len(flag_patterns(lexicon))} target patterns for {len(lexicon.flags)} keys; "
        f"CPU: median of {args.repeats} reads per story; start-up: median of {args.startup_runs} processes\n"
    )

    starts: dict[str, dict[str, float]] = {}
    rows: list[Row] = []
    for name in wanted:
        starts[name] = startup(name, args.startup_runs)
        reader = BUILDERS[name](lexicon, as_shipped=args.as_shipped)
        for split in SPLITS:
            rows.append(measure(reader, split, stories[split], args.repeats))
        print(
            f"  {name}: ready in {starts[name]['ready_s']:.2f} s (fastest {starts[name]['ready_min_s']:.2f} s, "
            f"CPU {starts[name]['ready_cpu_s']:.2f} s; lexicon {starts[name]['lexicon_s']:.2f} s), "
            f"peak RSS {starts[name]['rss_mb']:.0f} MB",
            flush=True,
        )
    print()
    print(table(rows, starts))
    print()
    print(differences(rows))
    if not args.no_stages and not missing("medspacy") and not missing("negspacy"):
        print()
        texts = [story.narrative for split in SPLITS for story in stories[split]]
        print(format_stages(stage_costs(lexicon, texts, args.repeats)))
    print()
    print(verdict(rows, starts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
