"""SIGTERM, SIGHUP and SIGINT in the middle of a render: no output, no hidden .part file, no helper process left.
SIGKILL (or the OOM killer) cannot be caught: the next run to the same output removes what it left."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import EXAMPLES, ROOT, voiced, write_wav


def children(pid: int) -> set[int]:
    """Direct child processes of `pid` (Linux /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return found


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory) -> Path:
    return write_wav(tmp_path_factory.mktemp("audio") / "long.wav", voiced(30.0))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: signal.Signals(s).name)
def test_signal_mid_render_leaves_nothing_behind(tmp_path, long_speech, signum):
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "frond", "generate", "--portrait", str(EXAMPLES / "grace_hopper.jpg"),
                             "--audio", str(long_speech), "--out", str(out), "--size", "512", "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out*.part.mp4")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # wait until the video is being written
    helpers = children(proc.pid)
    assert proc.poll() is None, f"finished before the signal: {proc.communicate()}"
    assert helpers, "the phone helper process should be running"
    time.sleep(0.3)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum or (signum == signal.SIGINT and proc.returncode == 130), (proc.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".*")), f"left behind: {list(tmp_path.glob('.*'))}"
    time.sleep(0.2)
    assert not [pid for pid in helpers if alive(pid)], "a helper process outlived the run"


def test_a_swallowed_stop_signal_still_stops_the_writer(tmp_path, monkeypatch):
    """A signal whose exception some C callback swallowed is raised again by the writer: no output, no .part."""
    import numpy as np

    from frond import shutdown
    from frond.media import VideoWriter

    monkeypatch.setattr(shutdown, "_stopped_by", None)
    out = tmp_path / "out.mp4"
    frame = np.zeros((64, 64, 3), np.uint8)
    before = {sig: signal.getsignal(sig) for sig in shutdown.SIGNALS}
    with pytest.raises(shutdown.Terminated):
        with VideoWriter(out, 64, 64, 25.0) as writer:
            writer.write(frame)
            try:
                shutdown._on_signal(signal.SIGTERM, None)
            except KeyboardInterrupt:
                pass  # swallowed, as inside a codec's callback
            finally:
                for sig, handler in before.items():  # undo the handler's SIG_IGN for the rest of the session
                    signal.signal(sig, handler)
            writer.write(frame)
    assert not out.exists()
    assert not list(tmp_path.iterdir()), list(tmp_path.iterdir())
    monkeypatch.setattr(shutdown, "_stopped_by", None)
    with VideoWriter(out, 64, 64, 25.0) as writer:  # and nothing is raised once no signal is pending
        writer.write(frame)
    assert out.exists()


def exited_pid() -> int:
    """The PID of a process that has come and gone."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_part_files_of_dead_runs_are_removed_and_of_live_ones_kept(tmp_path):
    from frond.paths import part_path, remove_stale_parts

    out = tmp_path / "out.mp4"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        stale, running, init = part_path(out, exited_pid()), part_path(out, live.pid), part_path(out, 1)
        others = [tmp_path / f".out.b.{exited_pid()}.part.mp4",  # out.b.mp4's, not out.mp4's
                  tmp_path / ".out.x.part.mp4", tmp_path / f".other.{exited_pid()}.part.mp4"]
        for path in (stale, running, init, *others):
            path.write_bytes(b"half a video")
        notices = remove_stale_parts(out)
        assert not stale.exists()
        assert running.exists() and init.exists(), "a live process's part file was removed"
        assert all(path.exists() for path in others), "another output's file was removed"
        assert len(notices) == 1 and stale.name in notices[0] and "killed" in notices[0], notices
        assert remove_stale_parts(out) == [], "nothing left to remove, nothing to say"
    finally:
        live.kill()
        live.wait()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_the_part_file_of_a_run_killed_outright_is_removed_by_the_next_run(tmp_path, long_speech):
    out = tmp_path / "out.mp4"
    command = [sys.executable, "-m", "frond", "generate", "--portrait", str(EXAMPLES / "grace_hopper.jpg"),
               "--out", str(out), "--quiet", "--audio"]
    killed = subprocess.Popen(command + [str(long_speech)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out*.part.mp4")) and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert killed.poll() is None, f"finished before the kill: {killed.communicate()}"
    killed.kill()  # SIGKILL: no handler runs, nothing is cleaned up
    killed.communicate(timeout=60)
    left = tmp_path / f".out.{killed.pid}.part.mp4"
    assert left.exists(), list(tmp_path.iterdir())
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # stands for a run still writing
    try:
        running = tmp_path / f".out.{live.pid}.part.mp4"
        running.write_bytes(b"half a video")
        done = subprocess.run(command + [str(write_wav(tmp_path / "short.wav", voiced(1.0)))], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert out.exists() and not left.exists() and running.exists()
        notes = [line for line in done.stderr.splitlines() if left.name in line]
        assert len(notes) == 1 and notes[0].startswith("note:"), done.stderr
    finally:
        live.kill()
        live.wait()
