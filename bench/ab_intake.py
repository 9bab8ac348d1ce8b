"""Intake's CPU a request, this checkout against another, in paired alternated rounds.

``python -m bench.ab_intake <other checkout> [--rounds 24] [--seconds 6]``

On a shared machine one ``bench intake`` run moves by hundreds of microseconds a request from
one minute to the next, more than most changes to intake's path. Here two intakes run at once,
each on its own database and topics: A from the other checkout (its own code, this checkout's
virtualenv), B from this one. wrk drives each in turn for ``--seconds``, A then B, then B then
A, for ``--rounds``; each burst's CPU a request is the intake process's CPU time over its
requests. Each intake runs as deployed, its public copy serving HTTP only
(``COMPLAINTS_ROLE=http``) beside a consuming copy of this checkout; a checkout from before that
setting ignores it and consumes in its public copy too. It prints each round, both medians, the
median of the per-round differences (B − A) and in how many rounds B was lower. A development
tool, not a figure of ``make bench``: it has no baseline and no target.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from pathlib import Path

from bench import wrk
from bench.common import Bench, cpu_seconds
from bench.intake import submission_template
from deploy.local import stack

HEADERS = {"Content-Type": "application/json", "X-Api-Key": "dev-hotline"}


async def compare(other: Path, rounds: int, seconds: float) -> None:
    bench = Bench(logs=Path(".local/logs/bench"))
    bench.ensure_infra()
    async with bench.system("abA", ["intake"]) as a, bench.system("abB", ["intake"]) as b:
        a.stop("intake")  # A's intake again, from the other checkout, on the same settings
        port = int(a.env["COMPLAINTS_INTAKE_PORT"])
        # as deployed (stack.processes: the public copy's settings), A's consuming copy beside
        (public,) = [p for p in stack.processes(a.env) if p.key == "intake"]
        other_intake = stack.start_service(
            "intake",
            env={**a.env, **public.env},
            log_path=a.logs / "intake-other.log",
            cwd=other,
        )
        try:
            stack.wait_healthy({"intake": port}, timeout=60, logs=a.logs, path="/readyz")
            targets = {
                "A": (other_intake.pid, f"http://127.0.0.1:{port}/v1/complaints"),
                "B": (b.procs["intake"].pid, f"{b.urls['intake']}/v1/complaints"),
            }
            cpu: dict[str, list[float]] = {"A": [], "B": []}
            for n in range(rounds):
                for side in "AB" if n % 2 == 0 else "BA":
                    pid, url = targets[side]
                    run = f"{bench.run}{side}{n}"
                    before = cpu_seconds(pid)
                    load = await wrk.post_load(
                        url,
                        template=submission_template(run),
                        run=run,
                        headers=HEADERS,
                        seconds=seconds,
                    )
                    refused = {s: k for s, k in load["statuses"].items() if s != 202}
                    if refused or load["errors"]:
                        raise RuntimeError(f"{side}: not every answer was 202: {refused}")
                    each = (cpu_seconds(pid) - before) / max(load["requests"], 1) * 1e6
                    cpu[side].append(each)
                    print(f"round {n:2d} {side}: {each:6.0f} µs a request, {load['per_s']}/s")
        finally:
            other_intake.terminate()
            other_intake.wait(timeout=20)
    differences = [b - a for a, b in zip(cpu["A"], cpu["B"], strict=True)]
    print(f"A ({other}): median {statistics.median(cpu['A']):.0f} µs a request")
    print(f"B (this checkout): median {statistics.median(cpu['B']):.0f} µs a request")
    print(
        f"B − A per round: median {statistics.median(differences):+.0f} µs, "
        f"from {min(differences):+.0f} to {max(differences):+.0f}; "
        f"B lower in {sum(d < 0 for d in differences)} of {rounds}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (A)")
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    if not (args.other / "services" / "intake").is_dir():
        parser.error(f"other: {args.other} is not a checkout of this project")
    asyncio.run(compare(args.other.resolve(), args.rounds, args.seconds))


if __name__ == "__main__":
    main()
