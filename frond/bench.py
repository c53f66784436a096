"""`python -m frond bench`: speed (ratio to real time, per-stage ms/frame) and peak memory.

Inputs are the project's own: the bundled portrait and its synthesised speech, looped
to the requested length. Numbers are printed with the machine they came from.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gb = float("nan")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, {mem_gb:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def speech_of_length(seconds: float, folder: Path) -> Path:
    """The bundled speech looped (with short pauses) to `seconds`, as a 16 kHz WAV."""
    import soundfile as sf

    samples, rate = sf.read(EXAMPLES / "speech_1.wav", dtype="float32")
    pause = np.zeros(int(0.4 * rate), np.float32)
    unit = np.concatenate([samples, pause])
    reps = int(np.ceil(seconds * rate / unit.size))
    clip = np.tile(unit, reps)[: int(seconds * rate)]
    path = folder / f"speech_{seconds:g}s.wav"
    sf.write(path, clip, rate, subtype="PCM_16")
    return path


def time_sizes(sizes: list[int], seconds: float, folder: Path, repeats: int = 2) -> list[dict]:
    from .config import GenerationSettings
    from .pipeline import FrondPipeline

    pipe = FrondPipeline()
    audio = speech_of_length(seconds, folder)
    warm = speech_of_length(2.0, folder)
    portrait = EXAMPLES / "grace_hopper.jpg"
    rows = []
    for size in sizes:
        settings = GenerationSettings(size=size)
        pipe.generate(portrait, warm, folder / "warm.mp4", settings)  # first-call costs (model load, JIT) excluded
        elapsed = float("inf")
        for _ in range(repeats):  # the best of a few runs: other load on the machine only ever adds time
            start = time.perf_counter()
            result = pipe.generate(portrait, audio, folder / f"bench_{size}.mp4", settings)
            elapsed = min(elapsed, time.perf_counter() - start)
        per_frame = {k: 1000.0 * v / result.n_frames for k, v in result.timings.items()}
        rows.append({"size": size, "audio_s": result.duration, "elapsed_s": elapsed, "x_realtime": result.duration / elapsed,
                     "frames_per_s": result.n_frames / elapsed, "ms_per_frame": per_frame})
    return rows


PEAK_SNIPPET = """
import resource, sys
from frond import FrondPipeline, GenerationSettings
pipe = FrondPipeline()
pipe.generate(sys.argv[1], sys.argv[2], sys.argv[3], GenerationSettings(size=int(sys.argv[4])))
worker = getattr(pipe.stages["motion"], "worker", None)
helper = 0.0
if worker is not None and worker._process is not None:  # the phone helper process counts too
    for line in open(f"/proc/{worker._process.pid}/status"):
        if line.startswith("VmHWM:"):
            helper = float(line.split()[1]) / 1024.0
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 + helper)
"""


def peak_memory_mb(seconds: float, size: int, folder: Path) -> float:
    """Peak resident memory (MB) of a fresh process generating `seconds` of video, plus its phone helper's."""
    audio = speech_of_length(seconds, folder)
    done = subprocess.run([sys.executable, "-c", PEAK_SNIPPET, str(EXAMPLES / "grace_hopper.jpg"), str(audio),
                           str(folder / f"mem_{seconds:g}.mp4"), str(size)], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1])


def main(args: argparse.Namespace) -> int:
    print(f"machine: {machine()}")
    report: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="frond-bench-") as tmp:
        folder = Path(tmp)
        rows = time_sizes(args.sizes, args.seconds, folder, args.repeats)
        report["speed"] = rows
        stages = sorted({k for r in rows for k in r["ms_per_frame"]})
        print(f"\nend to end ({args.seconds:g} s of speech, audio decode to finished MP4, best of {args.repeats}):")
        print(f"{'size':>6} {'x real time':>12} {'frames/s':>9}  " + " ".join(f"{s:>8}" for s in stages) + "   (ms/frame)")
        for r in rows:
            print(f"{r['size']:>6} {r['x_realtime']:>11.1f}x {r['frames_per_s']:>9.1f}  "
                  + " ".join(f"{r['ms_per_frame'].get(s, 0.0):>8.2f}" for s in stages))
        if not args.skip_memory:
            short = peak_memory_mb(10.0, 512, folder)
            long = peak_memory_mb(args.long_seconds, 512, folder)
            report["memory"] = {"10s_mb": short, f"{args.long_seconds:g}s_mb": long, "ratio": long / short}
            print(f"\npeak memory at 512 (fresh process + phone helper): 10 s clip {short:.0f} MB, {args.long_seconds:g} s clip {long:.0f} MB "
                  f"({100 * (long / short - 1):+.1f}%)")
    if not args.skip_app:
        try:
            from .bench_app import cold_start_seconds

            cold = cold_start_seconds()
            report["app_cold_start_s"] = cold
            print(f"\napp cold start (launch to page served): {cold:.1f} s")
        except ImportError:
            print("\napp cold start: frond.bench_app not available")
    print("\njson: " + json.dumps(report, default=float))
    return 0
