"""Many videos in one go: a manifest (CSV or JSONL) rendered by one warm pipeline.

Each line names `portrait`, `audio` and `out`, and optionally any generation setting
(its field name in `frond.config.SETTINGS`: `size`, `lip_scale`, `motion`, ...) and
`save_intermediates`; what a line leaves out comes from the command line's options.
Relative paths are relative to the manifest's folder, so a manifest and its media move
together (to another machine, too).

A line that fails reports its error and the rest go on. An `out` that exists is skipped:
outputs are written atomically, so an existing file is a finished one, and a rerun after
an interruption or a failure does only what is left. `shard` picks every n-th line, so
that n processes (a job array, Ray tasks) split one manifest between them.
"""
from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from .config import SETTINGS, GenerationSettings, Setting
from .errors import FrondInputError
from .paths import check_paths

REQUIRED = ("portrait", "audio", "out")
KNOWN = REQUIRED + tuple(s.name for s in SETTINGS) + ("save_intermediates",)
TRUE, FALSE = {"1", "true", "yes", "on", "y"}, {"0", "false", "no", "off", "n", ""}


@dataclass(frozen=True)
class Job:
    """One line of a manifest, resolved."""

    number: int  # line number in the manifest file (1 = its first line)
    portrait: Path | None = None
    audio: Path | None = None
    out: Path | None = None
    settings: GenerationSettings | None = None
    intermediates: Path | None = None
    error: str | None = None  # why the line cannot run (it is reported, the others go on)

    @property
    def label(self) -> str:
        return f"line {self.number}" + (f" ({self.out.name})" if self.out is not None else "")


@dataclass(frozen=True)
class Outcome:
    """What became of one job."""

    job: Job
    status: str  # "written", "skipped" (out existed), "failed"
    seconds: float  # wall time spent on it, checks and progress included
    generation_seconds: float = 0.0  # the pipeline's own wall time for it (GenerationResult.timings["total"])
    message: str = ""  # what was written, or the error
    internal: bool = False  # failed because of a bug rather than the input


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row) for every data line; a row that cannot be parsed comes as its error message."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
                continue
            yield number, row if isinstance(row, dict) else f"expected a JSON object, got {type(row).__name__}"
        return
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return
    header = next(csv.reader([lines[0][1]]))
    unknown = [h for h in header if h.strip() not in KNOWN]
    missing = [k for k in REQUIRED if k not in (h.strip() for h in header)]
    if unknown or missing:
        raise FrondInputError(f"the manifest {path} has " + "; ".join(filter(None, [
            f"unknown column(s) {', '.join(map(repr, unknown))}" if unknown else "",
            f"no {', '.join(missing)} column" if missing else ""])) + f". Its first line names the columns: {', '.join(KNOWN)}.")
    for number, line in lines[1:]:
        cells = next(csv.reader([line]))
        if len(cells) != len(header):
            yield number, f"has {len(cells)} cells for {len(header)} columns"
            continue
        yield number, {h.strip(): c.strip() for h, c in zip(header, cells) if c.strip() != ""}


def _value(setting: Setting, raw: Any) -> Any:
    """A manifest cell (text in CSV, text or a number in JSONL) -> the setting's type."""
    if setting.kind is bool:
        text = str(raw).strip().lower()
        if text not in TRUE | FALSE:
            raise ValueError(f"{setting.name} must be true or false, got {raw!r}")
        return text in TRUE
    if setting.kind is int:
        number = float(raw)
        if not number.is_integer():
            raise ValueError(f"{setting.name} must be a whole number, got {raw!r}")
        return int(number)
    return setting.kind(raw)


def _job(number: int, row: dict[str, Any], folder: Path, defaults: GenerationSettings) -> Job:
    unknown = sorted(set(row) - set(KNOWN))
    if unknown:
        return Job(number, error=f"unknown key(s) {', '.join(unknown)}; known: {', '.join(KNOWN)}")
    missing = [k for k in REQUIRED if not str(row.get(k, "")).strip()]
    if missing:
        return Job(number, error=f"no {', '.join(missing)} given")
    portrait, audio, out = (folder / os.path.expanduser(str(row[k])) for k in REQUIRED)
    inter = row.get("save_intermediates")
    inter = folder / os.path.expanduser(str(inter)) if inter not in (None, "") else None
    try:
        changes = {s.name: _value(s, row[s.name]) for s in SETTINGS if s.name in row}
        settings = GenerationSettings(**{**defaults.to_dict(), **changes})
    except (TypeError, ValueError) as exc:
        return Job(number, portrait, audio, out, error=f"{exc}")
    return Job(number, portrait, audio, out, settings, inter)


def read_manifest(path: str | os.PathLike, defaults: GenerationSettings = GenerationSettings()) -> list[Job]:
    """Every line of a CSV (header: portrait,audio,out[,setting,...]) or JSONL manifest, as jobs.

    Lines that cannot run carry their `error`. A second line writing the same `out` is an error.
    Raises FrondInputError when the file itself is unusable (missing, unknown columns).
    """
    path = Path(path)
    if not path.is_file():
        raise FrondInputError(f"Manifest not found: {path}. Give a CSV (portrait,audio,out,...) or JSONL file.")
    folder = path.resolve().parent
    jobs: list[Job] = []
    writers: dict[str, int] = {}
    try:
        rows = list(_rows(path))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FrondInputError(f"Could not read the manifest {path} ({type(exc).__name__}: {exc}). "
                              "Save it as UTF-8 CSV or JSONL.") from None
    for number, row in rows:
        job = Job(number, error=row) if isinstance(row, str) else _job(number, row, folder, defaults)
        if job.out is not None and job.error is None:
            first = writers.setdefault(os.path.realpath(job.out), number)
            if first != number:
                job = Job(number, job.portrait, job.audio, job.out, error=f"out {job.out} is also written by line {first}")
        jobs.append(job)
    if not jobs:
        raise FrondInputError(f"The manifest {path} lists no videos. Add lines of portrait, audio and out.")
    return jobs


def shard(jobs: list[Job], spec: str | None) -> list[Job]:
    """`spec` "i/n" (0 <= i < n) -> every n-th job starting at the i-th; None -> all of them."""
    if not spec:
        return jobs
    try:
        index, count = (int(part) for part in spec.split("/"))
        if not 0 <= index < count:
            raise ValueError
    except ValueError:
        raise FrondInputError(f"--shard {spec!r} must be I/N with 0 <= I < N, e.g. 0/4 (the first of four "
                              "shards; a Slurm array passes $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT).") from None
    return jobs[index::count]


def run_jobs(generate: Callable[[int, Job], Any], jobs: list[Job], overwrite: bool = False,
             report: Callable[[int, Outcome], None] | None = None) -> list[Outcome]:
    """Run every job with `generate(i, job) -> GenerationResult`, one after the other.

    A failing job becomes a "failed" outcome and the rest go on; an existing `out` is
    "skipped" unless `overwrite`. `report(i, outcome)` is called after each.
    """
    outcomes: list[Outcome] = []
    for i, job in enumerate(jobs):
        start = time.perf_counter()
        try:
            if job.error is None:  # an out that is an input is an error, not a finished video to skip
                assert job.out is not None  # a line without an error has every path
                check_paths(job.out, (job.portrait, job.audio), job.intermediates)
        except FrondInputError as exc:
            job = replace(job, error=str(exc))
        if job.error is not None:
            outcome = Outcome(job, "failed", 0.0, message=job.error)
        elif job.out is not None and job.out.exists() and not overwrite:
            outcome = Outcome(job, "skipped", time.perf_counter() - start, message=f"{job.out} exists")
        else:
            try:
                result = generate(i, job)
                outcome = Outcome(job, "written", time.perf_counter() - start, result.timings.get("total", 0.0),
                                  f"{result.video_path} ({result.n_frames} frames, {result.duration:.2f} s, "
                                  f"{result.width}x{result.height})")
            except FrondInputError as exc:
                outcome = Outcome(job, "failed", time.perf_counter() - start, message=str(exc))
            except (KeyboardInterrupt, MemoryError):
                raise
            except Exception as exc:  # noqa: BLE001 - one broken line must not stop the others
                outcome = Outcome(job, "failed", time.perf_counter() - start, internal=True,
                                  message=f"internal error ({type(exc).__name__}: {exc}); please report it")
        outcomes.append(outcome)
        if report is not None:
            report(i, outcome)
    return outcomes
