"""Whether a request prefers JSON (API clients) or HTML (browsers)."""

from __future__ import annotations

from functools import lru_cache

from confidp.context import AppRequest


def prefers_json(request: AppRequest) -> bool:
    """True when the client's Accept header ranks application/json above text/html."""
    accept = request.headers.get("accept", "")
    if not accept:
        return False
    return _cached(accept) if len(accept) <= 512 else ranks_json_first(accept)


def ranks_json_first(accept: str) -> bool:
    best_json = best_html = -1.0
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.strip().lower()
        if media == "application/json" or media.endswith("+json"):
            best_json = max(best_json, quality)
        elif media in ("text/html", "application/xhtml+xml"):
            best_html = max(best_html, quality)
    return best_json > 0 and best_json > best_html


# browsers and client libraries send a handful of distinct Accept headers
_cached = lru_cache(maxsize=256)(ranks_json_first)
