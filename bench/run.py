"""psoasbot benchmarks: `make bench`, or `python -m bench.run [--quick] [--users N] ...`.

Prints a table (figure, target, measured, ratio, result) and writes bench/out/results.json (not
tracked by git; `--save-reference` also writes bench/reference/<date>.json, to commit on purpose).
Everything runs on this machine against 127.0.0.1: the Bot API stand-in of tests/standin
in this process, each bot in a subprocess of its own. See the module docstrings of
bench/conversation.py, bench/reminders.py, bench/core_worker.py and bench/tick_worker.py
for what exactly is measured; `--help` for the knobs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, machine

RESULTS = ROOT / "bench" / "out" / "results.json"
"""Every run writes here (ignored by git), so running the bench never leaves the tree dirty."""
REFERENCE = ROOT / "bench" / "reference"
"""Reference runs, committed on purpose (`--save-reference`), each named by its date."""
PROFILES = ROOT / "bench" / "profiles"


@dataclass(frozen=True)
class Plan:
    quick: bool
    stored: int
    users: int
    window: float | None
    cost_rounds: int
    cost_users: int
    sequential_checks: int
    rate: float
    low_rate: float
    offer_seconds: float
    drain: float
    core_seconds: float
    core_sizes: tuple[int, ...]
    compliance_reminders: int
    compliance_timeout: float
    capacity_reminders: int
    capacity_timeout: float


def make_plan(args: argparse.Namespace) -> Plan:
    quick = args.quick
    stored = args.stored or (20_000 if quick else 100_000)
    return Plan(
        quick=quick,
        stored=stored,
        users=args.users or (300 if quick else 2_000),
        window=None if args.complete else (args.window or (10.0 if quick else 30.0)),
        cost_rounds=1 if quick else 2,
        cost_users=20 if quick else 40,
        sequential_checks=2 if quick else 3,
        rate=200.0,
        low_rate=20.0,
        offer_seconds=4.0 if quick else 8.0,
        drain=8.0 if quick else 15.0,
        core_seconds=3.0 if quick else 5.0,
        core_sizes=tuple(sorted({1_000, 10_000, stored})),
        compliance_reminders=300 if quick else 900,
        compliance_timeout=60.0 if quick else 120.0,
        capacity_reminders=args.capacity or (2_000 if quick else 10_000),
        capacity_timeout=args.capacity_timeout or (30.0 if quick else 60.0),
    )


# ---------------------------------------------------------------------------- the table


@dataclass
class Row:
    figure: str
    target: str
    measured: str
    ratio: str
    result: str  # PASS, FAIL, info, NOT MEASURED


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: str, target: str, measured: str, ratio: str = "", result: str = "info") -> None:
        self.rows.append(Row(figure, target, measured, ratio, result))
        print(f"  -> {figure}: {measured}  [{result}]", flush=True)

    def table(self, measured_width: int = 84) -> str:
        """The rows by figure, the measured column wrapped to `measured_width` characters."""
        head = Row("figure", "target", "measured", "ratio", "result")
        ordered = sorted(self.rows, key=lambda r: r.figure.split(" ", 1)[0])
        rows = [head, *ordered]
        widths = [
            max(len(r.figure) for r in rows),
            max(len(r.target) for r in rows),
            min(measured_width, max(len(r.measured) for r in rows)),
            max(len(r.ratio) for r in rows),
        ]
        lines = []
        for index, r in enumerate(rows):
            wrapped = textwrap.wrap(r.measured, widths[2]) or [""]
            for number, part in enumerate(wrapped):
                cells = [r.figure, r.target, part, r.ratio] if number == 0 else ["", "", part, ""]
                tail = r.result if number == 0 else ""
                lines.append(
                    ("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + tail).rstrip()
                )
            if index == 0:
                lines.append("  ".join("-" * w for w in widths) + "  ------")
        return "\n".join(lines)


def ms(value: float | None) -> str:
    return "never" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0f} ms"


def ratio_text(value: float) -> str:
    return f"{value:.2f}x"


def passed(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# ---------------------------------------------------------------------------- machine load


def cpu_times() -> tuple[float, float, float]:
    """(busy, steal, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [float(v) for v in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0.0] * 8)[:8]
    return user + nice + system + irq + softirq, steal, sum(fields[:8])


def own_process_tree_cpu() -> float:
    """CPU seconds of this process and of its children that have ended (every bot and worker
    is stopped and waited for before a figure ends)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def machine_load(seconds: float = 2.0) -> dict[str, float]:
    """How busy the machine is with other work: share of all CPUs in use, and stolen by the host."""
    busy0, steal0, total0 = cpu_times()
    time.sleep(seconds)
    busy1, steal1, total1 = cpu_times()
    total = max(total1 - total0, 1.0)
    return {
        "busy_share": (busy1 - busy0) / total,
        "steal_share": (steal1 - steal0) / total,
        "loadavg_1min": os.getloadavg()[0],
    }


class LoadWatch:
    """CPU stolen by the hypervisor and used by other processes while a figure runs."""

    def __init__(self) -> None:
        self.start = cpu_times()
        self.own = own_process_tree_cpu()
        self.began = time.monotonic()

    def stop(self) -> dict[str, float]:
        busy1, steal1, total1 = cpu_times()
        busy0, steal0, total0 = self.start
        total = max(total1 - total0, 1.0)
        ticks = os.sysconf("SC_CLK_TCK")
        own = (own_process_tree_cpu() - self.own) * ticks
        return {
            "seconds": time.monotonic() - self.began,
            "steal_share": (steal1 - steal0) / total,
            "other_processes_share": max(0.0, (busy1 - busy0) - own) / total,
        }


# ---------------------------------------------------------------------------- figure 1


SHIPPED_KINDS = ("psoasbot", "psoasbot-launcher")
"""psoasbot as shipped: its start-ups and memory make the start-up and memory rows."""


@contextlib.asynccontextmanager
async def running_bot(
    workdir: Path, kind: str, *, template: Path | None, env: dict[str, str] | None, report: Report, label: str
) -> AsyncIterator[tuple[Any, Any]]:
    from bench.harness import BotUnderTest, MeasuredStandIn
    from bench.seed import copy_database

    workdir.mkdir(parents=True, exist_ok=True)
    db = copy_database(template, workdir / "bot.db") if template else None
    async with MeasuredStandIn() as standin:
        bot = BotUnderTest(standin, workdir, kind, db=db, env=env)
        rss_after_start = None
        try:
            start = await bot.start()
            rss_after_start = bot.memory().get("VmRSS")
            if kind in SHIPPED_KINDS and (template is not None or label == "empty database"):
                report.details.setdefault("start_ups", []).append({"run": label, **start})
            yield standin, bot
        finally:
            with contextlib.suppress(ProcessLookupError, FileNotFoundError):
                if kind in SHIPPED_KINDS:
                    report.details.setdefault("bot_memory", []).append(
                        {
                            "run": label,
                            **bot.memory(),
                            "stored_users": "seeded" if template else 0,
                            "rss_mb_after_start": rss_after_start,
                        }
                    )
            await bot.stop()
            if db is not None:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)


LIFTED = {"PSOASBOT_BROADCAST_PER_SECOND": "1000"}
"""Paid broadcasts: Telegram's overall limit for proactive messages raised to 1,000/s. Replies to
users are never paced, so this changes nothing in figure 1; it is set there only so that a
stored reminder falling due mid-run cannot slow a run down."""


SHIPPED = "psoasbot-launcher"
"""psoasbot as shipped (AiohttpRequest), under bench/launch_bot.py so that --profile can profile it."""
BEFORE = "psoasbot-httpx"
PTB_FLOOR, SAME_FLOOR, AIOGRAM_FLOOR = "floor", "floor-aiohttp", "floor-aiogram"
FLOORS = (PTB_FLOOR, SAME_FLOOR, AIOGRAM_FLOOR)
NAMES = {
    SHIPPED: "psoasbot",
    "psoasbot": "psoasbot",
    BEFORE: "psoasbot on httpx",
    PTB_FLOOR: "PTB floor (httpx)",
    SAME_FLOOR: "PTB floor on aiohttp",
    AIOGRAM_FLOOR: "aiogram floor",
}


def is_psoasbot(kind: str) -> bool:
    return kind.startswith("psoasbot")


def script_for(kind: str) -> Any:
    from bench.conversation import FLOOR_SCRIPT, PSOASBOT_SCRIPT

    return PSOASBOT_SCRIPT if is_psoasbot(kind) else FLOOR_SCRIPT


async def figure_conversation(plan: Plan, work: Path, template: Path, report: Report) -> None:
    from bench.conversation import closed_loop, open_loop, warm_up

    print("\n[1] conversations through the Telegram front", flush=True)
    detail: dict[str, Any] = {}
    report.details["figure_1"] = detail
    watch = LoadWatch()

    # --- cost per update: whole checks, every bot in turn in each round, one user at a time
    # (no concurrency at all) and `cost_users` users at once. psoasbot on httpx is psoasbot as
    # it was before AiohttpRequest, measured in the same run.
    kinds = (SHIPPED, BEFORE, *FLOORS)
    rounds: dict[str, list[dict[str, Any]]] = {f"{k}{s}": [] for k in kinds for s in ("", "_1")}
    async with contextlib.AsyncExitStack() as stack:
        running: dict[str, tuple[Any, Any]] = {}
        for kind in kinds:
            running[kind] = await stack.enter_async_context(
                running_bot(
                    work / f"cost-{kind}",
                    kind,
                    template=template if is_psoasbot(kind) else None,
                    env=LIFTED,
                    report=report,
                    label=f"fig1 cost {NAMES[kind]}",
                )
            )
            await warm_up(*running[kind], script_for(kind), first_chat=1)
        chat = 1000
        for index in range(plan.cost_rounds):
            print(
                f"    cost round {index + 1}/{plan.cost_rounds}: {plan.sequential_checks} checks one after "
                f"another, then {plan.cost_users} users at once, each of {len(kinds)} bots",
                flush=True,
            )
            for _ in range(plan.sequential_checks):
                chat += 1
                for kind in kinds:
                    rounds[f"{kind}_1"].append(
                        await closed_loop(*running[kind], script_for(kind), 1, first_chat=chat)
                    )
            for kind in kinds:
                rounds[kind].append(
                    await closed_loop(*running[kind], script_for(kind), plan.cost_users, first_chat=chat + 1)
                )
            chat += plan.cost_users
    detail["cost_rounds"] = rounds

    def cost(key: str) -> float:
        runs = rounds[key]
        return sum(r["bot_cpu_s"] for r in runs) / sum(r["updates"] for r in runs) * 1000

    for suffix, label in (("_1", "one user at a time"), ("", f"{plan.cost_users} users at once")):
        costs = {kind: cost(kind + suffix) for kind in kinds}
        to_ptb, to_same = costs[SHIPPED] / costs[PTB_FLOOR], costs[SHIPPED] / costs[SAME_FLOOR]
        spread = ""
        if not suffix and len(rounds[SHIPPED]) > 1:
            per_round = [
                p["bot_cpu_ms_per_update"] / f["bot_cpu_ms_per_update"]
                for p, f in zip(rounds[SHIPPED], rounds[SAME_FLOOR], strict=True)
            ]
            spread = f"; per round {min(per_round):.2f}-{max(per_round):.2f}x the same-transport floor"
        updates = sum(r["updates"] for r in rounds[SHIPPED + suffix])
        report.add(
            f"1 CPU per update, {label}",
            "<= 0.70x PTB floor, <= 1.20x same-transport floor",
            f"psoasbot {costs[SHIPPED]:.2f} ms; floors: PTB {costs[PTB_FLOOR]:.2f} ms (httpx), "
            f"{costs[SAME_FLOOR]:.2f} ms (aiohttp, same transport), aiogram {costs[AIOGRAM_FLOOR]:.2f} ms; "
            f"psoasbot on httpx {costs[BEFORE]:.2f} ms; {updates} updates each{spread}",
            f"{to_ptb:.2f}x / {to_same:.2f}x",
            passed(to_ptb <= 0.7 and to_same <= 1.2),
        )

    def mean(kind: str, field_name: str) -> float:
        return sum(r[field_name] or 0 for r in rounds[kind]) / len(rounds[kind])

    report.add(
        "1 Bot API calls per update (psoasbot / floors)",
        "same calls",
        f"{mean(SHIPPED, 'calls_per_update'):.2f} vs {mean(PTB_FLOOR, 'calls_per_update'):.2f} "
        f"(aiogram floor {mean(AIOGRAM_FLOOR, 'calls_per_update'):.2f}); psoasbot's main thread did "
        f"{mean(SHIPPED, 'bot_main_thread_share') * 100:.0f}% of its CPU",
        ratio_text(mean(SHIPPED, "calls_per_update") / mean(PTB_FLOOR, "calls_per_update")),
    )

    # --- offered load: 200 updates/s (and a low rate) from many users
    open_users = max(plan.users, 1000)
    offered: dict[str, Any] = {}
    high, low = f"{plan.rate:.0f}", f"{plan.low_rate:.0f}"
    runs: tuple[tuple[str, tuple[float, ...]], ...] = (
        ("psoasbot", (plan.low_rate, plan.rate)),
        (BEFORE, (plan.rate,)),
        *((floor, (plan.rate,)) for floor in FLOORS),
    )
    for kind, rates in runs:
        async with running_bot(
            work / f"open-{kind}",
            kind,
            template=template if is_psoasbot(kind) else None,
            env=None,
            report=report,
            label=f"fig1 offered, {NAMES[kind]}",
        ) as (standin, bot):
            script = script_for(kind)
            await warm_up(standin, bot, script, first_chat=1)
            for number, rate in enumerate(rates):
                print(f"    offered {rate:.0f}/s to {NAMES[kind]}", flush=True)
                offered[f"{kind}_{rate:.0f}"] = await open_loop(
                    standin,
                    bot,
                    script,
                    open_users,
                    rate,
                    plan.offer_seconds,
                    first_chat=100_000 * (number + 1),
                    drain_timeout=plan.drain,
                )
    detail["offered"] = offered

    def describe(run: dict[str, Any]) -> str:
        f, p = run["fetched_to_reply"], run["pushed_to_reply"]
        unanswered = run["not_replied_in_time"]
        served = f"served {run['replied_per_s']:.0f}/s of {run['offered_per_s']:.0f}/s offered"
        if f["p95_ms"] is None:
            return (
                f"p95 unbounded: {unanswered} of {run['offered']} updates still unanswered "
                f"{run['drain_timeout_s']:.0f} s after offering stopped; {served}; p50 fetched->reply "
                f"{ms(f['p50_ms'])}"
            )
        return (
            f"p95 {ms(f['p95_ms'])} fetched->reply, {ms(p['p95_ms'])} pushed->reply "
            f"(p50 {ms(f['p50_ms'])}, p99 {ms(f['p99_ms'])}); {served}"
        )

    def p95(kind: str) -> str:
        return ms(offered[f"{kind}_{high}"]["fetched_to_reply"]["p95_ms"])

    shipped = offered[f"psoasbot_{high}"]
    value = shipped["fetched_to_reply"]["p95_ms"]
    report.add(
        f"1 p95 at {high} updates/s offered",
        "<= 10 ms",
        f"{describe(shipped)}; floors p95: PTB {p95(PTB_FLOOR)} (httpx), {p95(SAME_FLOOR)} (aiohttp), "
        f"aiogram {p95(AIOGRAM_FLOOR)}; psoasbot on httpx {p95(BEFORE)}",
        ratio_text(value / 10) if value is not None else "inf",
        passed(value is not None and value <= 10),
    )
    for kind in (*FLOORS, BEFORE):
        run = offered[f"{kind}_{high}"]
        report.add(f"1 p95 at {high}/s offered, {NAMES[kind]}", "report", describe(run))
    report.add(f"1 p95 at {low}/s offered", "report", describe(offered[f"psoasbot_{low}"]))

    # --- N users at once
    concurrency: dict[str, Any] = {}
    for kind in (SHIPPED, *FLOORS):
        async with running_bot(
            work / f"many-{kind}",
            kind,
            template=template if is_psoasbot(kind) else None,
            env=LIFTED,
            report=report,
            label=f"fig1 {plan.users} users, {NAMES[kind]}",
        ) as (standin, bot):
            await warm_up(standin, bot, script_for(kind), first_chat=1)
            what = f"{plan.window:.0f} s window" if plan.window else "to completion"
            print(f"    {plan.users} users at once, {NAMES[kind]}, {what}", flush=True)
            concurrency[kind] = await closed_loop(
                standin,
                bot,
                script_for(kind),
                plan.users,
                first_chat=1_000_000,
                window=plan.window,
                step_timeout=3600,
            )
    detail["concurrent_users"] = concurrency
    p = concurrency[SHIPPED]
    steps = len(script_for(SHIPPED))
    needed = plan.users * steps / p["updates_per_s"]
    window_note = (
        f" in a {plan.window:.0f} s window ({p['checks_completed']} of {plan.users} checks done; a full pass "
        f"is {plan.users * steps} updates = ~{needed:.0f} s here; --complete runs it)"
        if plan.window
        else ""
    )
    floors = ", ".join(f"{NAMES[k]} {concurrency[k]['updates_per_s']:.0f}/s" for k in FLOORS)
    report.add(
        f"1 throughput, {plan.users} users at once",
        "report",
        f"psoasbot {p['updates_per_s']:.0f} updates/s; {floors}{window_note}; /start was "
        f"{(p['first_step_share'] or 0) * 100:.0f}% of psoasbot's updates; CPU busy: psoasbot "
        f"{p['bot_cpu_utilisation'] * 100:.0f}%, stand-in {p['harness_cpu_utilisation'] * 100:.0f}%",
        ratio_text(p["updates_per_s"] / concurrency[SAME_FLOOR]["updates_per_s"]),
    )
    report.add(
        f"1 latency, {plan.users} users at once",
        "report",
        f"psoasbot fetched->reply p50/p95/p99 {ms(p['fetched_to_reply']['p50_ms'])}/"
        f"{ms(p['fetched_to_reply']['p95_ms'])}/{ms(p['fetched_to_reply']['p99_ms'])}; floors p95: "
        + ", ".join(f"{NAMES[k]} {ms(concurrency[k]['fetched_to_reply']['p95_ms'])}" for k in FLOORS)
        + f"; errors {p['errors']}",
    )
    detail["load"] = watch.stop()


# ---------------------------------------------------------------------------- figure 2


def run_worker(module: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def figure_core(plan: Plan, work: Path, template: Path, report: Report) -> None:
    from bench.seed import copy_database, seed

    print("\n[2] the core alone: ConversationService on SQLite, one process pinned to one CPU", flush=True)
    watch = LoadWatch()
    sizes: dict[str, Any] = {}
    for size in plan.core_sizes:
        db = work / f"core-{size}.db"
        if size == plan.stored:
            copy_database(template, db)
        else:
            seed(db, size)
        print(f"    {size} stored users", flush=True)
        sizes[str(size)] = run_worker(
            "bench.core_worker", "--db", str(db), "--seconds", str(plan.core_seconds)
        )
        if size == plan.stored:
            sizes[f"{size}-bare"] = run_worker(
                "bench.core_worker", "--db", str(db), "--seconds", str(plan.core_seconds), "--mode", "bare"
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    report.details["figure_2"] = {"runs": sizes, "load": watch.stop()}
    small, big = sizes[str(plan.core_sizes[0])], sizes[str(plan.stored)]
    bare = sizes[f"{plan.stored}-bare"]
    report.add(
        f"2 core steps/s, 1 CPU, {plan.stored} stored",
        ">= 2000/s",
        f"{big['steps_per_s']:.0f}/s as the front calls it ({big['cpu_ms_per_step']:.2f} ms CPU, "
        f"{big['sql_statements_per_step']:.1f} SQL statements/step); {bare['steps_per_s']:.0f}/s bare",
        ratio_text(big["steps_per_s"] / 2000),
        passed(big["steps_per_s"] >= 2000),
    )
    report.add(
        "2 state machines built while stepping",
        "0",
        f"{big['machines_built_while_stepping']} in {big['steps']} steps "
        f"({big['machines_built_at_start_up']} at start-up, one per flow)",
        "",
        passed(all(r["machines_built_while_stepping"] == 0 for r in sizes.values())),
    )
    growth = big["rss_mb_after"] / small["rss_mb_after"]
    steps = ", ".join(f"{k}: {v['steps_per_s']:.0f}/s" for k, v in sizes.items() if not k.endswith("bare"))
    report.add(
        f"2 memory {plan.core_sizes[0]} -> {plan.stored} stored",
        "flat (<= 1.10x)",
        f"RSS {small['rss_mb_after']:.1f} -> {big['rss_mb_after']:.1f} MB; steps/s {steps}",
        ratio_text(growth),
        passed(growth <= 1.10),
    )


# ---------------------------------------------------------------------------- figure 3


def note_delivery_run(report: Report, label: str, run: dict[str, Any], stored: int) -> None:
    """A reminder run's start-up and memory, for the start-up and memory rows."""
    report.details.setdefault("start_ups", []).append({"run": label, **run["start_up"]})
    report.details.setdefault("bot_memory", []).append(
        {
            "run": label,
            "VmHWM": run["peak_rss_mb"],
            "stored_users": stored,
            "rss_mb_after_start": run["rss_mb_after_start"],
        }
    )


async def figure_reminders(plan: Plan, work: Path, template: Path, report: Report) -> None:
    from bench.reminders import TELEGRAM_BROADCAST_LIMIT, run_delivery, send_floor
    from bench.seed import copy_database, make_due

    print("\n[3] reminders", flush=True)
    watch = LoadWatch()
    detail: dict[str, Any] = {}
    report.details["figure_3"] = detail
    print("    start-up with an empty database, for comparison", flush=True)
    async with running_bot(
        work / "empty", "psoasbot", template=None, env=None, report=report, label="empty database"
    ):
        pass
    print(f"    {plan.compliance_reminders} due at once, psoasbot as shipped", flush=True)
    compliance = await run_delivery(
        work / "compliance",
        template,
        plan.compliance_reminders,
        kind="psoasbot",
        timeout=plan.compliance_timeout,
    )
    note_delivery_run(report, "fig3 compliance", compliance, plan.stored)
    detail["compliance"] = compliance
    rate = compliance["messages_per_s"] or 0.0
    share = rate / TELEGRAM_BROADCAST_LIMIT
    report.add(
        f"3 broadcast rate, {plan.compliance_reminders} due at once",
        "0.95-1.00 of 30/s",
        f"{rate:.1f} messages/s ({compliance['messages_per_reminder']:.1f} per reminder), "
        f"all sent: {compliance['all_reached']}",
        f"{share:.2f}",
        passed(0.95 <= share <= 1.0 and compliance["all_reached"]),
    )
    report.add(
        "3 most messages in any 1 s",
        "<= 30",
        f"{compliance['max_messages_in_any_1s']}",
        ratio_text(compliance["max_messages_in_any_1s"] / 30),
        passed(compliance["max_messages_in_any_1s"] <= 30),
    )
    report.add(
        "3 most messages to one chat in any 1 s",
        "<= 1",
        f"{compliance['max_messages_per_chat_in_any_1s']} ({compliance['chats_with_more_than_1_in_1s']} chats "
        f"got 2+ within 1 s)",
        "",
        passed(compliance["max_messages_per_chat_in_any_1s"] <= 1),
    )

    capacities: dict[str, dict[str, Any]] = {}
    for kind in (SHIPPED, BEFORE):
        print(
            f"    {plan.capacity_reminders} due at once, broadcast limit lifted to 1000/s, {NAMES[kind]}",
            flush=True,
        )
        capacities[kind] = await run_delivery(
            work / f"capacity-{kind}",
            template,
            plan.capacity_reminders,
            kind=kind,
            env=LIFTED,
            timeout=plan.capacity_timeout,
        )
    capacity = capacities[SHIPPED]
    note_delivery_run(report, "fig3 capacity", capacity, plan.stored)
    detail["capacity"] = capacity
    detail["capacity_on_httpx"] = capacities[BEFORE]

    def lateness(run: dict[str, Any]) -> str:
        per_s = run["reminders_per_s"] or 0.0
        if run["all_reached"]:
            return f"last one {run['lateness_of_last_s']:.1f} s late"
        first = run["first_send_after_due_s"] or 0.0
        return (
            f"only {run['chats_reached']} sent within {plan.capacity_timeout:.0f} s; at this rate the last "
            f"would be ~{first + plan.capacity_reminders / max(per_s, 1e-9):.0f} s late"
        )

    floors: dict[str, dict[str, Any]] = {}
    for http in ("httpx", "aiohttp", "aiogram"):
        print(f"    sending floor: {http} alone sending {plan.capacity_reminders} such messages", flush=True)
        floors[http] = await send_floor(plan.capacity_reminders, http=http)
    detail["send_floors"] = floors
    per_s = capacity["reminders_per_s"] or 0.0
    late = capacity["lateness_of_last_s"] if capacity["all_reached"] else float("inf")
    before = capacities[BEFORE]
    report.add(
        f"3 capacity, {plan.capacity_reminders} due (limit lifted to 1000/s)",
        ">= 950/s (0.95 of the limit), last <= 11 s late",
        f"{per_s:.0f} reminders/s ({capacity['messages_per_s'] or 0:.0f} messages/s), "
        f"{capacity['claimed']} claimed; first sent {capacity['first_send_after_due_s']:.1f} s after due; "
        f"{lateness(capacity)}; floors: PTB alone {floors['httpx']['messages_per_s']:.0f}/s (httpx), "
        f"{floors['aiohttp']['messages_per_s']:.0f}/s (aiohttp), aiogram alone "
        f"{floors['aiogram']['messages_per_s']:.0f}/s; psoasbot on httpx "
        f"{before['reminders_per_s'] or 0:.0f}/s, {lateness(before)}; peak RSS {capacity['peak_rss_mb']:.0f} MB; "
        f"CPU busy: bot {capacity['bot_cpu_utilisation'] * 100:.0f}%, stand-in "
        f"{capacity['harness_cpu_utilisation'] * 100:.0f}% of a core",
        ratio_text(per_s / 1000),
        # BroadcastLimiter spaces sends at 98.5 % of the limit (985/s here), so 1,000/s itself is out of
        # reach by design; 0.95 of the limit is the same share the 30/s figure asks for.
        passed(per_s >= 950 and late <= 11.0),
    )
    cpu_per_reminder = capacity["bot_cpu_s"] / max(capacity["send_message_calls"], 1) * 1000
    report.add(
        "3 capacity, CPU per message (psoasbot / sending floors)",
        "report",
        f"psoasbot {cpu_per_reminder:.2f} ms per reminder claimed, stored, sent and marked; alone, per "
        f"sendMessage: PTB {floors['httpx']['cpu_ms_per_message']:.2f} ms (httpx), "
        f"{floors['aiohttp']['cpu_ms_per_message']:.2f} ms (aiohttp), aiogram "
        f"{floors['aiogram']['cpu_ms_per_message']:.2f} ms; psoasbot on httpx "
        f"{before['bot_cpu_s'] / max(before['send_message_calls'], 1) * 1000:.2f} ms",
        ratio_text(cpu_per_reminder / floors["aiohttp"]["cpu_ms_per_message"]),
    )

    db = copy_database(template, work / "tick.db")
    make_due(db, plan.capacity_reminders, datetime.now(UTC))
    tick = run_worker("bench.tick_worker", "--db", str(db))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    detail["tick_alone"] = tick
    report.add(
        f"3 scheduler tick alone, {plan.capacity_reminders} due, 1 CPU",
        ">= 1000/s",
        f"{tick['claimed_per_s']:.0f} claimed/s ({tick['cpu_ms_per_reminder']:.2f} ms CPU each, "
        f"{tick['seconds']:.1f} s for all, nothing sent)",
        ratio_text(tick["claimed_per_s"] / 1000),
        "info",
    )
    detail["load"] = watch.stop()


def start_up_rows(report: Report, plan: Plan) -> None:
    runs = [r for r in report.details.get("start_ups", []) if r["run"] != "empty database"]
    if not runs:
        return
    empty = [r for r in report.details.get("start_ups", []) if r["run"] == "empty database"]
    empty_text = f"; with an empty database {empty[0]['to_first_get_updates_s']:.2f} s" if empty else ""
    commands = sorted(r["to_set_my_commands_s"] for r in runs)
    polls = sorted(r["to_first_get_updates_s"] for r in runs)
    median = polls[len(polls) // 2]
    report.add(
        f"3 start-up with {plan.stored} stored",
        "<= 2 s",
        f"median {median:.2f} s to first getUpdates (setMyCommands {commands[len(commands) // 2]:.2f} s), "
        f"{len(runs)} starts, {polls[0]:.2f}-{polls[-1]:.2f} s{empty_text}",
        ratio_text(median / 2),
        passed(median <= 2.0),
    )


def memory_rows(report: Report, plan: Plan) -> None:
    runs = [r for r in report.details.get("bot_memory", []) if r.get("stored_users")]
    if not runs:
        return
    peak = max(runs, key=lambda r: r.get("VmHWM", 0.0))
    report.add(
        f"4 bot RSS with {plan.stored} stored",
        "<= 150 MB",
        f"peak {peak['VmHWM']:.0f} MB ({peak['run']}); after start-up "
        f"{min(r.get('rss_mb_after_start') or peak['VmHWM'] for r in runs):.0f} MB",
        ratio_text(peak["VmHWM"] / 150),
        passed(peak["VmHWM"] <= 150),
    )


# ---------------------------------------------------------------------------- profiles


async def profile_all(plan: Plan, work: Path, template: Path, report: Report) -> None:
    """Profiled re-runs (slower than the measured ones): one cost round each for psoasbot and the
    PTB floor on either transport, the core worker, tick alone, and a start-up. Written to
    bench/profiles/."""
    from bench.conversation import FLOOR_SCRIPT, PSOASBOT_SCRIPT, closed_loop, warm_up
    from bench.profiling import import_times, render, summarize
    from bench.reminders import run_delivery
    from bench.seed import copy_database, make_due

    print("\n[profiles] cProfile of the main thread (slower than the measured runs)", flush=True)
    PROFILES.mkdir(exist_ok=True)
    for kind, script, key in (
        (SHIPPED, PSOASBOT_SCRIPT, "psoasbot"),
        (PTB_FLOOR, FLOOR_SCRIPT, "floor"),
        (SAME_FLOOR, FLOOR_SCRIPT, "floor-aiohttp"),
    ):
        path = PROFILES / f"conversation-{key}.pstats"
        env = {**LIFTED, "BENCH_PROFILE": str(path)}
        async with running_bot(
            work / f"profile-{key}",
            kind,
            template=template if is_psoasbot(kind) else None,
            env=env,
            report=Report(),
            label="profile",
        ) as (standin, bot):
            await warm_up(standin, bot, script, first_chat=1)
            await closed_loop(standin, bot, script, plan.cost_users, first_chat=1000)
        report.profiles[f"conversation-{key}"] = summarize(path)
    db = copy_database(template, work / "profile-core.db")
    path = PROFILES / "core.pstats"
    run_worker(
        "bench.core_worker", "--db", str(db), "--seconds", str(plan.core_seconds), "--profile", str(path)
    )
    report.profiles["core"] = summarize(path)
    db.unlink()
    db = copy_database(template, work / "profile-tick.db")
    make_due(db, min(plan.capacity_reminders, 5000), datetime.now(UTC))
    path = PROFILES / "tick.pstats"
    run_worker("bench.tick_worker", "--db", str(db), "--profile", str(path))
    report.profiles["tick"] = summarize(path)
    db.unlink()
    path = PROFILES / "delivery.pstats"
    # Small enough to be sent before the bot is stopped: a bot stopped mid-batch first finishes it.
    await run_delivery(
        work / "profile-delivery",
        template,
        500,
        kind="psoasbot-launcher",
        env={**LIFTED, "BENCH_PROFILE": str(path)},
        timeout=90.0,
    )
    if path.exists():
        report.profiles["delivery"] = summarize(path)
    else:
        report.notes.append("the delivery profile was not written (the bot did not stop in time)")
    path = PROFILES / "start-up.pstats"
    async with running_bot(
        work / "profile-start",
        "psoasbot-launcher",
        template=template,
        env={"BENCH_PROFILE": str(path)},
        report=Report(),
        label="profile",
    ):
        pass
    report.profiles["start-up"] = summarize(path)
    await flame_graphs(plan, work, template, report)
    for name, summary in report.profiles.items():
        print(render(name, summary))
    imports = import_times(sys.executable, ROOT)
    report.profiles["imports"] = imports
    total = sum(row["seconds"] for row in imports)
    print(f"  imports of `psoasbot run`: {total:.2f} s (python -X importtime, self time by package)")
    for row in imports[:8]:
        print(f"      {row['seconds']:5.2f} s  {row['package']}")


@contextlib.asynccontextmanager
async def py_spy(pid: int, path: Path) -> AsyncIterator[None]:
    """A flame graph (SVG) of one process's Python threads while they hold the GIL, i.e. where its
    CPU goes, sampled by py-spy (the bench extra) at 250 Hz without slowing the process down."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise FileNotFoundError("py-spy is not installed (pip install -e '.[bench]')")
    recorder = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--gil",
            "--rate",
            "250",
            "--format",
            "flamegraph",
            "--output",
            str(path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    await asyncio.sleep(0.5)  # attached before the measured work starts
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        _, err = await asyncio.to_thread(recorder.communicate, timeout=60)
        if recorder.returncode not in (0, -signal.SIGINT) or not path.exists():
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-500:]}")


async def flame_graphs(plan: Plan, work: Path, template: Path, report: Report) -> None:
    """py-spy flame graphs of unprofiled runs: psoasbot and the same-transport floor with
    `cost_users` users at once, and psoasbot sending the capacity backlog."""
    from bench.conversation import closed_loop, warm_up
    from bench.reminders import deliver_due

    print("\n[profiles] py-spy flame graphs (bench/profiles/*.svg)", flush=True)
    try:
        for kind in (SHIPPED, SAME_FLOOR):
            async with running_bot(
                work / f"flame-{kind}",
                kind,
                template=template if is_psoasbot(kind) else None,
                env=LIFTED,
                report=Report(),
                label="profile",
            ) as (standin, bot):
                await warm_up(standin, bot, script_for(kind), first_chat=1)
                async with py_spy(bot.pid, PROFILES / f"flame-conversation-{kind}.svg"):
                    await closed_loop(standin, bot, script_for(kind), plan.cost_users, first_chat=1000)
        async with (
            running_bot(
                work / "flame-capacity",
                SHIPPED,
                template=template,
                env=LIFTED,
                report=Report(),
                label="profile",
            ) as (standin, bot),
            py_spy(bot.pid, PROFILES / "flame-capacity.svg"),
        ):
            await deliver_due(standin, bot, plan.capacity_reminders, timeout=plan.capacity_timeout)
    except (FileNotFoundError, RuntimeError, subprocess.TimeoutExpired) as error:
        report.notes.append(f"no flame graphs: {error}")
        print(f"    no flame graphs: {error}", flush=True)


# ---------------------------------------------------------------------------- main


def clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


async def main_async(args: argparse.Namespace) -> int:
    # A bot stopped in the middle of a request makes aiohttp (the stand-in's server) print a traceback.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    plan = make_plan(args)
    report = Report()
    info = machine()
    print(
        f"psoasbot bench ({'quick' if plan.quick else 'full'}): {info['cores']} cores, {info['cpu_model']}, "
        f"{info['ram_gb']} GB RAM, Python {info['python']}, PTB {info['libraries']['python-telegram-bot']}",
        flush=True,
    )
    before = machine_load()
    if before["busy_share"] > 0.15 or before["steal_share"] > 0.05:
        note = (
            f"the machine was not idle when the bench started: {before['busy_share'] * 100:.0f}% of all CPU busy "
            f"with other work, {before['steal_share'] * 100:.0f}% stolen by the hypervisor; absolute figures "
            f"are lower than on a quiet machine (ratios measured side by side are less affected)"
        )
        report.notes.append(note)
        print(f"NOTE: {note}", flush=True)
    began = time.monotonic()
    keep = Path(args.workdir) if args.workdir else None
    work = keep or Path(tempfile.mkdtemp(prefix="psoasbot-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else {"1", "2", "3", "4"}
    try:
        from bench.seed import seed

        template = work / "template.db"
        print(f"\nseeding {plan.stored} stored users", flush=True)
        seeded = await asyncio.to_thread(seed, template, plan.stored)
        report.details["seed"] = seeded
        print(f"    {seeded['seconds']:.1f} s, {seeded['file_mb']:.0f} MB", flush=True)
        if "db" in only:  # PostgreSQL and SQLite side by side (bench/db_figures.py)
            from bench import db_figures

            db_results = await asyncio.to_thread(db_figures.measure, plan.quick)
            report.details["db"] = db_results
            for figure, target, measured in db_figures.rows(db_results):
                report.add(figure, target, measured)
        if "2" in only:
            await asyncio.to_thread(figure_core, plan, work, template, report)
        if "3" in only or "4" in only:
            await figure_reminders(plan, work, template, report)
        if "1" in only:
            await figure_conversation(plan, work, template, report)
        start_up_rows(report, plan)
        memory_rows(report, plan)
        if args.profile:
            await profile_all(plan, work, template, report)
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    report.notes.extend(fidelity_notes(plan))
    elapsed = time.monotonic() - began
    print("\n" + report.table())
    for note in report.notes:
        print(f"\nnote: {note}")
    results = {
        "machine": info,
        "load_before": before,
        "mode": "quick" if plan.quick else "full",
        "plan": plan.__dict__,
        "seconds": elapsed,
        "table": [row.__dict__ for row in report.rows],
        "details": report.details,
        "profiles": report.profiles,
        "notes": report.notes,
    }
    outputs = [Path(args.output) if args.output else RESULTS]
    if args.save_reference:
        outputs.append(REFERENCE / f"{time.strftime('%Y-%m-%d')}.json")
    text = json.dumps(clean(results), indent=2, default=str) + "\n"
    for output in outputs:
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(output)
    print(f"\n{len(report.rows)} rows in {elapsed:.0f} s; written to {', '.join(map(str, outputs))}")
    return 0


def fidelity_notes(plan: Plan) -> list[str]:
    return [
        "psoasbot 'as shipped' is `psoasbot run` with default settings: replies to users go out at once, "
        "reminders and check-ins are paced by BroadcastLimiter at 30/s overall and 1/s per chat. "
        "'Limit lifted' is the same code with PSOASBOT_BROADCAST_PER_SECOND=1000 (paid broadcasts); "
        "bench/launch_bot.py only adds the optional cProfile.",
        "The floors make the same Bot API calls per update with no logic: a button gets answerCallbackQuery + "
        "editMessageText, a text one sendMessage, fetched by the same polling loop as psoasbot's (the next "
        "getUpdates only after a batch is handled) with no rate limiter (psoasbot does not pace replies "
        "either). 'PTB floor' is bench/floor_bot.py on python-telegram-bot's default request class (httpx), "
        "built with psoasbot's ApplicationBuilder settings; 'same-transport floor' is the same bot on "
        "psoasbot's AiohttpRequest; 'aiogram floor' is bench/aiogram_floor.py (aiogram 3 on its aiohttp "
        "session, 64 connections). 'psoasbot on httpx' is psoasbot with PSOASBOT_HTTP=httpx, as it ran "
        "before AiohttpRequest. The sending floors (bench/send_floor.py) are the same three libraries alone, "
        "sending reminder-sized messages 64 at a time.",
        "Latency 'fetched->reply' runs from the getUpdates answer that handed the update out to the arrival "
        "of the call that completes the reply (the edited or new question; for the last tap, the last part "
        "of the routine); 'pushed->reply' also counts time queued at the stand-in while the bot was busy.",
        "The stand-in runs in the bench process without the published-spec check (its limits, HTML and "
        "markup validation still run); its CPU is not part of any bot's CPU per update.",
        f"Stored users are seeded straight into the tables (bench/seed.py): one finished check each with its "
        f"answers, plan, two reminders, one session, one check-in, 16 inbox keys and 2 outbox rows; "
        f"the real inbox/outbox keep every update and reply (about 20 outbox rows per check), so a real "
        f"database with {plan.stored} users is larger than the seeded one.",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        default=bool(os.environ.get("BENCH_QUICK")),
        help="smaller run (3-5 min): 20k stored users, 300 users at once, shorter windows",
    )
    parser.add_argument("--users", type=int, help="simulated users at once in figure 1 (default 2000)")
    parser.add_argument("--stored", type=int, help="stored users seeded for figures 2-4 (default 100000)")
    parser.add_argument("--window", type=float, help="seconds the N-users run is measured (default 30)")
    parser.add_argument("--complete", action="store_true", help="let all N users finish their check (slow)")
    parser.add_argument(
        "--capacity", type=int, help="reminders due at once in the capacity run (default 10000)"
    )
    parser.add_argument("--capacity-timeout", type=float, help="seconds to wait for them (default 60)")
    parser.add_argument(
        "--only", help="figures to run, e.g. 1,3 (4 needs 1 or 3); db: the PostgreSQL and SQLite figures"
    )
    parser.add_argument("--profile", action="store_true", help="also write and summarise cProfile runs")
    parser.add_argument("--workdir", help="keep databases and bot logs here instead of a temporary folder")
    parser.add_argument(
        "--output", help=f"where to write the results (default {RESULTS}, not tracked by git)"
    )
    parser.add_argument(
        "--save-reference",
        action="store_true",
        help=f"also write the results to {REFERENCE}/<date>.json, to be committed as a reference run",
    )
    args = parser.parse_args()
    if args.only == "db":  # the database figures alone (bench/db_figures.py): no SQLite template needed
        from bench import db_figures

        output = Path(args.output) if args.output else RESULTS.with_name("results-db.json")
        status = db_figures.main(args.quick, output)
        if args.save_reference:
            REFERENCE.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(output, REFERENCE / f"{time.strftime('%Y-%m-%d')}-db.json")
        return status
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
