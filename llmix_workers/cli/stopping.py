"""SIGTERM and Ctrl-C for the demo: a :class:`Stopped` in the main thread, delivered again until
the demo has acted on it.

Python drops an exception that a signal handler raises while a finalizer runs (it prints
"Exception ignored in ..."): a signal landing in Celery's ``AsyncResult.__del__`` during a batch
of 50,000 jobs was lost, and the demo ran on for minutes (a CI run: the test's 120 s passed).
So the first signal also starts a thread that sends it again to the main thread every
:data:`REPEAT_S` until :func:`handled` is called; the demo also calls :func:`check_stopped`
between its stages. While installed, such a dropped :class:`Stopped` is not printed as
"Exception ignored ... Traceback" either (it is delivered again); other unraisable exceptions
are reported as before.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

#: Seconds between deliveries of a signal the demo has not acted on yet.
REPEAT_S = 1.0

#: Signals received since :func:`install` (the handler's exception can be lost).
received: list[int] = []
_handled = threading.Event()
_sending = threading.Lock()
_hooks: list[Any] = []  # the unraisable-exception hooks install() replaced


class Stopped(BaseException):
    """Raised in the main thread when the demo gets SIGTERM or SIGINT.

    A ``BaseException``, as ``KeyboardInterrupt`` is: the signal can land anywhere, and code
    that wraps any ``Exception`` (kombu's serializer turns it into an ``EncodeError``) must let
    it through (seen in CI: the demo exited 1 with a traceback instead of 143).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def install() -> Any:
    """Route SIGTERM and SIGINT to :func:`raise_stopped`; the previous SIGTERM handler, for
    :func:`restore`."""
    received.clear()
    _handled.clear()
    _hooks.append(sys.unraisablehook)
    sys.unraisablehook = _unraisable
    previous = signal.signal(signal.SIGTERM, raise_stopped)
    signal.signal(signal.SIGINT, raise_stopped)
    return previous


def restore(previous: Any) -> None:
    """Undo :func:`install`: SIGTERM's ``previous`` handler, Python's SIGINT handler, the
    unraisable-exception hook."""
    handled()
    signal.signal(signal.SIGTERM, previous)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if _hooks:
        sys.unraisablehook = _hooks.pop()


def raise_stopped(signum: int, _frame: Any) -> None:
    if _handled.is_set():
        return
    received.append(signum)
    if len(received) == 1:
        main = threading.main_thread().ident
        assert main is not None
        threading.Thread(target=_repeat, args=(main, signum), name="demo-stop", daemon=True).start()
    raise Stopped(signum)


def handled() -> None:
    """The demo is stopping: no more deliveries, and a late one raises nothing."""
    with _sending:
        _handled.set()


def check_stopped() -> None:
    """Raise :class:`Stopped` again for a signal already received (see the module doc)."""
    if received and not _handled.is_set():
        raise Stopped(received[0])


def _repeat(main: int, signum: int) -> None:
    while not _handled.wait(REPEAT_S):
        with _sending:
            if not _handled.is_set():
                signal.pthread_kill(main, signum)


def _unraisable(unraisable: Any) -> None:
    if isinstance(unraisable.exc_value, Stopped):
        return  # dropped inside a finalizer: delivered again, nothing to report
    (_hooks[-1] if _hooks else sys.__unraisablehook__)(unraisable)
