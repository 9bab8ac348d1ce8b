"""Staff credentials: signed bearer tokens naming who someone is, their role and office.

Tokens are HS256 JWTs signed with ``COMPLAINTS_STAFF_TOKEN_SECRET``, or with one of several
secrets by key id (``COMPLAINTS_STAFF_TOKEN_SECRETS``; the token's ``kid`` header names it) so
that the secret is rotated without an outage. In local mode a development secret is used when
none is set; outside local mode a token signed with that development secret is refused, so a
token minted on a laptop never opens a production system.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from contracts.intake import mask_name, mask_phone
from contracts.lifecycle import Actor, Role
from services.runtime.settings import DEV_STAFF_TOKEN_SECRET, Environment, Settings
from services.runtime.vault import ERASED

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

    def sees_personal_data(self, office: str) -> bool:
        """Whether this person sees the names and phone numbers of ``office``'s complainants
        unmasked: only the staff of that very office, never a company-wide role."""
        return self.role not in COMPANY_ROLES and self.office == office


def shown_complainant(staff: Staff, office: str, complainant: dict[str, Any]) -> dict[str, Any]:
    """A complainant (``name``, ``phone``) as ``staff`` may see them on a complaint of
    ``office``: whole for the staff of that office, masked (``何**``, ``138****5678``) for
    everyone else. The one place that decides it; every service shows names through it.
    An erased complainant's ``已删除`` is shown as it is to everyone."""
    if staff.sees_personal_data(office):
        return complainant
    return masked_complainant(complainant)


def masked_complainant(complainant: dict[str, Any]) -> dict[str, Any]:
    """Name and phone masked; an erased one (``已删除``) left as it is."""
    name, phone = complainant["name"], complainant["phone"]
    return {
        **complainant,
        "name": name if name == ERASED else mask_name(name),
        "phone": phone if phone == ERASED else mask_phone(phone),
    }


def check_office(staff: Staff, office: str) -> None:
    """403 naming ``office`` unless ``staff`` may see the complaints of ``office``."""
    if not staff.may_see_office(office):
        raise HTTPException(
            403, detail=f"office: {staff.staff_id} works for another office than {office}"
        )


def office_scope(staff: Staff, asked: str | None) -> str | None:
    """The office a read is limited to: the one asked for (``None``: all) for company-wide
    roles; their own for office-scoped roles, who may not ask for another (403 naming
    ``office``)."""
    if staff.role in COMPANY_ROLES:
        return asked
    if asked is not None:
        check_office(staff, asked)
    return staff.office


def signing_secret(settings: Settings) -> str:
    """The secret new tokens are signed with; refuses to run outside local mode without one."""
    return signing_key(settings)[1]


def signing_key(settings: Settings) -> tuple[str | None, str]:
    """The key id (``None``: tokens carry none) and secret new tokens are signed with: the
    secret ``staff_token_key_id`` names; else the single ``staff_token_secret``; else the
    first of ``staff_token_secrets``."""
    secrets, kid = settings.staff_token_secrets, settings.staff_token_key_id
    if secrets and (kid or not settings.staff_token_secret):
        kid = kid or next(iter(secrets))
        if kid not in secrets:
            raise RuntimeError(f"COMPLAINTS_STAFF_TOKEN_KEY_ID {kid!r} names no listed secret")
        return kid, _usable(settings, secrets[kid], f"key id {kid!r}")
    return None, _legacy_secret(settings)


def _legacy_secret(settings: Settings) -> str:
    secret = settings.staff_token_secret
    if secret:
        return _usable(settings, secret, "COMPLAINTS_STAFF_TOKEN_SECRET")
    if settings.env is Environment.LOCAL and not settings.staff_token_secrets:
        return DEV_SECRET
    raise RuntimeError("COMPLAINTS_STAFF_TOKEN_SECRET must be set outside local mode")


def _usable(settings: Settings, secret: str, what: str) -> str:
    if settings.env is not Environment.LOCAL and secret == DEV_SECRET:
        raise RuntimeError(f"{what} is the development secret")
    return secret


def verification_secret(settings: Settings, token: str) -> str:
    """The secret that must have signed ``token`` (``ValueError`` when none may have): what a
    value bound to a session (its CSRF token, ``services.runtime.login``) is keyed with."""
    return _verification_secret(settings, token)


def _verification_secret(settings: Settings, token: str) -> str:
    """The secret that must have signed ``token``: the one of its key id, else the legacy one."""
    signing_key(settings)  # a configuration that cannot sign cannot verify (RuntimeError)
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise ValueError(str(exc)) from None
    if kid is None:
        try:
            return _legacy_secret(settings)
        except RuntimeError:
            raise ValueError(
                "the token has no key id, and only keyed secrets are accepted"
            ) from None
    secret = settings.staff_token_secrets.get(str(kid))
    if secret is None:
        raise ValueError(f"signed with key id {kid!r}, which is not (or no longer) accepted")
    try:
        return _usable(settings, secret, f"key id {kid!r}")
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None


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
    kid, secret = signing_key(settings)
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers=headers)


def verify_token(settings: Settings, token: str) -> Staff:
    """The staff member a token names; ``ValueError`` with the reason when it is not valid."""
    try:
        claims = jwt.decode(
            token,
            _verification_secret(settings, token),
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


SESSION_COOKIE = "complaints_session"
"""The cookie a browser's session keeps its token in (``services.runtime.login``)."""

_session = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="Session",
    auto_error=False,
    description="A browser's session: the staff token kept by `POST /login` (HttpOnly)",
)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
"""The ``Authorization: Bearer`` header, declared as the OpenAPI security scheme HTTPBearer."""
SessionToken = Annotated[str | None, Depends(_session)]
"""The session cookie's token, declared as the OpenAPI security scheme Session."""


async def current_staff(  # async: a plain def would hop to a worker thread per request
    request: Request, credentials: BearerCredentials, session: SessionToken
) -> Staff:
    """FastAPI dependency: the staff member of the ``Authorization: Bearer`` header, else of
    the session cookie set by ``POST /login``; 401 when neither names a valid one."""
    token = credentials.credentials if credentials else session
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Authorization: a staff bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return verify_token(request.app.state.settings, token)
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"Authorization: {exc}",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


CurrentStaff = Annotated[Staff, Depends(current_staff)]
