"""A demo signal whose exception Python drops (raised inside a finalizer) still stops the demo."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from llmix_workers.cli import stopping


@pytest.fixture
def installed() -> Iterator[None]:
    previous = stopping.install()
    previous_int = signal.getsignal(signal.SIGINT)
    yield
    stopping.handled()
    signal.signal(signal.SIGTERM, previous)
    signal.signal(signal.SIGINT, previous_int)


class _Finalized:
    def __del__(self) -> None:
        stopping.raise_stopped(signal.SIGTERM, None)  # as if SIGTERM landed in AsyncResult.__del__


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # what we mimic
def test_a_signal_swallowed_by_a_finalizer_is_raised_again_between_stages(installed: None) -> None:
    stopping.check_stopped()  # nothing received: carries on
    _Finalized()  # Python prints "Exception ignored in ..." and drops Stopped
    with pytest.raises(stopping.Stopped) as stopped:
        stopping.check_stopped()
    assert stopped.value.signum == signal.SIGTERM


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
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
