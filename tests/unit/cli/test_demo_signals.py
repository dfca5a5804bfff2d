"""A demo signal whose exception Python drops (raised inside a finalizer) still stops the demo."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator

import pytest

from llmix_workers.cli import stopping


@pytest.fixture
def reported() -> Iterator[list[BaseException | None]]:
    """What reaches the unraisable-exception hook that was in place before the demo's."""
    seen: list[BaseException | None] = []
    before = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: seen.append(unraisable.exc_value)
    yield seen
    sys.unraisablehook = before


@pytest.fixture
def installed(reported: list[BaseException | None]) -> Iterator[None]:
    previous_int = signal.getsignal(signal.SIGINT)
    previous = stopping.install()
    yield
    stopping.restore(previous)
    signal.signal(signal.SIGINT, previous_int)


class _Finalized:
    def __del__(self) -> None:
        stopping.raise_stopped(signal.SIGTERM, None)  # as if SIGTERM landed in AsyncResult.__del__


def test_a_signal_swallowed_by_a_finalizer_is_raised_again_between_stages(installed: None) -> None:
    stopping.check_stopped()  # nothing received: carries on
    _Finalized()  # Python drops Stopped
    with pytest.raises(stopping.Stopped) as stopped:
        stopping.check_stopped()
    assert stopped.value.signum == signal.SIGTERM


class _Broken:
    def __del__(self) -> None:
        raise ValueError("a finalizer's own bug")


def test_a_dropped_signal_is_not_printed_but_other_finalizer_errors_are(
    installed: None, reported: list[BaseException | None]
) -> None:
    """Python reports an exception dropped in a finalizer as "Exception ignored ... Traceback"
    on stderr (CI ci17: the demo's output had one); the demo's own signal is delivered again,
    so it is not reported; anything else still is."""
    _Finalized()
    assert reported == []
    _Broken()
    assert [type(exc) for exc in reported] == [ValueError]


def test_a_signal_swallowed_by_a_finalizer_is_delivered_again_inside_a_long_stage(
    installed: None,
) -> None:
    """A stage that never reaches ``check_stopped`` (a batch of 50,000 jobs) still stops: the
    signal comes again until the demo acts on it (it did not, and the demo ran for minutes)."""
    _Finalized()
    deadline = time.monotonic() + 60
    with pytest.raises(stopping.Stopped) as stopped:
        while time.monotonic() < deadline:  # the stage: busy, never asking
            time.sleep(0.01)
    assert stopped.value.signum == signal.SIGTERM


def test_once_handled_a_late_signal_raises_nothing(installed: None) -> None:
    with pytest.raises(stopping.Stopped):
        stopping.raise_stopped(signal.SIGINT, None)
    stopping.handled()
    stopping.raise_stopped(signal.SIGTERM, None)  # a repeat already on its way: ignored
    stopping.check_stopped()


class _Interrupting:
    def __reduce__(self) -> tuple[object, ...]:
        stopping.raise_stopped(signal.SIGTERM, None)  # as if SIGTERM landed in the encoder
        return (object, ())


def test_a_signal_during_a_kombu_encode_is_not_turned_into_an_encode_error(
    installed: None,
) -> None:
    """kombu wraps any Exception raised while it serialises a message in an EncodeError; the
    demo's signal exception must come through as itself (it did not, and the demo exited 1)."""
    from kombu.serialization import dumps

    with pytest.raises(stopping.Stopped):
        dumps(_Interrupting(), serializer="pickle")  # type: ignore[no-untyped-call]
