"""SIGTERM and SIGHUP stop a run the way Ctrl+C does.

By default they kill Python on the spot: no `finally`, no `atexit`, so a half-written
`.part` file stays behind and the phone helper process is never waited for. Here they
raise `Terminated` (a `KeyboardInterrupt`) in the main thread instead, so every `with`
block unwinds: the video writer removes its temporary file and the helper is closed.
"""
from __future__ import annotations

import signal
import threading
from types import FrameType

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """Raised by SIGTERM or SIGHUP; `exit_status` is the shell's 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    for sig in SIGNALS:  # a second signal must not interrupt the clean-up the first one started
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


def stop_like_interrupt() -> None:
    """Make SIGTERM and SIGHUP raise `Terminated` in the main thread (no-op off the main thread)."""
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            signal.signal(sig, _raise_terminated)
