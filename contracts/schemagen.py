"""Generate the JSON Schema of every event version into ``contracts/schemas/``.

A published schema is never overwritten: when a model's generated schema differs from the
file already checked in for its version, this refuses and says to add a new
``schema_version`` with an upcaster instead. ``--check`` only compares (the test suite uses it).

    python -m contracts.schemagen          # write schemas of new versions
    python -m contracts.schemagen --check  # exit 1 when any is missing or differs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import contracts  # noqa: F401  (importing registers every event)
from contracts.envelope import Envelope, registered_events

SCHEMA_DIR = Path(__file__).parent / "schemas"


def expected_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema, for the envelope and every registered event version."""
    out: dict[str, dict[str, Any]] = {"Envelope.json": Envelope.model_json_schema()}
    for (event_type, version), cls in sorted(registered_events().items()):
        schema = cls.model_json_schema()
        schema["x-event-type"] = event_type
        schema["x-schema-version"] = version
        out[f"{event_type}.v{version}.json"] = schema
    return out


def render(schema: dict[str, Any]) -> str:
    """Stable text of a schema, so a diff shows only real changes."""
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def problems() -> list[str]:
    """What differs between the models and the checked-in schemas, one line each."""
    found = []
    for name, schema in expected_schemas().items():
        path = SCHEMA_DIR / name
        if not path.exists():
            found.append(f"{name}: not checked in (run `python -m contracts.schemagen`)")
        elif path.read_text(encoding="utf-8") != render(schema):
            found.append(
                f"{name}: the model no longer matches its published schema; a published event "
                "never changes: add a new schema_version with an upcaster instead"
            )
    return found


def main(argv: list[str]) -> int:
    """Write missing schema files (or only check, with ``--check``)."""
    issues = problems()
    if "--check" in argv:
        print("\n".join(issues) or "schemas up to date")
        return 1 if issues else 0
    changed = [i for i in issues if "not checked in" not in i]
    if changed:
        print("\n".join(changed), file=sys.stderr)
        return 1
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, schema in expected_schemas().items():
        path = SCHEMA_DIR / name
        if not path.exists():
            path.write_text(render(schema), encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
