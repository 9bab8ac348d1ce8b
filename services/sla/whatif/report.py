"""What a what-if found, as the CLI prints it and the API returns it."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.timezone import CHINA
from services.sla.whatif.inputs import Period
from services.sla.whatif.judging import Comparison, Disagreement, Row


@dataclass(frozen=True)
class WhatIfReport:
    """Everything a what-if found, as the CLI prints it and the API returns it."""

    period: Period
    until: datetime
    log_read_at: datetime
    live: str  # where the live rules came from
    other: str  # where the other rules came from
    comparison: Comparison
    events_replayed: int
    dead_letters: int
    published: tuple[int, int, list[Disagreement]]
    labels: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON (``--json``, the API's answer)."""
        warnings, breaches, differ = self.published
        return {
            "period": {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()},
            "judged_until": self.until.isoformat(),
            "log_read_at": self.log_read_at.isoformat(),
            "rules": {"was": self.live, "would_be": self.other},
            "as_was": "the same fold under the live policy and calendar (see `published`)",
            "complaints": self.comparison.complaints,
            "events_replayed": self.events_replayed,
            "dead_letters": self.dead_letters,
            "rows": [r.as_dict() for r in self.comparison.rows],
            "totals": [r.as_dict() for r in self.comparison.totals],
            "published": {
                "warnings": warnings,
                "breaches": breaches,
                "agrees": not differ,
                "disagreements": [
                    {
                        "complaint_id": str(d.complaint_id),
                        "office": d.office,
                        "timer": d.timer,
                        "published": d.published,
                        "folded_under_live_rules": d.folded,
                    }
                    for d in differ
                ],
            },
        }

    def lines(self) -> list[str]:
        """The report as text (the CLI's default)."""
        p, c = self.period, self.comparison
        judged = "the end of the period" if self.until == p.end else "the moment the log was read"
        out = [
            f"what-if SLA: complaints received {p.first} … {p.last} (China time), "
            f"judged at {_local(self.until)} ({judged})",
            f"  as they were:            {self.live}",
            f"  as they would have been: {self.other}",
            f"  {c.complaints} complaint(s) of the period; {self.events_replayed} log records "
            "replayed into a scratch projection (dropped; nothing published)",
        ]
        out += self._check_lines()
        if self.dead_letters:
            out.append(f"  {self.dead_letters} record(s) could not be applied in the replay")
        out.append("")
        if not c.rows:
            out.append("no warnings or breaches either way")
            return out
        head = [
            _pad("OFFICE", 12),
            _pad("TIMER", 24),
            _pad("WARNINGS", 10),
            _pad("BREACHES", 10),
            _pad("HARD", 10),  # breaches of the hard limit, counted in BREACHES too
            "CHANGED SIDES",
        ]
        out.append(" ".join(head))
        out += [self._table_line(row) for row in [*c.rows, *c.totals]]
        changed = [(row, ch) for row in c.rows for ch in row.changes]
        if changed:
            out += ["", "complaints that change sides:"]
            for row, ch in changed:
                what = "no longer breached" if ch.breached_was else "newly breached"
                out.append(
                    f"  {_pad(row.office or '', 10)} {_pad(row.timer, 15)} {_pad(what, 19)} "
                    f"{ch.complaint_id}  received {_local(ch.occurred_at)}"
                )
        return out

    def _check_lines(self) -> list[str]:
        """How the fold under the live rules compares with what the live service published."""
        warnings, breaches, differ = self.published
        check = (
            f"  the live service published {breaches} breach(es) and {warnings} warning(s) of "
            "these complaints due by then; its breaches and the fold under the live rules: "
        )
        out = [
            check
            + (
                "the same"
                if not differ
                else f"{len(differ)} difference(s) (the live rules changed since, or a deadline "
                "is not judged yet)"
            )
        ]
        for d in differ:
            out.append(
                f"    {d.office} {d.timer} {d.complaint_id}: published {d.published or '-'}, "
                f"folded {d.folded or '-'}"
            )
        return out

    def _table_line(self, row: Row) -> str:
        """One office and timer kind: warnings, breaches and hard breaches as they were →
        as they would have been, and how many complaints change sides."""
        label = self.labels.get(row.timer)
        timer = f"{row.timer} {label}" if label else row.timer
        gone, new = len(row.no_longer_breached), len(row.newly_breached)
        moved = ", ".join(
            part
            for part in (
                f"{gone} no longer breached" if gone else "",
                f"{new} newly breached" if new else "",
            )
            if part
        )
        return " ".join(
            [
                _pad(row.office or "合计 (all)", 12),
                _pad(timer, 24),
                _pad(f"{row.warned[0]} → {row.warned[1]}", 10),
                _pad(f"{row.breached[0]} → {row.breached[1]}", 10),
                _pad(f"{row.hard[0]} → {row.hard[1]}", 10),
                moved or "-",
            ]
        )


def _local(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` columns of a terminal (CJK characters take two)."""
    return text + " " * max(width - _width(text), 0)
