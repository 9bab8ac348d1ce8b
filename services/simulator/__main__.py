"""``python -m services.simulator``: fill a month with complaints from the three channels.

    python -m services.simulator                     # last month, about 4 complaints a day
    python -m services.simulator --month 2026-10 --per-day 6 --seed 1

Talks to a running system (``make up``): intake's HTTP adapters and the submissions topic, with
the channels' keys (the development keys in local mode, else ``COMPLAINTS_INTAKE_API_KEYS``).
The same ``--month`` and ``--seed`` send the same submissions again, which intake recognises:
nothing is added twice. Ends by listing the rejected submissions with their reasons.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from contracts import Channel
from contracts.lifecycle import Role
from contracts.timezone import CHINA
from services.intake.settings import IntakeSettings
from services.runtime.auth import Staff, issue_token
from services.runtime.kafka import client_options
from services.simulator.plan import plan
from services.simulator.send import Channels, Report, send_all


def _month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM): {text!r}") from None


def _last_month(today: date) -> date:
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def parse_args(argv: list[str], settings: IntakeSettings) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m services.simulator",
        description="Send a month of realistic complaints through the hotline, the owners' "
        "app and the supervision line (and some through the submissions topic).",
    )
    today = datetime.now(CHINA).date()
    parser.add_argument("--month", type=_month, default=_last_month(today), help="YYYY-MM")
    parser.add_argument("--per-day", type=float, default=4.0, help="complaints a day (mean)")
    parser.add_argument("--seed", type=int, default=0, help="another seed, other complaints")
    parser.add_argument("--bad-share", type=float, default=0.05, help="deliberately bad share")
    parser.add_argument(
        "--intake",
        default=f"http://127.0.0.1:{settings.intake_port}",
        help="intake's base URL",
    )
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for intake")
    return parser.parse_args(argv)


def _staff_token(settings: IntakeSettings) -> str | None:
    """A company-wide staff token, where this machine may mint one (local mode)."""
    try:
        return issue_token(settings, Staff(staff_id="simulator", role=Role.COMPANY))
    except RuntimeError:
        return None


async def rejected_since(
    http: httpx.AsyncClient, intake: str, headers: dict[str, str], since: datetime
) -> list[dict[str, Any]]:
    """The rejected submissions recorded since ``since`` that ``headers`` may see."""
    resp = await http.get(
        f"{intake}/v1/submissions/rejected",
        params={"since": since.isoformat(), "limit": 1000},
        headers=headers,
    )
    resp.raise_for_status()
    return list(resp.json()["items"])


def summary(report: Report) -> list[str]:
    """What was sent and how intake answered, per channel."""
    lines = []
    for channel in Channel:
        sent = [s for s in report.sent if s.planned.channel is channel]
        if not sent:
            continue
        ok = [s for s in sent if s.planned.accepted]
        lines.append(
            f"  {channel.label}({channel.value}): {len({s.planned.complaint_id for s in ok})} "
            f"complaints, {sum(s.planned.resend for s in ok)} sent twice, "
            f"{sum(s.planned.via == 'topic' for s in ok)} via the topic, "
            f"{sum(s.planned.repeat for s in ok)} repeats, "
            f"{sum(s.asked_for_name for s in ok)} callers not yet in the directory, "
            f"{len(sent) - len(ok)} deliberately bad"
        )
    kinds = Counter(s.planned.kind.label for s in report.sent if s.planned.accepted)
    mix = ", ".join(f"{kind} {n}" for kind, n in kinds.items())
    lines.append(f"  mix (as staff would judge them): {mix}")
    for s in report.sent:
        if s.status == 422 and not s.planned.accepted:
            reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in s.errors)
            lines.append(f"  422 {s.planned.submission_id} ({s.planned.flaw}): {reasons}")
    return lines


async def main(argv: list[str]) -> int:
    """Plan, send, wait for intake to record the topic's rejections, and report."""
    settings = IntakeSettings()
    args = parse_args(argv, settings)
    start = args.month
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    now = datetime.now(CHINA)
    planned = plan(
        start,
        (end - start).days,
        per_day=args.per_day,
        seed=args.seed,
        bad_share=args.bad_share,
        until=now - timedelta(minutes=10),
    )
    if not planned:
        print(f"{start:%Y-%m} has not begun yet: nothing to send", file=sys.stderr)
        return 2
    keys = {c: k for c in Channel if (k := settings.key_of(c)) is not None}
    print(f"{start:%Y-%m}: sending {len(planned)} submissions to {args.intake} …")
    async with Channels(
        intake_url=args.intake,
        keys=keys,
        kafka_bootstrap=settings.kafka_bootstrap,
        submissions_topic=settings.topic_submissions,
        kafka_options=client_options(settings),
    ) as channels:
        report = await send_all(channels, planned)
    print(f"{len(report.accepted_ids())} complaints accepted in {start:%Y-%m}:")
    print("\n".join(summary(report)))

    token = _staff_token(settings)
    headers = {"Authorization": f"Bearer {token}"} if token else {"X-Api-Key": keys[Channel.APP]}
    expected = len(report.topic_flawed())
    since = report.started_at - timedelta(seconds=1)
    deadline = asyncio.get_running_loop().time() + args.wait
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            items = await rejected_since(http, args.intake, headers, since)
            if len(items) >= expected or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
    print(f"rejected from the submissions topic ({len(items)} of {expected} bad records sent):")
    for item in sorted(items, key=lambda i: i["submitted_at"]):
        where = item["record"]
        reasons = "; ".join(f"{r['field']}: {r['reason']}" for r in item["reasons"])
        print(
            f"  [{item['channel'] or '?'}] {item['submission_id'] or '(no id)'} "
            f"@{where['partition']}/{where['offset']}: {reasons}"
        )
    print(f"the list: GET {args.intake}/v1/submissions/rejected (a channel key or a staff token)")
    unexpected = report.unexpected()
    for s in unexpected:
        print(f"UNEXPECTED {s.status} for {s.planned.submission_id}: {s.errors}", file=sys.stderr)
    return 1 if unexpected or len(items) < expected else 0


if __name__ == "__main__":
    started = datetime.now(UTC)
    code = asyncio.run(main(sys.argv[1:]))
    print(f"done in {(datetime.now(UTC) - started).total_seconds():.1f} s")
    raise SystemExit(code)
