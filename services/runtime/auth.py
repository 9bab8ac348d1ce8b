"""Staff credentials: signed bearer tokens naming who someone is, their role and office.

Tokens are HS256 JWTs signed with ``COMPLAINTS_STAFF_TOKEN_SECRET``. In local mode a development
secret is used when none is set; outside local mode a token signed with that development secret
is refused, so a token minted on a laptop never opens a production system.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from contracts.lifecycle import Actor, Role
from services.runtime.settings import DEV_STAFF_TOKEN_SECRET, Environment, Settings

DEV_SECRET = DEV_STAFF_TOKEN_SECRET
ALGORITHM = "HS256"
ISSUER = "complaints"


class StaffRole(StrEnum):
    """What a token lets someone be: every acting role of the procedure, and the analyst.

    The analyst reads and never acts, so it is no ``Role`` of the events (adding it there
    would change every published event schema that names an actor).
    """

    CS_AGENT = Role.CS_AGENT.value
    CS_HEAD = Role.CS_HEAD.value
    DEPARTMENT = Role.DEPARTMENT.value
    SUPERVISOR = Role.SUPERVISOR.value
    PROJECT_MANAGER = Role.PROJECT_MANAGER.value
    COMPANY = Role.COMPANY.value
    SYSTEM = Role.SYSTEM.value
    ANALYST = "analyst"


COMPANY_ROLES = frozenset({StaffRole.COMPANY, StaffRole.SYSTEM, StaffRole.ANALYST})
"""Roles that work for the whole company rather than one office."""


class Staff(BaseModel):
    """An authenticated member of staff."""

    model_config = ConfigDict(frozen=True)

    staff_id: str = Field(min_length=1)
    role: StaffRole
    office: str | None = Field(None, description="管理处; None for company-wide roles")

    @property
    def actor(self) -> Actor:
        """The actor recorded on events this person causes (an analyst causes none)."""
        return Actor(staff_id=self.staff_id, role=Role(self.role.value))

    def may_see_office(self, office: str) -> bool:
        """Company roles see every office; everyone else only their own."""
        return self.role in COMPANY_ROLES or self.office == office


def signing_secret(settings: Settings) -> str:
    """The secret tokens are signed with; refuses to run outside local mode without one."""
    secret = settings.staff_token_secret
    if secret:
        if settings.env is not Environment.LOCAL and secret == DEV_SECRET:
            raise RuntimeError("COMPLAINTS_STAFF_TOKEN_SECRET is the development secret")
        return secret
    if settings.env is Environment.LOCAL:
        return DEV_SECRET
    raise RuntimeError("COMPLAINTS_STAFF_TOKEN_SECRET must be set outside local mode")


def issue_token(
    settings: Settings,
    staff: Staff,
    *,
    ttl: timedelta = timedelta(hours=12),
    now: datetime | None = None,
) -> str:
    """A signed token for ``staff``, valid for ``ttl``."""
    if staff.role not in COMPANY_ROLES and not staff.office:
        raise ValueError(f"office: a {staff.role.value} belongs to one office")
    issued = now or datetime.now(UTC)
    claims = {
        "sub": staff.staff_id,
        "role": staff.role.value,
        "office": staff.office,
        "iss": ISSUER,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, signing_secret(settings), algorithm=ALGORITHM)


def verify_token(settings: Settings, token: str) -> Staff:
    """The staff member a token names; ``ValueError`` with the reason when it is not valid."""
    try:
        claims = jwt.decode(
            token,
            signing_secret(settings),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "role", "exp", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise ValueError(str(exc)) from None
    try:
        return Staff(
            staff_id=claims["sub"], role=StaffRole(claims["role"]), office=claims.get("office")
        )
    except ValueError as exc:
        raise ValueError(f"token names no valid staff member: {exc}") from None


_bearer = HTTPBearer(auto_error=False, description="A staff token from `complaints token`")


def current_staff(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Staff:
    """FastAPI dependency: the staff member of the ``Authorization: Bearer`` header, or 401."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Authorization: a staff bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return verify_token(request.app.state.settings, credentials.credentials)
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"Authorization: {exc}",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


CurrentStaff = Annotated[Staff, Depends(current_staff)]
