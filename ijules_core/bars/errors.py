"""Why a source could not deliver bars, and the one HTTP call that maps failures onto it.

Every source failure is a `SourceError` naming the source, symbol and day (or file), so a
failed Dagster run says which partition broke. Subclasses tell the caller what to do:
retry later (`RateLimited`, `TransientError`), fix the request (`RequestRejected`) or
look at the data (`MalformedData`). API keys never reach a message: `get_json` strips
them from everything it raises, and from urllib3's debug log of request lines.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import tenacity

_KEY_PARAM = re.compile(r"(api_?key=)[^&\s'\"]+", re.IGNORECASE)


class SourceError(RuntimeError):
    """A source failed for one symbol/day (or one file); the message says which."""

    def __init__(
        self,
        detail: str,
        *,
        source: str,
        symbol: str | None = None,
        day: dt.date | None = None,
        path: str | None = None,
    ) -> None:
        self.source, self.symbol, self.day, self.path, self.detail = source, symbol, day, path, detail
        where = " ".join(str(p) for p in (symbol, day, path) if p is not None)
        super().__init__(f"{source} [{where or 'all'}]: {detail}")


class RateLimited(SourceError):
    """The provider (or our client-side budget) says: not now. `retry_after` in seconds if known."""

    def __init__(self, detail: str, *, retry_after: float | None = None, **where: Any) -> None:
        self.retry_after = retry_after
        super().__init__(detail, **where)


class TransientError(SourceError):
    """Server error, timeout or dropped connection: worth another try."""


class RequestRejected(SourceError):
    """The provider refused the request (bad key, unknown symbol, no entitlement)."""


class MalformedData(SourceError):
    """The response or file is not what the source's format promises."""


def redact(text: str, secret: str | None = None) -> str:
    """`text` with any api key query parameter and the literal secret masked."""
    text = _KEY_PARAM.sub(r"\1***", text)
    return text.replace(secret, "***") if secret else text


class _RedactKeys(logging.Filter):
    """urllib3 logs every request line, query string included, at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact(str(record.msg))
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactKeys())


@dataclass(frozen=True)
class Retry:
    """Bounded retries for transient failures; 429s wait `Retry-After` when the server says."""

    attempts: int = 5
    initial_wait_s: float = 1.0
    max_wait_s: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_wait_s)
        backoff = tenacity.wait_exponential(multiplier=self.initial_wait_s, max=self.max_wait_s)
        return backoff(state) + tenacity.wait_random(0, self.initial_wait_s)(state)

    def call(self, fn: Callable[[], Any]) -> Any:
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((RateLimited, TransientError)),
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
        )(fn)


def get_json(
    http: requests.Session,
    url: str,
    params: Mapping[str, Any],
    *,
    secret: str,
    timeout: float,
    where: Mapping[str, Any],
) -> Any:
    """One GET decoded as JSON, or the `SourceError` subclass that says why not (no retries here)."""
    try:
        resp = http.get(url, params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise TransientError(redact(f"{type(exc).__name__}: {exc}", secret), **where) from None
    status = f"HTTP {resp.status_code} from {redact(resp.url, secret)}"
    if resp.status_code == 429:
        after = resp.headers.get("Retry-After")
        raise RateLimited(status, retry_after=float(after) if after and after.isdigit() else None, **where)
    if resp.status_code >= 500:
        raise TransientError(status, **where)
    if resp.status_code >= 400:
        raise RequestRejected(f"{status}: {redact(resp.text[:200], secret)}", **where)
    try:
        return resp.json()
    except ValueError:
        raise MalformedData(f"{status} is not JSON: {redact(resp.text[:80], secret)!r}", **where) from None
