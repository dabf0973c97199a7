"""HTTP API: the public verification page and JSON, the credential check, the JWKS, the PDF (open to anyone);
revocation (the administrator's token); a certificate's credential and the listings for the state's systems and
training officers (behind a state's key, karmayogi_runtime.access)."""

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.responses import HTMLResponse, Response
from karmayogi_contracts.fields import EMPLOYEE_ID_PATTERN, STATE_CODE_PATTERN
from karmayogi_contracts.parts import Reason
from karmayogi_runtime import access, calendar
from karmayogi_runtime.access import ANOTHER_STATES_KEY, StateScope
from karmayogi_runtime.http import Pool, Problem, problem_answer
from pydantic import AfterValidator, BaseModel, Field

from certification import admin, credential, handlers, page, pdf, pdf_cache, repository
from certification.handlers import Issuer
from certification.keys import KeyRing
from certification.pdf_cache import PdfCache
from certification.settings import CertificationSettings

log = logging.getLogger(__name__)

Tenant = Annotated[str, Path(pattern=STATE_CODE_PATTERN, description="The state's ISO 3166-2 code.", examples=["IN-HR"])]
EmployeeFilter = Annotated[str | None, Query(pattern=EMPLOYEE_ID_PATTERN, description="One employee's certificates: "
                                            "their id in the state's HRMS, exactly.", examples=["HR0412345"])]
CourseFilter = Annotated[UUID | None, Query(description="One course's certificates: the course's id.")]
# `wrong_issuer` is decided from the issuer signed into each credential against today's ISSUERS, which SQL
# cannot see, so the list is narrowed by what is stored: revoked or not.
STATUS_FILTER = ("`status=revoked`: the revoked certificates; `status=valid`: those not revoked. The filter is on "
                 "the revocation alone: an item it selects shows `wrong_issuer` when its credential is not in the "
                 "name of its state's issuer (see the item's `status`).")
StatusFilter = Annotated[Literal["valid", "revoked"] | None, Query(description=STATUS_FILTER)]
Limit = Annotated[int, Query(ge=1, le=500, description="How many certificates a page holds, at most 500.")]
# A page's `next`: the place of its last certificate in the order certificates were written (repository.LIST),
# negative for those written before migration 0003 numbered them. 18 digits at most: within PostgreSQL's bigint.
NEXT = re.compile(r"-?[0-9]{1,18}")


def checked_after(after: str | None) -> str | None:
    """The `after` of a request, refused with a sentence when it is no page's `next` (a 422)."""
    if after is None or NEXT.fullmatch(after):
        return after
    raise ValueError(f"{after[:40]!r} is not the `next` of a page; pass the `next` of the page before as it was "
                     "given, or no `after` for the first page.")


After = Annotated[str | None, Query(description="The `next` of the page before; none for the first page.",
                                    examples=["1042"]), AfterValidator(checked_after)]
# Any text: the page answers in English for a language it does not have rather than refusing a shared link.
Lang = Annotated[str | None, Query(description="The page's language: `en` or `hi` (`hi-IN` and any case too); "
                                   "otherwise the reader's `Accept-Language` decides, and English without one.",
                                   examples=["hi"])]

# The answers besides 200 and 422, for the OpenAPI document.
NOT_FOUND = {404: problem_answer("No certificate has this id")}
# The public paths take any text as the id (a link may be mistyped or cut short): one that is not a UUID is
# answered as an unknown one, as the page does, not with a 422.
PUBLIC_NOT_FOUND = {404: problem_answer("No certificate has this id, or the id is not a certificate's")}
REVOKED = {410: problem_answer("The certificate was revoked, so it is no longer offered as a PDF")}
# The server cannot make this PDF (501): a text holds a character none of its fonts draws. Not a fault of the
# request, nor one a retry mends; the verification page shows the certificate in full.
UNPRINTABLE = {501: problem_answer("The PDF cannot be made: its fonts cannot draw a character of the certificate's "
                                   "text; its verification page shows it")}
REVOCATION = {**NOT_FOUND, 401: problem_answer("The administrator's bearer token is missing or wrong",
                                               headers=admin.CHALLENGE),
              409: problem_answer("The certificate was revoked before, with another reason")}
# The page says so itself, in the reader's language, rather than in a `Problem`.
PAGE_NOT_FOUND = {404: {"description": "No certificate has this id: the page says so",
                         "content": {"text/html": {"schema": {"type": "string"}}}}}
# The PDF itself, rather than the JSON a route answers by default.
PDF = {200: {"description": "The certificate as a PDF (A4, with its QR code)",
             "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}
# The PDF's link is opened in a browser, so once revoked it answers with a page too, not a `Problem`.
PDF_REVOKED_PAGE = {410: {"description": "The certificate was revoked, so it is no longer offered as a PDF: a page "
                          "in the reader's language says when and why, and links the verification page",
                          "content": {"text/html": {"schema": {"type": "string"}}}}}
PDF_UNPRINTABLE_PAGE = {501: {"description": "The PDF cannot be made, as its fonts cannot draw a character of the "
                              "certificate's text: a page in the reader's language says which, and links the "
                              "verification page, which shows the certificate in full",
                              "content": {"text/html": {"schema": {"type": "string"}}}}}


class RevocationIn(BaseModel):
    # The contract's own rule, so a reason the certificate.revoked event would refuse is a 422, not a 500.
    reason: Reason = Field(examples=["Issued for the wrong employee after a data-entry error."])


class PresentedCredential(BaseModel):
    credential: str = Field(min_length=1, max_length=100_000, description="The certificate's JWT as presented.")


# Times as the status JSON gives them (ISO 8601 with the offset, `+00:00`), so an officer's list and a
# certificate's status say the same instant in the same words.
Moment = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class CertificateItem(BaseModel):
    """One certificate in an officer's list, with the status its verification page shows."""

    certificate_id: UUID
    employee_id: str = Field(description="The employee's id in the state's HRMS.")
    employee_name: str
    course_id: UUID
    course_title: str
    issued_at: Moment
    status: Literal["valid", "wrong_issuer", "revoked"] = Field(
        description="What its verification page and the credential check say: `valid`; `wrong_issuer` when its "
        "credential is in the name of an issuer that is not the one ISSUERS names for its state (or that state "
        "has none any more), so it is not shown as valid; `revoked` once revoked (see `revoked_at`).")
    revoked_at: Moment | None = Field(description="When it was revoked; null while it is not.")
    revocation_reason: str | None = Field(description="Why it was revoked, as the administrator wrote it; null "
                                          "while it is not.")
    verify_url: str = Field(description="Its public verification page (the QR code's target).")


class CertificatePage(BaseModel):
    """A page of a state's certificates, the newest written first."""

    items: list[CertificateItem]
    next: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


class CertificateCount(BaseModel):
    issued: int = Field(description="How many certificates were issued, the revoked ones included.")
    revoked: int = Field(description="How many of them were revoked since.")


@dataclass(frozen=True)
class Certification:
    """What the routes need besides the database: settings, the key ring and the issuer."""

    settings: CertificationSettings
    keys: KeyRing
    issuer: Issuer
    pdfs: PdfCache

    async def find(self, pool, certificate_id: UUID | str):
        """The certificate, or None. An id that is not a UUID (the public paths take any text, as a mistyped or
        cut-short link may hold) has no certificate either."""
        try:
            certificate_id = UUID(str(certificate_id))
        except ValueError:
            return None
        async with pool.acquire() as connection:
            return await repository.get(connection, certificate_id)

    def public(self, row) -> dict:
        claims = credential.claims_of(row["credential"])  # the stored credential, read once for both uses
        status, message = self.verdict(row, claims)
        return {
            "certificate_id": str(row["certificate_id"]), "status": status, "message": message,
            "employee_name": row["employee_name"], "course_title": row["course_title"],
            "competencies": list(row["competencies"]), "issued_at": row["issued_at"].isoformat(),
            "revoked_at": row["revoked_at"].isoformat() if row["revoked_at"] else None,
            "revocation_reason": row["revocation_reason"], "issuer": claims["issuer"]["name"],
            "verify_url": self.issuer.verify_url(row["certificate_id"]),
        }

    async def check(self, pool, token: str) -> dict:
        checked = credential.check(token, self.keys)
        if checked.claims is None:
            return {"valid": False, "status": checked.outcome, "message": checked.message}
        certificate_id = str(checked.claims.get("id", "")).removeprefix("urn:uuid:")
        row = await self.find(pool, certificate_id)
        if row is None:
            return {"valid": False, "status": "not_found", "certificate_id": certificate_id,
                    "message": "The signature is valid but this issuer has no record of the certificate."}
        status, message = self.verdict(row, checked.claims)
        return {"valid": status == "valid", "status": status, "certificate_id": certificate_id, "message": message}

    def verdict(self, row, claims: dict | None = None) -> tuple[str, str]:
        """valid, wrong_issuer or revoked, and why: what the credential check answers for the credential
        presented (`claims`) and the page and status for the one issued (the stored credential), so they agree.
        A revoked certificate is `revoked` whatever issuer it names."""
        if row["revoked_at"]:  # before the issuer: a revocation is final, and its page and PDF link say why
            return "revoked", f"The certificate was revoked on {self.revoked_on(row)}: {row['revocation_reason']}"
        claims = claims if claims is not None else credential.claims_of(row["credential"])
        issuer = self.settings.issuers.get(row["tenant"])
        if problem := credential.issuer_problem(claims, row["tenant"], issuer and issuer.id):
            return "wrong_issuer", problem
        return "valid", "The certificate is valid."

    def revoked_on(self, row) -> str:
        """The day of the revocation, as the state's calendar has it."""
        return f"{calendar.day_of(row['revoked_at'], self.settings.zone()):%d-%m-%Y}"

    def revoked_sentence(self, row) -> str:
        return (f"Certificate {row['certificate_id']} was revoked on {self.revoked_on(row)}, so it is no longer "
                f"offered as a PDF; its verification page says why: {self.issuer.verify_url(row['certificate_id'])}")

    def revoked_before_sentence(self, row) -> str:
        return (f"Certificate {row['certificate_id']} was already revoked on {self.revoked_on(row)} (reason: "
                f"{row['revocation_reason']}), and a revocation's reason cannot be changed.")

    def unprintable_sentence(self, row, unprintable: "pdf.Unprintable") -> str:
        return (f"Certificate {row['certificate_id']} cannot be made into a PDF, as no font of it draws "
                f"{unprintable}; its verification page shows it in full: {self.issuer.verify_url(row['certificate_id'])}")

    def signatory(self, row) -> str:
        """Who signs for the certificate's state now; none (a blank line) for a state no longer configured."""
        issuer = self.settings.issuers.get(row["tenant"])
        return issuer.signatory if issuer else ""

    def printed(self, row) -> dict:
        """The certificate's texts as its PDF prints them: the issuer signed into its credential, the state's
        signatory now."""
        return {"name": row["employee_name"], "course": row["course_title"], "competencies": list(row["competencies"]),
                "centre": row["centre"], "issuer": credential.issuer_name(row["credential"]),
                "signatory": self.signatory(row)}

    def pdf_refusal(self, row) -> "pdf.Unprintable | None":
        """Why the certificate gets no PDF (a character no font of the PDF draws), or None: what its PDF's links
        refuse with (501) and its verification page says in place of the PDF's link, one check so they agree.
        Asked before the cache too, so a PDF rendered before a change (of the signatory) is not served when the
        page says there is none."""
        return pdf.refusal(**self.printed(row))

    async def pdf(self, row) -> bytes:
        """The certificate's PDF; `pdf.Unprintable` when a text of it holds a character that no font of the PDF
        draws (logged with the script, not the letters, which may be a name: a font to add to the image)."""
        certificate_id = str(row["certificate_id"])
        if refused := self.pdf_refusal(row):
            log.warning("certificate %s is not made into a PDF: no font of it draws its letters of the %s "
                        "script (the PDF's public link says so)", certificate_id, refused.scripts)
            raise refused
        texts = {**self.printed(row), "issued_on": calendar.day_of(row["issued_at"], self.settings.zone()),
                 "verify_url": self.issuer.verify_url(row["certificate_id"]), "certificate_id": certificate_id}
        kept_as = pdf_cache.name(certificate_id, texts)
        content = await asyncio.to_thread(self.pdfs.get, kept_as)
        if content is None:
            content = await asyncio.to_thread(pdf.render, **texts)
            await asyncio.to_thread(self.pdfs.put, kept_as, content)
        return content


def public_routes(service: Certification) -> APIRouter:
    """What anyone may ask, with no key: the verification page (the QR code's target), its status and PDF, the
    JWKS, and the credential check. None of them tells more than the certificate itself does to whoever holds
    it, and a system checking a credential (another state's, say) need not hold this state's key. (On
    Kubernetes the Ingress publishes the pages and the JWKS; the check is served inside the cluster.)"""
    router = APIRouter()

    # HEAD as well on the public paths: link checkers and messaging apps' link previews ask with HEAD. The
    # server (uvicorn) sends a HEAD answer's status and headers without the body.
    @router.get("/verify/{certificate_id}", response_class=HTMLResponse, tags=["public"], responses=PAGE_NOT_FOUND,
                summary="The public verification page (the QR code's target), in English or Hindi; HEAD too")
    @router.head("/verify/{certificate_id}", response_class=HTMLResponse, include_in_schema=False)
    async def verify_page(certificate_id: str, pool: Pool, lang: Lang = None,
                          accept_language: Annotated[str | None, Header()] = None) -> HTMLResponse:
        row = await service.find(pool, certificate_id)
        chosen = page.language(lang, accept_language)
        if row is None:
            return _page_answer(_not_found_page(service, chosen), 404, chosen)
        # The PDF is offered as long as it is served: not once revoked (410, as the status says), nor when its
        # fonts cannot draw a character of it (501), which the page says instead.
        refused = None if row["revoked_at"] else service.pdf_refusal(row)
        pdf_url = None if row["revoked_at"] or refused else f"{service.issuer.verify_url(row['certificate_id'])}/pdf"
        shown = service.public(row)  # what the status JSON says: the page says the same
        html = page.render(row, lang=chosen, state=service.settings.zone(), pdf_url=pdf_url,
                           issuer=shown["issuer"], status=shown["status"],
                           unprintable=refused.characters if refused else "")
        return _page_answer(html, 200, chosen)

    @router.get("/verify/{certificate_id}/status", tags=["public"], responses=PUBLIC_NOT_FOUND,
                summary="A certificate's status, as JSON: the credentialStatus link signed into its credential; "
                "HEAD too",
                description="`status` is what the credential check answers for the certificate's credential: "
                "`valid`; `wrong_issuer` when it was issued in the name of an issuer that is not the one ISSUERS "
                "names for the certificate's state (or that state has none any more); `revoked`. `message` says "
                "why, in a sentence.")
    @router.head("/verify/{certificate_id}/status", include_in_schema=False)
    async def public_status(certificate_id: str, pool: Pool) -> dict:
        return service.public(await _existing(service, pool, certificate_id))

    @router.post("/v1/credentials/verify", tags=["internal"],
                 summary="Check a presented credential: signature, key, status, and that it is in the name of the "
                 "issuer of its certificate's state (no key needed)")
    async def verify_credential(body: PresentedCredential, pool: Pool) -> dict:
        return await service.check(pool, body.credential)

    @router.get("/.well-known/jwks.json", tags=["public"], summary="The issuer's public keys, older ones included")
    async def jwks() -> dict:
        return service.keys.jwks()

    @router.get("/verify/{certificate_id}/pdf", tags=["public"], response_class=Response,
                responses={**PDF, **PAGE_NOT_FOUND, **PDF_REVOKED_PAGE, **PDF_UNPRINTABLE_PAGE},
                summary="The certificate as a PDF, beside its verification page (the link in the e-mail and SMS); "
                "once revoked, for an unknown id, or when its fonts cannot draw a character of it, a page in "
                "English or Hindi (`?lang=`, `Accept-Language`) saying so; HEAD too")
    @router.head("/verify/{certificate_id}/pdf", response_class=Response, include_in_schema=False)
    async def public_pdf(certificate_id: str, pool: Pool, lang: Lang = None,
                         accept_language: Annotated[str | None, Header()] = None) -> Response:
        row = await service.find(pool, certificate_id)
        # The link is opened in a phone's browser (a cut-short SMS link too): the reader is told in their
        # language, as the page would.
        chosen = page.language(lang, accept_language)
        if row is None:
            return _page_answer(_not_found_page(service, chosen), 404, chosen)
        page_url = service.issuer.verify_url(row["certificate_id"])
        if row["revoked_at"]:
            html = page.render_pdf_revoked(row, lang=chosen, page_url=page_url, state=service.settings.zone())
            return _page_answer(html, 410, chosen)
        try:
            return _pdf_response(row, await service.pdf(row))
        except pdf.Unprintable as unprintable:
            html = page.render_pdf_unprintable(row, lang=chosen, page_url=page_url, characters=unprintable.characters)
            return _page_answer(html, 501, chosen)

    return router


def revocation_routes(service: Certification) -> APIRouter:
    """Revoking is the administrator's act, not a state system's: the route checks the administrator's token
    itself (admin.py), so it is served without a state's key, and a state's key is no token for it."""
    router = APIRouter()

    @router.post("/v1/certificates/{certificate_id}/revocation", tags=["admin"], responses=REVOCATION,
                 summary="Revoke a certificate (admin token); the page, JSON and credential check show it at once. "
                 "Revoking it again with the same reason is answered as the first time.")
    async def revoke(certificate_id: UUID, body: RevocationIn, pool: Pool,
                     credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin.ADMIN_BEARER)]) -> dict:
        if not admin.presents_admin_token(credentials, service.settings.admin_token.get_secret_value()):
            raise Problem(401, "Revoking a certificate needs the administrator's token, sent as "
                               "'Authorization: Bearer <token>'.", headers=admin.CHALLENGE)
        await _existing(service, pool, certificate_id)
        async with pool.acquire() as connection, connection.transaction():
            revoked = await handlers.revoke(connection, certificate_id, body.reason, datetime.now(timezone.utc))
        row = await _existing(service, pool, certificate_id)
        # A repeat with the same reason is a client retrying, answered as the first time; another reason would
        # be silently dropped, since a revocation (and the certificate.revoked event it published) is final.
        if not revoked and row["revocation_reason"] != body.reason:
            raise Problem(409, service.revoked_before_sentence(row))
        return service.public(row)

    return router


def state_routes(service: Certification) -> APIRouter:
    """The routes of the state's own systems and officers, behind a state's key (`ServiceDefinition.routers`).
    A certificate's own routes name no state in their path, so they check the state of the certificate found:
    another state's is a 403 rather than a 404, since its verification page already tells anyone that it
    exists and whose it is; its credential and internal status are not given."""
    router = APIRouter()

    @router.get("/v1/certificates/{certificate_id}", tags=["internal"], responses={**NOT_FOUND, **ANOTHER_STATES_KEY},
                summary="A certificate's status and its signed credential, as JSON, for the state's own systems "
                "(not routed on the public host, where the status is /verify/{certificate_id}/status)")
    async def certificate_status(certificate_id: UUID, pool: Pool, scope: StateScope) -> dict:
        row = await _existing(service, pool, certificate_id)
        access.require(scope, row["tenant"])
        return {**service.public(row), "credential": row["credential"]}

    @router.get("/v1/certificates/{certificate_id}/pdf", tags=["internal"], response_class=Response,
                responses={**PDF, **PUBLIC_NOT_FOUND, **REVOKED, **UNPRINTABLE, **ANOTHER_STATES_KEY},
                summary="The certificate as a PDF (rendered on first request, then cached); 410 once revoked")
    async def certificate_pdf(certificate_id: str, pool: Pool, scope: StateScope) -> Response:
        row = await _existing(service, pool, certificate_id)
        access.require(scope, row["tenant"])
        return await _pdf_answer(service, row)

    @router.get("/v1/states/{tenant}/certificates", tags=["officers"], response_model=CertificatePage,
                summary="Certificates of a state, newest first",
                description="Each with the `status` its verification page shows (valid, wrong_issuer or revoked), and "
                "when and why it was revoked. `employee_id`, `course_id` and `status` narrow the list; `status=valid` "
                "means not revoked (see `status`). The order is newest first: the certificate recorded last first "
                "(a completion reported late, with an earlier `issued_at`, is listed where it was recorded). Pass a "
                "page's `next` as `after` for the next page; `next` is null on the last page. A page resumes past the "
                "last certificate of the page before, so however many certificates are issued while a state system "
                "reads page after page, it gets each certificate recorded before its first page once: none twice, "
                "none missed (with `status`, one revoked meanwhile is given as its status is when its page is read). "
                "Those issued meanwhile are newer than the first page: the next read from the first page gives them. "
                "The count says how many there are.")
    async def list_certificates(tenant: Tenant, pool: Pool, employee_id: EmployeeFilter = None,
                                course_id: CourseFilter = None, status: StatusFilter = None,
                                limit: Limit = 50, after: After = None) -> CertificatePage:
        revoked = None if status is None else status == "revoked"
        filters = repository.Filters(tenant, employee_id, course_id, revoked)
        async with pool.acquire() as connection:
            # The one row past the page tells whether another follows, so the last page says so (`next` null).
            rows = await repository.certificates(connection, filters, None if after is None else int(after),
                                                limit + 1)
        more, rows = len(rows) > limit, rows[:limit]
        return CertificatePage(next=str(rows[-1]["seq"]) if more else None, items=[CertificateItem(
            certificate_id=r["certificate_id"], employee_id=r["employee_id"], employee_name=r["employee_name"],
            course_id=r["course_id"], course_title=r["course_title"], issued_at=r["issued_at"].isoformat(),
            status=service.verdict(r)[0], revoked_at=r["revoked_at"].isoformat() if r["revoked_at"] else None,
            revocation_reason=r["revocation_reason"], verify_url=service.issuer.verify_url(r["certificate_id"]),
        ) for r in rows])

    @router.get("/v1/states/{tenant}/certificates/count", tags=["officers"], response_model=CertificateCount,
                summary="How many certificates a state has issued and revoked; `employee_id` and `course_id` narrow "
                "the count as they narrow the list")
    async def count_certificates(tenant: Tenant, pool: Pool, employee_id: EmployeeFilter = None,
                                 course_id: CourseFilter = None) -> CertificateCount:
        async with pool.acquire() as connection:
            row = await repository.count(connection, repository.Filters(tenant, employee_id, course_id))
        return CertificateCount(issued=row["issued"], revoked=row["revoked"])

    return router


async def _existing(service: Certification, pool, certificate_id: UUID | str):
    """The certificate, or a 404: an id that is not a UUID is answered as an unknown one, as the page does."""
    row = await service.find(pool, certificate_id)
    if row is None:
        raise Problem(404, f"No certificate {str(certificate_id)[:80]} exists.")
    return row


async def _pdf_answer(service: Certification, row) -> Response:
    """The certificate's PDF, a 410 `Problem` once it is revoked, or a 501 one when its fonts cannot draw a
    character of it: what a state's system reads (the public link, opened in a browser, answers with pages)."""
    if row["revoked_at"]:  # before the cache: another pod may still hold the PDF rendered before
        raise Problem(410, service.revoked_sentence(row))
    try:
        return _pdf_response(row, await service.pdf(row))
    except pdf.Unprintable as unprintable:
        raise Problem(501, service.unprintable_sentence(row, unprintable)) from None


def _pdf_response(row, content: bytes) -> Response:
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="certificate-{row["certificate_id"]}.pdf"'})


def _not_found_page(service: Certification, lang: str) -> str:
    """The NOT FOUND page: what the verification page and the PDF's public link answer an unknown id, or one
    that is not a certificate's (a mistyped or cut-short link)."""
    return page.render(None, lang=lang, state=service.settings.zone(), pdf_url=None, issuer=None, status=None)


def _page_answer(html: str, status_code: int, lang: str) -> HTMLResponse:
    # Vary: a cache in between must not answer a Hindi reader with the page it kept for an English one.
    return HTMLResponse(html, status_code=status_code, headers={"Content-Language": lang, "Vary": "Accept-Language"})

