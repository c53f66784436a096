"""Input and output paths, checked before any work.

A generation that would overwrite one of its inputs, or that cannot write its output,
is refused up front with a `FrondInputError` (the CLI prints it as one `error:` line and
exits with status 2), instead of failing after the frames are rendered. The checks leave
nothing behind: the folder probe's file is removed at once and no folder is created.

A video is written to a hidden part file beside it (`part_path`), renamed into place when
done. A run killed outright (SIGKILL, the OOM killer) leaves its part file; the next run to
the same output removes it (`remove_stale_parts`), never a part file of a run still alive.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from .errors import FrondInputError

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")  # what an H.264 + AAC MP4 may be called
INTERMEDIATE_FILES = ("aligned.png", "trajectories.png", "motion_field.mp4", "overlay.mp4", "side_by_side.mp4",
                      "keypoints.npz")  # what --save-intermediates writes into its folder


PART_SUFFIX = ".part.mp4"  # a video being written: .NAME.PID.part.mp4 beside NAME.mp4


def part_path(out: str | os.PathLike, pid: int | None = None) -> Path:
    """The hidden file a video is written to before it replaces `out`: .NAME.PID.part.mp4 (this process's PID)."""
    out = Path(out)
    return out.with_name(f".{out.stem}.{os.getpid() if pid is None else pid}{PART_SUFFIX}")


def process_alive(pid: int) -> bool:
    """True while a process `pid` exists (one we may not signal counts: it is alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, OSError):  # not a valid PID on this system
        return False
    return True


def remove_stale_parts(out: str | os.PathLike) -> list[str]:
    """Remove the part files beside `out` left by runs that no longer exist (killed outright).

    Part files of live processes (another run writing the same output) are left alone.
    Returns one notice naming what was removed, or none.
    """
    out = Path(out)
    prefix = f".{out.stem}."
    removed: list[str] = []
    try:
        candidates = [p for p in out.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(PART_SUFFIX)]
    except OSError:  # the folder does not exist yet: nothing to remove
        return []
    for path in sorted(candidates):
        pid = path.name[len(prefix):-len(PART_SUFFIX)]
        if not pid.isdigit() or process_alive(int(pid)):
            continue
        try:
            path.unlink()
        except OSError:  # gone already (another run removed it first), or not ours to remove
            continue
        removed.append(path.name)
    if not removed:
        return []
    return [f"Removed {len(removed)} stale partial video(s) beside {out.name} left by runs that were killed: "
            f"{', '.join(removed)}."]


def _same_file(a: Path, b: Path) -> bool:
    """True when `a` and `b` name one file: equal, a symlink to it, or a hard link of it."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _nearest_existing(path: Path) -> Path:
    """`path` or its closest ancestor that exists."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable_folder(folder: Path, option: str, target: Path) -> None:
    """The folder that will hold `target` (or, if it does not exist yet, the ancestor where
    it would be created) must be a folder we can create files in."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise FrondInputError(f"{option} {target} cannot be written: {existing} is a file, not a folder. "
                              f"Choose a path inside a folder.")
    try:  # a real probe: os.access says yes to root on read-only mounts and chmod 555 folders alike
        with tempfile.TemporaryFile(dir=existing, prefix=".frond-probe-"):
            pass
    except OSError as exc:
        raise FrondInputError(f"{option} {target} cannot be written: the folder {existing} is not writable "
                              f"({exc.strerror or type(exc).__name__}). Choose a folder you can write to.") from None


def check_paths(out: str | os.PathLike, inputs: Iterable[object] = (),
                intermediates: str | os.PathLike | None = None) -> None:
    """Refuse an output that would overwrite an input or that cannot be written.

    out: the video to write. inputs: the portrait and audio paths (None, arrays and other
    non-paths are skipped). intermediates: the --save-intermediates folder, if any.
    Raises `FrondInputError` naming the problem and what to do.
    """
    out = Path(out)
    sources = [Path(p) for p in inputs if isinstance(p, (str, os.PathLike))]
    if str(out).strip() == "" or out.name in ("", ".", ".."):
        raise FrondInputError(f"--out {str(out)!r} is not a file name. Give the video to write, e.g. out.mp4.")
    if out.is_dir():
        raise FrondInputError(f"--out {out} is a folder. Give a file name, e.g. {out / 'out.mp4'}.")
    for source in sources:
        if _same_file(out, source):
            raise FrondInputError(f"--out {out} is the input {source}: writing it would destroy the input. "
                                  "Choose another output name.")
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise FrondInputError(f"--out {out}: the video is H.264 + AAC in an MP4 file, so its name must end in .mp4 "
                              f"(e.g. {out.with_suffix('.mp4').name}).")
    _check_writable_folder(out.parent, "--out", out)
    if intermediates is None:
        return
    folder = Path(intermediates)
    if folder.exists() and not folder.is_dir():
        raise FrondInputError(f"--save-intermediates {folder} is a file. Give a folder (it is created if missing).")
    _check_writable_folder(folder, "--save-intermediates", folder)
    for name in INTERMEDIATE_FILES:
        written = folder / name
        for path, what in [(out, "--out")] + [(s, "the input") for s in sources]:
            if _same_file(written, path):
                raise FrondInputError(f"--save-intermediates {folder} would overwrite {what} {path} (it writes {name}). "
                                      "Choose another folder.")
