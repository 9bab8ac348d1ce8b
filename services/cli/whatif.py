"""``complaints what-if sla``: a period replayed under another SLA policy or calendar."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from services.cli.common import (
    fail,
    run,
    whatif_app,
)

# -- what-if -------------------------------------------------------------------------------


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read_rules_file(option: str, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(f"{option} {path}: no such file", 2) from None
    except IsADirectoryError:
        raise fail(f"{option} {path}: is a directory, not a YAML file", 2) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{option} {path}: cannot read it ({exc})", 2) from None


@whatif_app.command("sla")
def what_if_sla(
    period_from: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day, China time")
    ],
    period_to: Annotated[
        datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, inclusive")
    ],
    policy: Annotated[
        Path | None, typer.Option("--policy", help="The other SLA policy (as policy.yaml)")
    ] = None,
    calendar: Annotated[
        Path | None,
        typer.Option("--calendar", help="The other business calendar (as calendar.yaml)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The comparison as one JSON object")] = (
        False
    ),
) -> None:
    """Warnings and breaches of a period as they were, and as another SLA policy or calendar
    would have made them: per office and timer kind, with the complaints that change sides.

    The complaints received in the period (China days, both inclusive) are replayed from the
    log into a scratch schema (sla_whatif_<id>, dropped afterwards; live tables are never
    touched and nothing is published) and folded under the live rules (COMPLAINTS_SLA_POLICY_FILE,
    COMPLAINTS_SLA_CALENDAR_FILE, as the SLA service reads them) and under the other ones,
    judged at the end of the period (or now, if earlier). The SLA events the live service
    published for them are read too, as a check of the live side. Give --policy, --calendar,
    or both; the one not given is the live one.
    """
    from services.sla.settings import SlaSettings
    from services.sla.whatif import Period, WhatIfInputError

    if policy is None and calendar is None:
        raise fail("--policy: give --policy or --calendar (or both) to compare with", 2)
    settings = SlaSettings()
    try:
        period = Period.checked(period_from.date(), period_to.date(), names=("--from", "--to"))
        rules = _rules(settings, policy, calendar)
    except WhatIfInputError as exc:
        raise fail(str(exc), 2) from None
    report = run(_replay(settings, period, rules), "cannot replay the log")
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    for line in report.lines():
        typer.echo(line)


@dataclass(frozen=True)
class _Compared:
    """The live rules and the other ones, each with the files they came from."""

    live: Any  # SlaRules (imported when the command runs: the CLI starts fast)
    other: Any
    live_name: str
    other_name: str


def _rules(settings: Any, policy: Path | None, calendar: Path | None) -> _Compared:
    """The live policy and calendar (as the SLA service reads them), and the other ones:
    ``policy`` and ``calendar`` where given, the live ones where not."""
    from services.sla.calendar import load_calendar
    from services.sla.policy import load_policy
    from services.sla.scheduler import SlaRules
    from services.sla.whatif import parse_other_calendar, parse_other_policy

    live = SlaRules(
        load_policy(settings.sla_policy_file), load_calendar(settings.sla_calendar_file)
    )
    other_policy, other_calendar = live.policy, live.calendar
    names = [_shown(settings.sla_policy_file), _shown(settings.sla_calendar_file)]
    other_names = list(names)
    if policy is not None:
        text = _read_rules_file("--policy", policy)
        other_policy = parse_other_policy(text, field=f"--policy {policy}")
        other_names[0] = _shown(policy)
    if calendar is not None:
        text = _read_rules_file("--calendar", calendar)
        other_calendar = parse_other_calendar(text, field=f"--calendar {calendar}")
        other_names[1] = _shown(calendar)
    return _Compared(
        live, SlaRules(other_policy, other_calendar), " + ".join(names), " + ".join(other_names)
    )


async def _replay(settings: Any, period: Any, rules: _Compared) -> Any:
    """Replay ``period`` under both rules (``services.sla.whatif``) on a pool of its own."""
    from services.runtime.db import create_pool
    from services.sla.whatif import what_if

    pool = await create_pool(settings.database_url, size=3, timeout_s=10)
    try:
        return await what_if(
            settings,
            pool,
            live=rules.live,
            other=rules.other,
            period=period,
            live_name=rules.live_name,
            other_name=rules.other_name,
        )
    finally:
        await pool.close()
