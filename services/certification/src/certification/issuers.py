"""Who issues each state's certificates: the institute in whose name they are signed and printed. One
service serves every state, so the issuer is looked up by the completion's state, and a state with none
configured gets no certificate rather than one in another state's name. Pure functions over the setting."""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from karmayogi_contracts.fields import STATE_CODE_PATTERN, HttpsUrl
from pydantic import TypeAdapter, ValidationError

SETTING = "ISSUERS"


@dataclass(frozen=True)
class StateIssuer:
    """One state's issuer, as the certificate, its page and its credential name it."""

    name: str  # printed on the certificate and its page; the credential's issuer.name
    id: str  # an https URL: the credential's issuer.id, which a credential check requires of the state's certificates
    signatory: str  # printed under the signature line of the PDF


HARYANA = StateIssuer(name="Haryana Institute of Public Administration, on behalf of the Government of Haryana",
                      id="https://hipa.haryana.gov.in", signatory="Director General, HIPA")
DEFAULT = {"IN-HR": HARYANA}
EXAMPLE = ('{"IN-BR": {"name": "Bihar Institute of Public Administration and Rural Development", '
           '"id": "https://bipard.bihar.gov.in", "signatory": "Director General, BIPARD"}}')

_FIELDS = ("name", "id", "signatory")
_URL = TypeAdapter(HttpsUrl)


def parse(value: object) -> tuple[dict[str, StateIssuer], list[str]]:
    """The issuers a setting gives (JSON text, or already a mapping), and one sentence per problem in it."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            return {}, [f"it is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}); give an "
                        f"object from state code to issuer, such as {EXAMPLE}."]
    if not isinstance(value, Mapping) or not value:
        return {}, [f"it must be a JSON object from state code to issuer, naming at least one state, such as {EXAMPLE}."]
    issuers, problems = {}, []
    for state, entry in value.items():
        found = _entry_problems(state, entry)
        problems += found
        if not found:
            issuers[state] = entry if isinstance(entry, StateIssuer) else StateIssuer(**entry)
    return issuers, problems


def _entry_problems(state: object, entry: object) -> list[str]:
    if not isinstance(state, str) or not re.fullmatch(STATE_CODE_PATTERN, state):
        return [f"{str(state)[:20]!r} is not a state code such as IN-HR."]
    if isinstance(entry, StateIssuer):
        entry = vars(entry)
    if not isinstance(entry, Mapping):
        return [f"{state}'s issuer must be an object with a name, an id and a signatory."]
    problems = [f"{state}'s issuer has {str(extra)[:40]!r}, which is none of name, id and signatory."
                for extra in entry if extra not in _FIELDS]
    for field in _FIELDS:
        if not isinstance(entry.get(field), str) or not entry[field].strip():
            problems.append(f"{state}'s issuer has no {field} (a text that is not empty).")
        elif field == "id" and not _is_https_url(entry["id"]):
            problems.append(f"{state}'s issuer id {entry['id'][:200]!r} must be an https URL, such as "
                            "https://hipa.haryana.gov.in: it is the credential's issuer.id.")
    return problems


def _is_https_url(text: str) -> bool:
    try:
        _URL.validate_python(text)
        return True
    except ValidationError:
        return False


def not_configured(state: str) -> str:
    """Why a completion of `state` is not certified: said so that an operator can add it, then replay it."""
    return (f"No issuer is configured for {state}, so its certificate is not issued (never in another state's "
            f"name): add {state} to the certification service's {SETTING} setting, then replay this event.")
