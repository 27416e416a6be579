"""The database figures, measured side by side in one run (`python -m bench.run --only db`):

- db1: the PostgreSQL driver, psycopg 3 (sync, thread pool) against asyncpg, on a step-shaped
  transaction at concurrency 1 and 40 (bench/db_driver.py);
- db2: core steps per second on one instance, SQLite against PostgreSQL, one process pinned to
  one CPU, as the Telegram front calls the core (bench/db_core.py);
- db3: one instance against three in webhook mode on one PostgreSQL database: conversation
  updates/s and p95, and reminders with the broadcast limit lifted (bench/db_instances.py).

Each part runs in processes of its own against a private PostgreSQL server
(tests/postgres_server.py), and is skipped with a note where no server binaries are installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT


def _worker(*args: str, timeout: float = 900) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(quick: bool = False) -> dict[str, Any]:
    """All three parts; their raw results."""
    from tests.postgres_server import PostgresServer, Unavailable, drop_database, fresh_database

    seconds = "5" if quick else "10"
    try:
        server = PostgresServer()
    except Unavailable as why:
        return {"skipped": str(why)}
    results: dict[str, Any] = {}
    with server, tempfile.TemporaryDirectory(prefix="psoasbot-bench-db-") as work:
        print("\n[db1] PostgreSQL drivers on a step-shaped transaction", flush=True)
        driver_db = fresh_database(server.dsn)
        results["driver"] = _worker("bench.db_driver", "--dsn", driver_db, "--seconds", seconds)
        drop_database(server.dsn, driver_db)
        print("[db2] core steps/s, one instance: SQLite and PostgreSQL, alternated", flush=True)
        runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "postgresql": []}
        for round_ in range(2 if quick else 3):
            sqlite_db = str(Path(work) / f"core-{round_}.db")
            runs["sqlite"].append(_worker("bench.db_core", "--target", sqlite_db, "--seconds", seconds))
            pg_db = fresh_database(server.dsn)
            runs["postgresql"].append(_worker("bench.db_core", "--target", pg_db, "--seconds", seconds))
            drop_database(server.dsn, pg_db)
        results["core"] = runs
    print("[db3] one instance against three, webhook mode, one PostgreSQL", flush=True)
    results["instances"] = _worker(
        "bench.db_instances", "--seconds", "8" if quick else "15", "--due", "1000" if quick else "2000"
    )
    return results


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, target, measured) rows for the bench table."""
    if "skipped" in results:
        return [("db PostgreSQL figures", "", f"skipped: {results['skipped']}")]
    driver = results["driver"]
    found = [
        (
            "db1 driver, step-shaped transaction",
            "choose",
            ", ".join(
                f"{name} {driver[name]['steps_per_s']:.0f}/s ({driver[name]['cpu_ms_per_step']:.2f} ms CPU)"
                for name in ("psycopg@1", "asyncpg@1", "psycopg@40", "asyncpg@40")
            ),
        )
    ]
    core = results["core"]
    sqlite = _median([run["steps_per_s"] for run in core["sqlite"]])
    postgres = _median([run["steps_per_s"] for run in core["postgresql"]])
    sqlite_cpu = _median([run["cpu_ms_per_step"] for run in core["sqlite"]])
    postgres_cpu = _median([run["cpu_ms_per_step"] for run in core["postgresql"]])
    found.append(
        (
            "db2 core steps/s, one instance",
            "info",
            f"SQLite {sqlite:.0f}/s ({sqlite_cpu:.2f} ms CPU), PostgreSQL {postgres:.0f}/s "
            f"({postgres_cpu:.2f} ms CPU in the bot; the server on the other core); medians of "
            f"{len(core['sqlite'])} alternated runs",
        )
    )
    for count in (1, 3):
        run = results["instances"][f"{count}_instances"]
        talk, sends = run["conversations"], run["reminders"]
        p95 = talk["latency"].get("p95_ms")
        found.append(
            (
                f"db3 {count} instance{'s' if count > 1 else ''}, webhook, PostgreSQL",
                "info",
                f"conversations {talk['updates_per_s']:.0f} updates/s, p95 "
                f"{p95 or 0:.0f} ms ({talk['failed']} failed); reminders (limit 1000/s) "
                f"{sends['per_s'] or 0:.0f}/s, {sends['sent']} of {sends['due']}",
            )
        )
    return found


def main(quick: bool = False, output: Path | None = None) -> int:
    results = measure(quick)
    table = rows(results)
    width = max(len(figure) for figure, _, _ in table)
    print()
    for figure, _target, measured in table:
        print(f"{figure.ljust(width)}  {measured}")
    target = output or ROOT / "bench" / "out" / "results-db.json"  # ignored by git, as results.json
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"results": results, "table": table}, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {target}")
    return 0
