"""What reporting reads out of each event, and the few rules it applies to the facts (pure).

Reporting keeps one append-only row per event (``EventFact``) and answers every question "as of"
an instant from those rows (see ``schema.sql``). This module decides what goes into a row:

* **Status.** An event either moves a complaint to a status of the procedure or leaves it where
  it is (``STATUS_AFTER``, the same moves as the workflow's Decider). The status as of T is the
  status set by the last such event recorded by T.
* **Timers.** The SLA service's timers (``services/sla/policy.yaml``) start and stop on lifecycle
  events (``TIMERS``); its ``SlaWarning`` / ``SlaBreached`` events report on them. Reporting never
  recomputes a calendar: it only remembers which event started, stopped, warned or breached
  which timer (``timer_effects``), so that "overdue" can be read from the log as of any instant.
* **Where.** The building of a complaint (its address's, else ``building_of`` its unit text)
  and the normalised unit and topic keys that the repeat hot spots (星星之火) group by.
* **Service levels.** How the SLA events turn into the report's yes / no / not yet known
  (``service_levels``).

Modules: ``statuses``, ``timers``, ``facts`` (one row per event), ``places``, ``levels``.
"""

from services.reporting.domain.facts import (
    event_fact,
    logged_complaint_row,
    logged_fact_row,
    logged_timer_effects,
)
from services.reporting.domain.levels import ServiceLevelFacts, ServiceLevels, service_levels
from services.reporting.domain.places import building_of, normalise_place, place_of
from services.reporting.domain.statuses import (
    ENDED_STATUSES,
    STATUS_AFTER,
    STATUS_LABELS,
    status_label,
)
from services.reporting.domain.timers import TIMERS, Effect, timer_effects, timer_label

__all__ = [
    "ENDED_STATUSES",
    "STATUS_AFTER",
    "STATUS_LABELS",
    "TIMERS",
    "Effect",
    "ServiceLevelFacts",
    "ServiceLevels",
    "building_of",
    "event_fact",
    "logged_complaint_row",
    "logged_fact_row",
    "logged_timer_effects",
    "normalise_place",
    "place_of",
    "service_levels",
    "status_label",
    "timer_effects",
    "timer_label",
]
