"""Who may use a service's API: a state system or officer presents a key of their state as a bearer token
(RFC 6750), and reads and changes that state's records only.

`API_KEYS` gives each key its state, as comma-separated `STATE:KEY` pairs:

    API_KEYS=IN-HR:<a key>,IN-BR:<another key>,*:<an operator's key>

`*` is a key for every state (operators, a national dashboard). A state may hold several keys at once, so a
key is replaced without a moment in which its systems are refused. A key is at least 32 characters, none of
them a comma, a colon or a space (`openssl rand -hex 32` makes one). Without `API_KEYS`, every request to a
route behind keys is refused: an API is never open by accident. Health probes and the public verification
pages need no key.
"""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from karmayogi_contracts.fields import STATE_CODE_PATTERN

from karmayogi_runtime.http import Problem, only_known_query_parameters, problem_answer

ALL_STATES = "*"
MIN_KEY_LENGTH = 32
_STATE = re.compile(STATE_CODE_PATTERN)
_KEY = re.compile(rf"[^\s,:]{{{MIN_KEY_LENGTH},}}")
# What a 401 names, so a client knows how to authenticate (RFC 7235 section 3.1).
CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Scope:
    """The states a key may act for: one state, or every state (`ALL_STATES`)."""

    state: str

    def covers(self, tenant: str) -> bool:
        return self.state in (ALL_STATES, tenant)


class StateKeys:
    """The keys of `API_KEYS`, by their digests."""

    def __init__(self, scopes: Mapping[bytes, Scope]) -> None:
        self._scopes = dict(scopes)

    @classmethod
    def parse(cls, text: str) -> "StateKeys":
        """The keys `text` names; ValueError with one sentence naming the first mistake (never the key)."""
        scopes: dict[bytes, Scope] = {}
        for number, pair in enumerate((part.strip() for part in text.split(",") if part.strip()), start=1):
            state, colon, key = pair.partition(":")
            state, key = state.strip(), key.strip()
            if colon and _STATE.fullmatch(state.upper()) and state != state.upper():
                raise ValueError(f"the state code of entry {number} is written in capitals: {state.upper()}, "
                                 f"not {state}.")
            if not colon or not (state == ALL_STATES or _STATE.fullmatch(state)):
                raise ValueError(f"entry {number} does not start with a state code and a colon, as in "
                                 f"IN-HR:<key> (or *:<key> for every state).")
            if not _KEY.fullmatch(key):
                raise ValueError(f"the key of entry {number} ({state}) must be at least {MIN_KEY_LENGTH} "
                                 f"characters, none of them a comma, a colon or a space.")
            digest = _digest(key)
            if digest in scopes and scopes[digest].state != state:
                raise ValueError(f"entry {number} gives {state} a key already given to {scopes[digest].state}.")
            scopes[digest] = Scope(state)
        return cls(scopes)

    def __bool__(self) -> bool:
        return bool(self._scopes)

    def described(self) -> str:
        """Whose keys there are, for an operator: `keys for every state, IN-BR and IN-HR`."""
        if not self._scopes:
            return "no API keys (API_KEYS gives none), so its routes behind a state's key refuse every request"
        states = sorted({scope.state for scope in self._scopes.values()})
        named = ["every state" if state == ALL_STATES else state for state in states]
        return "keys for " + (", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0])

    def scope_of(self, key: str) -> Scope | None:
        """The scope of a presented key, or None for a key `API_KEYS` does not give. The lookup is by the
        key's digest, so how long it takes says nothing about any key's characters."""
        return self._scopes.get(_digest(key))


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


_bearer = HTTPBearer(auto_error=False, scheme_name="stateKey",
                     description="A key of the state whose records are read or changed (`API_KEYS`); `*` keys "
                                 "act for every state.")


def state_scope(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Scope:
    """The scope of the request's key; a 401 without a key `API_KEYS` gives, and a 403 when the path names a
    state (`{tenant}`) the key does not act for. A route whose path names no state checks the state of
    what it finds with `require`."""
    keys: StateKeys = request.app.state.state_keys
    if not keys:
        raise Problem(401, "This service has no API keys (API_KEYS gives none), so it answers no request that "
                           "needs a state's key; its operators give each state its keys.", headers=CHALLENGE)
    if credentials is None:
        raise Problem(401, "This request needs a key of its state, sent as 'Authorization: Bearer <key>'.",
                      headers=CHALLENGE)
    scope = keys.scope_of(credentials.credentials)
    if scope is None:
        raise Problem(401, "The key sent is not one of this service's API keys; ask its operators for your "
                           "state's key.", headers=CHALLENGE)
    tenant = request.path_params.get("tenant")
    if tenant is not None and _STATE.fullmatch(tenant):  # a malformed one is the route's 422
        require(scope, tenant)
    return scope


def require(scope: Scope, tenant: str) -> None:
    """A 403 unless the key acts for `tenant`."""
    if not scope.covers(tenant):
        raise Problem(403, f"The key sent is a key of {scope.state}; it cannot read or change the records of "
                           f"{tenant}.")


StateScope = Annotated[Scope, Depends(state_scope)]

# For the OpenAPI responses: every route behind a key may answer NO_KEY and UNKNOWN_PARAMETER; a route whose
# path names its state ANOTHER_STATES_KEY too (`answers`); one whose path does not declares it when it calls
# `require`.
NO_KEY = {401: problem_answer("No key was sent, or one this service does not give", CHALLENGE)}
UNKNOWN_PARAMETER = {400: problem_answer("The query names a parameter the route does not take")}
ANOTHER_STATES_KEY = {403: problem_answer("The key is another state's")}


def answers(path: str) -> dict[int | str, dict[str, Any]]:
    """The refusals a route behind a key at `path` gives for its key."""
    return {**UNKNOWN_PARAMETER, **NO_KEY, **(ANOTHER_STATES_KEY if "{tenant}" in path else {})}


def include_behind_keys(app: FastAPI, router: APIRouter) -> None:
    """Serve `router`'s routes behind a state's key, each declaring the refusals it gives (`answers`). They
    are the state systems' API, so a query parameter a route does not take is refused, not ignored."""
    for route in router.routes:
        if isinstance(route, APIRoute):  # joined to the route's own answers; including it again adds nothing
            route.responses = {**answers(route.path), **route.responses}
    app.include_router(router, dependencies=[Depends(state_scope), Depends(only_known_query_parameters)])
