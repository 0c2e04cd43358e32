"""How a refusal becomes an HTTP answer.

Every error answer is JSON `{code, message}` (API) or a page that says the same (portal). The
codes are the certification rules' refusal codes plus the web layer's own:

WebRefusal codes (certification.errors.Refused is reused: code + message)
├── sign_in_required   401  no credential, or one that is expired, revoked or unknown
├── csrf_failed        403  a form or cookie-authenticated write without its CSRF token
├── too_many_attempts  429  sign-in throttled (per account or per address)
└── not_found          404  also every system the caller holds no role on (`not_your_system`)

Client mistakes are 4xx; a rule refusal without an entry below is 422 (the request was
understood and refused by a rule), a conflict with stored state is 409.
"""

from __future__ import annotations

from certification.errors import Refused

STATUS_BY_CODE: dict[str, int] = {
    "sign_in_required": 401,
    "bad_credentials": 401,
    "csrf_failed": 403,
    "admin_only": 403,
    "not_the_representative": 403,
    "not_owner_or_rec_owner": 403,
    "not_system_owner": 403,
    "not_the_requester": 403,
    "not_your_reading": 403,
    "provider_not_approved": 403,
    "account_disabled": 403,
    "not_found": 404,
    "not_your_system": 404,  # a system the caller has no role on is not shown to exist
    "unknown_system": 404,
    "unknown_meter": 404,
    "unknown_request": 404,
    "unknown_account": 404,
    "unknown_token": 404,
    "unknown_reading": 404,
    "link_invalid": 404,
    "request_already_open": 409,
    "request_closed": 409,
    "month_closed": 409,
    "reading_changed": 409,
    "already_exported": 409,
    "account_exists": 409,
    "too_many_attempts": 429,
}


def status_for(code: str) -> int:
    """The HTTP status of a refusal code (422 for a rule refusal not listed)."""
    return STATUS_BY_CODE.get(code, 422)


def body(refusal: Refused) -> dict[str, str]:
    """The JSON error body; `not_your_system` is answered as `not_found` (no existence leak)."""
    if refusal.code == "not_your_system":
        refusal = not_found("system")
    return {"code": refusal.code, "message": refusal.message}


def sign_in_required() -> Refused:
    return Refused("sign_in_required", "sign in (or send an API token as 'Bearer <token>')")


def not_found(what: str) -> Refused:
    return Refused("not_found", f"no such {what}, or you hold no role on it")
