"""Bad input at every door: schemathesis generates requests from each service's own OpenAPI
document (valid and invalid ones); no request may cause a 5xx, and no accepted request may
break an invariant.

schemathesis's pytest plugin does not work with pytest 9, so its Hypothesis strategies are
driven directly, one property per API operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from contracts import Channel, complaint_id_for
from contracts.lifecycle import Role
from services.runtime.auth import Staff, issue_token
from services.runtime.settings import Settings
from tests.conftest import RunningSystem

pytestmark = pytest.mark.infra

EXAMPLES = 20  # per operation and generation mode
STAFF = {
    "Authorization": "Bearer "
    + issue_token(Settings(), Staff(staff_id="fuzz-1", role=Role.CS_HEAD, office="Y园"))
}
Check = Callable[[Any, Any], None]


def fuzz(system: RunningSystem, service: str, headers: dict[str, str], check: Check) -> int:
    """Run every operation of a service's OpenAPI document; return how many were run."""
    base = system.urls[service]
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                response = case.call(base_url=base, headers=headers, timeout=30)
                assert response.status_code < 500, (
                    f"{case.method} {case.formatted_path} → {response.status_code}\n"
                    f"{case.as_curl_command()}\n{response.text[:2000]}"
                )
                check(case, response)

            try:
                run()
            except Unsatisfiable:
                # Only for an operation without any input: it has no invalid request.
                assert mode is GenerationMode.NEGATIVE, operation.path
    return len(operations)


def no_invariant(case: Any, response: Any) -> None:
    """Services whose accepted answers carry no invariant beyond 'not a server error'."""


def intake_invariant(case: Any, response: Any) -> None:
    if case.method.upper() == "POST" and response.status_code == 202:
        # accepted: the channel comes from the key, the id from the channel's own id
        expected = complaint_id_for(Channel.HOTLINE, case.body["submission_id"])
        assert response.json()["complaint_id"] == str(expected)


def test_intake_never_fails_and_accepts_only_what_its_id_says(system: RunningSystem) -> None:
    assert fuzz(system, "intake", {"X-Api-Key": "dev-hotline"}, intake_invariant) >= 4


def test_workflow_never_fails(system: RunningSystem) -> None:
    assert fuzz(system, "workflow", STAFF, no_invariant) >= 17


def test_sla_never_fails(system: RunningSystem) -> None:
    assert fuzz(system, "sla", STAFF, no_invariant) >= 5


def test_reporting_never_fails(system: RunningSystem) -> None:
    assert fuzz(system, "reporting", STAFF, no_invariant) >= 5
