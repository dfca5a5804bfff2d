"""A demo signal whose exception Python drops (raised inside a finalizer) still stops the demo."""

from __future__ import annotations

import importlib
import signal

import pytest

#: The module, not the click command of the same name that ``llmix_workers.cli`` exports.
demo = importlib.import_module("llmix_workers.cli.demo")


class _Finalized:
    def __del__(self) -> None:
        demo._raise_stopped(signal.SIGTERM, None)  # as if SIGTERM landed in AsyncResult.__del__


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # what we mimic
def test_a_signal_swallowed_by_a_finalizer_still_stops_the_demo() -> None:
    demo._received.clear()
    demo.check_stopped()  # nothing received: carries on
    _Finalized()  # Python prints "Exception ignored in ..." and drops Stopped
    with pytest.raises(demo.Stopped) as stopped:
        demo.check_stopped()
    assert stopped.value.signum == signal.SIGTERM
    demo._received.clear()


class _Interrupting:
    def __reduce__(self) -> tuple[object, ...]:
        demo._raise_stopped(signal.SIGTERM, None)  # as if SIGTERM landed in the encoder
        return (object, ())


def test_a_signal_during_a_kombu_encode_is_not_turned_into_an_encode_error() -> None:
    """kombu wraps any Exception raised while it serialises a message in an EncodeError; the
    demo's signal exception must come through as itself (it did not, and the demo exited 1)."""
    from kombu.serialization import dumps

    demo._received.clear()
    with pytest.raises(demo.Stopped):
        dumps(_Interrupting(), serializer="pickle")  # type: ignore[no-untyped-call]
    demo._received.clear()
