"""Phone recognition in a helper process, beside the rest of the preparation.

pocketsphinx holds the GIL while it decodes, so in-process it runs alone. A small
persistent process (`python -m frond.audio.phone_worker`) decodes instead, while the
main process finds the face, encodes the soundtrack and prepares the field. Protocol on
its stdin/stdout: an 8-byte little-endian sample count, then that many int16 samples
(16 kHz mono); the answer is one JSON line: [[label, start, end], ...] or {"error": ...}.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .phones import Phone, decode_pcm, new_decoder, recognise_phones, to_pcm

log = logging.getLogger(__name__)


class PhoneWorker:
    """Client of one worker process; `submit` returns a Future of the phones.

    `shared()` is the process's one worker: the CLI submits the clip as soon as it is decoded,
    before the pipeline is even imported, and the pipeline's own submission of the same samples
    gets that request's Future instead of decoding them again.
    """

    _shared: "PhoneWorker | None" = None
    RECENT = 4  # requests remembered by content, so that the same samples are decoded once

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="phones")
        self._lock = threading.Lock()
        self._recent: OrderedDict[bytes, Future] = OrderedDict()
        atexit.register(self.close)

    @classmethod
    def shared(cls) -> "PhoneWorker":
        """The process-wide worker (created on first use)."""
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def start(self) -> None:
        """Start the helper process now (it imports on another core while the caller goes on)."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            root = str(Path(__file__).resolve().parents[2])  # where `frond` is importable from, wherever we run
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
                   "FROND_PARENT_PID": str(os.getpid())}
            self._process = subprocess.Popen([sys.executable, "-m", "frond.audio.phone_worker"], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        return self._process

    def _roundtrip(self, pcm: bytes) -> list[Phone]:
        with self._lock:
            process = self._ensure()
            assert process.stdin is not None and process.stdout is not None  # both are pipes
            process.stdin.write((len(pcm) // 2).to_bytes(8, "little") + pcm)
            process.stdin.flush()
            line = process.stdout.readline()
        if not line:
            raise RuntimeError("the phone worker exited")
        answer = json.loads(line)
        if isinstance(answer, dict):
            raise RuntimeError(answer.get("error", "phone worker error"))
        return [Phone(label, float(start), float(end)) for label, start, end in answer]

    def submit(self, samples: np.ndarray) -> Future:
        """samples (N,) float32 at 16 kHz -> Future[list[Phone]] (the earlier one for the same samples)."""
        pcm = to_pcm(np.asarray(samples, np.float32))  # exactly what the in-process path decodes: same phones either way
        key = hashlib.blake2b(pcm, digest_size=16).digest()
        future = self._recent.get(key)
        if future is None or (future.done() and future.exception() is not None):
            future = self._recent[key] = self._io.submit(self._roundtrip, pcm)
            while len(self._recent) > self.RECENT:
                self._recent.popitem(last=False)
        self._recent.move_to_end(key)
        return future

    def close(self) -> None:
        """Stop the helper and wait for it: when idle it ends on end of input; when a request is
        in flight (an interrupted run) nobody waits for the answer any more, so it is killed."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None and process.stdout is not None  # both are pipes
        if self._lock.acquire(timeout=0.05):
            try:
                if process.poll() is None:
                    process.stdin.close()
                    try:
                        process.wait(timeout=2)
                    except subprocess.TimeoutExpired:
                        process.kill()
            finally:
                self._lock.release()
        else:
            process.kill()
        process.wait()
        process.stdout.close()


def _die_with_parent() -> None:
    """Linux: the kernel sends this process SIGKILL when its parent dies, however it dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class PhoneSource:
    """Where a motion stage gets a clip's phones: started early in the helper process (`prefetch`),
    collected later (`phones`: the worker hands back the same answer for the same samples);
    recognised in-process if the helper fails; None if that fails too."""

    def __init__(self, worker: PhoneWorker | None = None) -> None:
        self.worker = worker  # None: recognise in this process

    def prefetch(self, samples: np.ndarray, sample_rate: int) -> None:
        """Start recognising the phones of `samples` now; `phones` collects them."""
        if self.worker is not None and sample_rate == 16000:
            self.worker.submit(samples)

    def phones(self, samples: np.ndarray, sample_rate: int) -> tuple[list[Phone] | None, str]:
        """Timed phones, or None with the reason why not."""
        if self.worker is not None and sample_rate == 16000:
            try:
                return self.worker.submit(samples).result(timeout=600), "pocketsphinx phones"
            except Exception as exc:  # noqa: BLE001 - the worker failed: decode here instead
                log.warning("phone worker failed (%s); recognising in-process", exc)
        try:
            return recognise_phones(samples, sample_rate), "pocketsphinx phones"
        except Exception as exc:  # noqa: BLE001 - a recogniser failure must not stop generation
            log.warning("phone recognition failed (%s)", exc)
            return None, f"phone recognition failed: {exc}"


def main() -> None:
    """The worker: answer requests until stdin closes."""
    _die_with_parent()
    if str(os.getppid()) != os.environ.get("FROND_PARENT_PID", str(os.getppid())):  # it died before the line above
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal reaches us too: the parent decides when we stop
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    ready = new_decoder()  # built while the caller is still busy elsewhere: ~0.2 s off every answer
    while True:
        header = stdin.read(8)
        if len(header) < 8:
            return
        n = int.from_bytes(header, "little")
        data = stdin.read(2 * n)
        try:
            phones = decode_pcm(data, ready)
            stdout.write((json.dumps([[p.label, p.start, p.end] for p in phones]) + "\n").encode())
        except Exception as exc:  # noqa: BLE001 - reported to the client, which falls back
            stdout.write((json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n").encode())
        stdout.flush()
        ready = new_decoder()  # a fresh one for the next clip (a used one carries adaptation state), built while idle


if __name__ == "__main__":
    main()
