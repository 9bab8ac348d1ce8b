"""Where: unit, building and topic keys the repeat hot spots (星星之火) group by."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from contracts import ComplaintReceived

_SPACES = re.compile(r"\s+")


# The building is everything up to and including the first building word: 栋, 幢, 座 or 号楼
# ("3栋1单元502" → "3栋", "B区12幢301" → "B区12幢", "5号楼2单元" → "5号楼", "A座1203" → "A座").
# A bare 楼 is not one: "12楼" names a floor.
_BUILDING = re.compile(r"^(.{1,20}?(?:号楼|栋|幢|座))")


@lru_cache(maxsize=1 << 16)
def normalise_place(text: str) -> str:
    """A unit or topic as a grouping key: full-width letters and digits made plain (NFKC),
    whitespace removed, Latin letters in upper case (``"３栋 1单元502"`` → ``"3栋1单元502"``)."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).upper()


@lru_cache(maxsize=1 << 16)
def building_of(unit: str) -> str | None:
    """The building (楼栋) of a unit as the register writes it, or ``None`` when it names none.

    The rule: normalise the unit (``normalise_place``), then take the shortest beginning that
    ends in 栋, 幢, 座 or 号楼 (at most 20 characters before it). Where the contract's own
    parser (``contracts.intake.Address``) finds a building, this finds the same one; it also
    reads units that parser leaves alone, such as "B区12幢301" or full-width digits.
    """
    match = _BUILDING.match(normalise_place(unit))
    return match.group(1) if match else None


@lru_cache(maxsize=1 << 16)
def topic_of(subject: str) -> str:
    """The topic a complaint is grouped under for hot spots: its subject (投诉对象), normalised."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", subject)).strip()


@dataclass(frozen=True)
class Place:
    """Where a received complaint is, as the hot spots group it."""

    unit_key: str
    building: str | None
    topic: str


def place_of(data: ComplaintReceived) -> Place:
    """The unit, building and topic keys of a received complaint.

    The building is the one the complaint's address names (``address.building``, parsed by
    intake from the unit text; old v1 events get it from the upcaster), normalised; when the
    address names none, ``building_of`` reads it from the unit text.
    """
    named = data.address.building
    return Place(
        unit_key=normalise_place(data.unit),
        building=normalise_place(named) if named else building_of(data.unit),
        topic=topic_of(data.subject),
    )
