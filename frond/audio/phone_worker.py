"""Phone recognition in a helper process, beside the rest of the preparation.

pocketsphinx holds the GIL while it decodes, so in-process it runs alone. A small
persistent process (`python -m frond.audio.phone_worker`) decodes instead, while the
main process finds the face, encodes the soundtrack and prepares the field. Protocol on
its stdin/stdout: an 8-byte little-endian sample count, then that many int16 samples
(16 kHz mono); the answer is one JSON line: [[label, start, end], ...] or {"error": ...}.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .phones import Phone, decode_pcm, recognise_phones, to_pcm

log = logging.getLogger(__name__)


class PhoneWorker:
    """Client of one worker process; `submit` returns a Future of the phones."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="phones")
        self._lock = threading.Lock()
        atexit.register(self.close)

    def _ensure(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            root = str(Path(__file__).resolve().parents[2])  # where `frond` is importable from, wherever we run
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
            self._process = subprocess.Popen([sys.executable, "-m", "frond.audio.phone_worker"], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        return self._process

    def _roundtrip(self, samples: np.ndarray) -> list[Phone]:
        pcm = to_pcm(samples)  # exactly what the in-process path decodes: same phones either way
        with self._lock:
            process = self._ensure()
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
        """samples (N,) float32 at 16 kHz -> Future[list[Phone]]."""
        return self._io.submit(self._roundtrip, np.asarray(samples, np.float32))

    def close(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                self._process.stdin.close()
                try:
                    self._process.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    self._process.kill()
            self._process = None


class PhoneSource:
    """Where a motion stage gets a clip's phones: started early in the helper process (`prefetch`),
    collected later (`phones`); recognised in-process if the helper fails; None if that fails too."""

    def __init__(self, worker: PhoneWorker | None = None) -> None:
        self.worker = worker  # None: recognise in this process
        self._prefetched: dict[int, tuple[np.ndarray, Future]] = {}  # id(samples) -> (samples, phones)

    def prefetch(self, samples: np.ndarray, sample_rate: int) -> None:
        """Start recognising the phones of `samples` now; `phones` collects them."""
        if self.worker is not None and sample_rate == 16000:
            self._prefetched[id(samples)] = (samples, self.worker.submit(samples))

    def phones(self, samples: np.ndarray, sample_rate: int) -> tuple[list[Phone] | None, str]:
        """Timed phones, or None with the reason why not."""
        prefetched = self._prefetched.pop(id(samples), None)
        if prefetched is not None and prefetched[0] is samples:
            try:
                return prefetched[1].result(timeout=600), "pocketsphinx phones"
            except Exception as exc:  # noqa: BLE001 - the worker failed: decode here instead
                log.warning("phone worker failed (%s); recognising in-process", exc)
        try:
            return recognise_phones(samples, sample_rate), "pocketsphinx phones"
        except Exception as exc:  # noqa: BLE001 - a recogniser failure must not stop generation
            log.warning("phone recognition failed (%s)", exc)
            return None, f"phone recognition failed: {exc}"


def main() -> None:
    """The worker: answer requests until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.read(8)
        if len(header) < 8:
            return
        n = int.from_bytes(header, "little")
        data = stdin.read(2 * n)
        try:
            phones = decode_pcm(data)
            stdout.write((json.dumps([[p.label, p.start, p.end] for p in phones]) + "\n").encode())
        except Exception as exc:  # noqa: BLE001 - reported to the client, which falls back
            stdout.write((json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n").encode())
        stdout.flush()


if __name__ == "__main__":
    main()
