"""Showing URLs and keys without their secrets: passwords and API keys never reach output."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "****"


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``****``; a URL without one is shown as is."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url.partition("://")[0] + "://" + MASK
    if not password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    netloc = f"{user}:{MASK}@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scrub(text: str, *urls: str | None) -> str:
    """``text`` with the password of any of ``urls`` (and the URL itself) masked."""
    for url in urls:
        if not url:
            continue
        text = text.replace(url, masked_url(url))
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            text = text.replace(password, MASK)
    return text


def masked_key(key: str) -> str:
    """An API key as ``****`` plus its last four characters (all masked when short)."""
    key = key.strip()
    return MASK + key[-4:] if len(key) >= 16 else MASK
