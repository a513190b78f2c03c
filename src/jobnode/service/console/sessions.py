"""Browser sessions of the console: who logged in with the service's token, and the CSRF token of each session.

A session is a random id in an HttpOnly, SameSite=Strict cookie, held in the service's memory: logging out ends it
at once, and a restart of the service ends every session (log in again). Without a token the service listens only
on loopback and every visitor gets a session at once, still with its CSRF token, so that no other web page can make
the browser act on a job.

Example:
    ```python
    sessions = Sessions(token="s3cret")
    if sessions.token_matches(given):
        session = sessions.open()      # set `session.id` as the cookie, put `session.csrf` in every form
    ```
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

#: how long a session lasts without use
IDLE_SECONDS = 12 * 3600
#: most sessions held at once (the oldest go first)
MAX_SESSIONS = 10_000
#: wrong tokens an address may give in `FAILURE_WINDOW` seconds before its logins are refused for a while
MAX_FAILURES, FAILURE_WINDOW = 10, 60.0


@dataclass
class Session:
    """A logged-in browser: its cookie value (`id`), the token its forms carry (`csrf`), and when it expires."""

    id: str
    csrf: str
    expires_at: float

    def csrf_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


class Sessions:
    """The console's sessions (thread-safe: pages are rendered in worker threads)."""

    def __init__(self, token: str | None, *, idle: float = IDLE_SECONDS, most: int = MAX_SESSIONS) -> None:
        self._token = token.encode() if token else None
        self._idle = idle
        self._most = most
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def needs_login(self) -> bool:
        """Whether a visitor must give the token (the service has one)."""
        return self._token is not None

    def token_matches(self, given: str) -> bool:
        """Whether `given` is the service's token (compared in constant time)."""
        return self._token is not None and hmac.compare_digest(given.encode("utf-8", "surrogatepass"), self._token)

    def open(self) -> Session:
        """A new session (after a login, or for a visitor of a service without a token)."""
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.monotonic() + self._idle)
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self._most:
                self._sessions.popitem(last=False)
        return session

    def find(self, session_id: str | None) -> Session | None:
        """The live session of a cookie value, kept alive for another idle period; None when there is none."""
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires_at <= now:
                del self._sessions[session_id]
                return None
            session.expires_at = now + self._idle
            self._sessions.move_to_end(session_id)
            return session

    def close(self, session_id: str) -> None:
        """End a session (logging out)."""
        with self._lock:
            self._sessions.pop(session_id, None)


class LoginThrottle:
    """Refuses every login from an address (right token or not, so guessing learns nothing) once it has given a
    wrong token `most` times within `window` seconds, until the oldest of those failures is `window` old.

    Example:
        ```python
        throttle = LoginThrottle()
        if throttle.wait(address) > 0: ...      # refuse (429) before looking at the token
        elif not sessions.token_matches(given):
            throttle.failed(address)
        ```
    """

    def __init__(self, most: int = MAX_FAILURES, window: float = FAILURE_WINDOW, addresses: int = 10_000) -> None:
        self._most = most
        self._window = window
        self._addresses = addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, address: str) -> float:
        """Seconds before `address` may try again (0: it may now)."""
        now = time.monotonic()
        with self._lock:
            times = self._failures.get(address)
            if times is None:
                return 0.0
            while times and times[0] <= now - self._window:
                times.popleft()
            return times[0] + self._window - now if len(times) >= self._most else 0.0

    def failed(self, address: str) -> None:
        """Count a wrong token given by `address`."""
        with self._lock:
            times = self._failures.setdefault(address, deque(maxlen=self._most))
            times.append(time.monotonic())
            self._failures.move_to_end(address)
            while len(self._failures) > self._addresses:
                self._failures.popitem(last=False)
