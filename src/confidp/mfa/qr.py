"""The QR code of a TOTP enrolment, made on the server as SVG (segno) and put on the page as
a ``data:`` image, which the pages' Content-Security-Policy allows (``img-src data:``): no
script, nothing fetched, and the otpauth URI never leaves this page."""

from __future__ import annotations

import segno


def svg_data_uri(text: str) -> str:
    code = segno.make(text, error="m", micro=False)
    return str(code.svg_data_uri(scale=5, border=4, dark="#000", light="#fff"))
