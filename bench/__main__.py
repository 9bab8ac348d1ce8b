"""``python -m bench``: run every measurement, print a table, write bench/results/latest.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import intake, latency, pipeline, rebuild, rebuild_services, report, timers
from bench.common import Bench
from services.runtime.serve import run_on_service_loop

RESULTS = Path(__file__).parent / "results"


def versions() -> dict[str, str]:
    """The versions the figures were measured with."""
    out = {"python": platform.python_version()}
    for package in ("fastapi", "faststream", "aiokafka", "asyncpg", "pydantic", "uvicorn"):
        out[package] = metadata.version(package)
    from deploy.local.infra import KAFKA_VERSION

    out["kafka"] = KAFKA_VERSION
    try:
        pg = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=True)
        out["postgresql"] = pg.stdout.split()[-1]
    except (OSError, subprocess.CalledProcessError):
        out["postgresql"] = "unknown"
    return out


async def run(selected: list[str]) -> dict[str, Any]:
    """Every selected measurement, in order."""
    bench = Bench(logs=Path(".local/logs/bench"))
    bench.ensure_infra()
    figures: dict[str, Any] = {}

    async def e2e(b: Bench) -> dict[str, Any]:
        # half the whole pipeline's measured maximum (issue 14.5); without it in this run,
        # half of intake's alone, else 100/s
        top = figures.get("pipeline", {}).get("complaints_per_s")
        basis = "pipeline"
        if top is None:
            top = figures.get("intake", {}).get("intake_per_s", 200)
            basis = "intake" if "intake" in figures else "default"
        return {"rate_basis": basis, **await latency.measure(b, rate=top / 2)}

    measurements = {
        "intake": intake.measure,
        "pipeline": pipeline.measure,
        "e2e_latency": e2e,
        "rebuild": rebuild.measure,
        "rebuild_workflow": rebuild_services.measure_workflow,
        "rebuild_sla": rebuild_services.measure_sla,
        "sla_timers": timers.measure,
        "sla_timers_100k": timers.measure_100k,
        "report": report.measure,
    }
    for name, measure in measurements.items():
        if (
            selected
            and name not in selected
            and not (name == "rebuild" and "rebuild_live" in selected)
        ):
            continue
        started = time.perf_counter()
        figures[name] = await measure(bench)
        figures[name]["seconds"] = round(time.perf_counter() - started, 1)
        if name == "rebuild":  # the same run measures the readers during a live rebuild
            figures["rebuild_live"] = figures[name].pop("live")
        Console().print(f"[bold]{name}[/bold]: {figures[name]}")
    return figures


TARGETS: dict[tuple[str, str], str] = {
    ("intake", "ratio_to_bare"): "≥ 0.5",
    ("rebuild", "rebuild_per_s"): "≥ 50,000",
    ("rebuild", "ratio"): "≥ 0.5",
    ("rebuild_live", "non_200"): "0",
    ("rebuild_workflow", "rebuild_per_s"): "≥ 20,000",
    ("rebuild_sla", "rebuild_per_s"): "≥ 20,000",
    ("e2e_latency", "p99_ms"): "< 100",
    ("pipeline", "complaints_per_s"): "≥ 1,000",
    ("pipeline", "lag_after_s"): "< 5",
    ("pipeline", "p99_ms"): "< 250",
    ("report", "office_ms"): "< 50",
    ("report", "company_ms"): "< 300",
    ("report", "company_as_of_ms"): "< 1,000",
    ("sla_timers", "p99_ms"): "< 250",
    ("sla_timers_100k", "p99_ms"): "< 250",
}
"""Targets printed beside the figures they judge."""


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("only", nargs="*", help="run only these measurements")
    args = parser.parse_args()
    started = time.perf_counter()
    # On the loop the services and the rebuild's lanes run on, so the baselines measured here
    # (raw rebuilds, the raw producer) are not run on a slower one.
    figures = run_on_service_loop(run(args.only))
    result = {
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
        "versions": versions(),
        "figures": figures,
        "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    table = Table(title=f"make bench — {os.cpu_count()} cores")
    for col in ("measurement", "figure", "value", "target"):
        table.add_column(col)
    for name, values in figures.items():
        for key, value in values.items():
            table.add_row(name, key, str(value), TARGETS.get((name, key), ""))
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
