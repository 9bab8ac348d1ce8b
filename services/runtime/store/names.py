"""The one check on a name written into SQL (a schema, a table, a view): statements take
values as parameters, but names cannot be parameters."""

from __future__ import annotations

import re

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def checked(name: str) -> str:
    """``name``, if it is a plain lower-case identifier (it is interpolated into SQL)."""
    if not _IDENT.match(name):
        raise ValueError(f"bad SQL identifier {name!r}")
    return name
