"""SIGTERM and SIGHUP stop a run the way Ctrl+C does, and no stop signal is lost.

By default SIGTERM and SIGHUP kill Python on the spot: no `finally`, no `atexit`, so a
half-written `.part` file stays behind and the phone helper process is never waited for.
Here they raise `Terminated` (a `KeyboardInterrupt`) in the main thread instead, so every
`with` block unwinds: the video writer removes its temporary file and the helper is closed.

A signal that lands while the main thread is inside a C extension's callback (a codec's
log hook, say) can have its exception swallowed there. So the handlers also remember the
signal, and `raise_if_stopped()`, which the video writer calls on every frame and before it
moves a finished file into place, raises it again: a run that was stopped never finishes.
"""
from __future__ import annotations

import signal
import threading
from types import FrameType

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

_stopped_by: int | None = None  # the first stop signal received, once the handlers are installed


class Terminated(KeyboardInterrupt):
    """Raised by SIGTERM or SIGHUP; `exit_status` is the shell's 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _interrupt(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _stopped_by
    if signum != signal.SIGINT:  # a second SIGTERM must not interrupt the clean-up the first one started
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
    if _stopped_by is None:
        _stopped_by = signum
    raise _interrupt(signum)


def stop_like_interrupt() -> None:
    """Make SIGTERM and SIGHUP raise `Terminated`, and SIGINT `KeyboardInterrupt`, in the main
    thread, remembering the signal for `raise_if_stopped` (no-op off the main thread)."""
    if threading.current_thread() is threading.main_thread():
        for sig in (*SIGNALS, signal.SIGINT):
            signal.signal(sig, _on_signal)


def raise_if_stopped() -> None:
    """Raise the stop signal's exception again if one was received (and perhaps swallowed)."""
    if _stopped_by is not None:
        raise _interrupt(_stopped_by)
