"""Where an endpoint's OAuth parameters come from: the query of a GET, or a form-encoded UTF-8
body of a POST (RFC 6749 §3.1, §3.2; OpenID Connect Core §3.1.2.1)."""

from __future__ import annotations

from confidp.context import AppRequest
from confidp.oauth.errors import InvalidRequest

FORM_TYPE = "application/x-www-form-urlencoded"


def form_value(request: AppRequest, name: str) -> str | None:
    """A field of a form body (``confidp.web.request.ConfidpRequest.get_form``: empty when
    the body is not a UTF-8 form), its first value."""
    form = request.form
    value = form.get(name) if form is not None else None
    return value if isinstance(value, str) else None


def parameter_text(request: AppRequest) -> str:
    """The raw ``a=1&b=2`` text; raises InvalidRequest for a POST body that is not a UTF-8
    form."""
    if request.method != "POST":
        return request.query_string
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise InvalidRequest(f"Send the parameters as {FORM_TYPE}.")
    try:
        return request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("Malformed request parameters.", "The body is not UTF-8.") \
            from None
