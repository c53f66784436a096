"""Start `app.py` in a subprocess and time it: the app's cold start for the benchmark.

`cold_start_seconds()` is the time from launching `python app.py` to the page answering
HTTP 200, which includes importing everything and building the pipeline (the app builds
it before it serves). `AppServer` is the same launcher as a context manager; the app's
tests use it to run the real app on a free localhost port.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Mapping, Sequence

APP = Path(__file__).resolve().parent.parent / "app.py"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AppServer:
    """`python app.py` on a free localhost port, stopped on exit.

        with AppServer() as app:
            app.wait_ready()        # seconds from launch to HTTP 200
            Client(app.url)
    """

    def __init__(
        self,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        script: Path | str = APP,
        cwd: Path | str | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.args = [sys.executable, str(script), "--host", "127.0.0.1", "--port", str(self.port), *args]
        self.env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = str(cwd or Path(script).resolve().parent)
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self._log = tempfile.TemporaryFile()

    def start(self) -> "AppServer":
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(self.args, env=self.env, cwd=self.cwd, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Poll until the page answers 200; return seconds since `start()`."""
        assert self.proc is not None, "start() first"
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with status {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - self.started
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"app.py did not answer on {self.url} within {timeout:.0f} s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        """Everything the app printed so far."""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        self._log.seek(0, os.SEEK_END)
        return text

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()


def cold_start_seconds(timeout: float = 120.0, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> float:
    """Seconds from `python app.py` to its page answering HTTP 200 (import + pipeline ready)."""
    with AppServer(args=args, env=env) as app:
        return app.wait_ready(timeout)


if __name__ == "__main__":
    print(f"app cold start: {cold_start_seconds():.2f} s")
