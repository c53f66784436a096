"""`python -m frond bench`: speed (ratio to real time, per-stage ms/frame) and peak memory.

Inputs are the project's own: the bundled portrait and its synthesised speech, looped
to the requested length. Numbers are printed with the machine they came from. The
aligned crop is timed at each `--sizes`, and the default framing, the whole picture, on
the portrait enlarged to `PICTURE_SIDE` on its long side (the face fills the picture: the
costly case); each beside the machine's ceiling at the same frame size, measured in the
same run.
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

from .config import available_cores

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PICTURE_SIDE = 720  # the picture row: the bundled portrait enlarged to this long side (the default `max_side`)


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
    cores = available_cores()
    return f"{cpu}, {cores} cores, {mem_gb:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def speech_of_length(seconds: float, folder: Path, variant: int = 0) -> Path:
    """The bundled speech looped (with short pauses) to `seconds`, as a 16 kHz WAV. A `variant` > 0 adds
    its own faint noise (-70 dB): another clip to the phone helper, which remembers the ones it decoded."""
    import soundfile as sf

    samples, rate = sf.read(EXAMPLES / "speech_1.wav", dtype="float32")
    pause = np.zeros(int(0.4 * rate), np.float32)
    unit = np.concatenate([samples, pause])
    reps = int(np.ceil(seconds * rate / unit.size))
    clip = np.tile(unit, reps)[: int(seconds * rate)]
    if variant:
        clip = clip + 3e-4 * np.random.default_rng(variant).standard_normal(clip.size).astype(np.float32)
    path = folder / f"speech_{seconds:g}s_{variant}.wav"
    sf.write(path, clip, rate, subtype="PCM_16")
    return path


def picture_portrait(folder: Path, side: int = PICTURE_SIDE) -> Path:
    """The bundled portrait enlarged (bicubic) to `side` pixels on its long side, as a PNG in `folder`."""
    import cv2

    from .media import load_image

    image, _ = load_image(EXAMPLES / "grace_hopper.jpg")
    scale = side / max(image.shape[:2])
    big = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), interpolation=cv2.INTER_CUBIC)
    path = folder / f"portrait_{side}.png"
    cv2.imwrite(str(path), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    return path


def time_sizes(sizes: list[int], seconds: float, folder: Path, repeats: int = 2, picture: bool = True) -> list[dict]:
    """The pipeline end to end (best of `repeats`): the crop at each of `sizes`, then (with `picture`) the
    default framing on a PICTURE_SIDE portrait; each row with the ceiling at its frame size (`ceiling_fps`)."""
    from .config import CROP, GenerationSettings
    from .pipeline import FrondPipeline

    pipe = FrondPipeline()
    clips = [speech_of_length(seconds, folder, variant) for variant in range(1, repeats + 1)]  # phones decoded every run
    warm = speech_of_length(2.0, folder)
    portrait = EXAMPLES / "grace_hopper.jpg"
    cases = [(f"crop {size}", portrait, GenerationSettings(size=size, framing=CROP)) for size in sizes]
    if picture:
        cases.append((f"picture {PICTURE_SIDE}", picture_portrait(folder), GenerationSettings(max_side=PICTURE_SIDE)))
    rows = []
    for case, image, settings in cases:
        pipe.generate(image, warm, folder / "warm.mp4", settings)  # first-call costs (model load, JIT) excluded
        elapsed = float("inf")
        for audio in clips:  # the best of a few runs: other load on the machine only ever adds time
            start = time.perf_counter()
            result = pipe.generate(image, audio, folder / "bench.mp4", settings)
            elapsed = min(elapsed, time.perf_counter() - start)
        per_frame = {k: 1000.0 * v / result.n_frames for k, v in result.timings.items() if k != "total"}
        ceiling = ceiling_fps((result.height, result.width), folder)
        rows.append({"case": case, "size": settings.size if settings.framing == CROP else None,
                     "frame": f"{result.width}x{result.height}", "audio_s": result.duration, "elapsed_s": elapsed,
                     "x_realtime": result.duration / elapsed, "frames_per_s": result.n_frames / elapsed,
                     "ceiling_fps": ceiling, "ceiling_ratio": result.n_frames / elapsed / ceiling, "ms_per_frame": per_frame})
    return rows


def ceiling_fps(size: int | tuple[int, int], folder: Path, frames: int = 150, repeats: int = 3) -> float:
    """The machine's ceiling, frames/s at `size` (a side, or (height, width)): per frame, only what no
    renderer can skip: one bicubic remap of the portrait (a slightly moving warp, separate x/y maps, as the
    prior decoder does) and x264 `veryfast` encoding (the pipeline's VideoWriter, threaded), with no audio."""
    import cv2

    from .media import VideoWriter, load_image

    height, width = (size, size) if isinstance(size, int) else size
    name = f"ceiling_{size}" if isinstance(size, int) else f"ceiling_{width}x{height}"
    image, _ = load_image(EXAMPLES / "grace_hopper.jpg")
    source = np.ascontiguousarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float32)
    maps = [(gx + shift, gy - 0.5 * shift) for shift in (3.0 * np.sin(0.2 * i + gy / 40.0) for i in range(25))]
    best = float("inf")
    for _ in range(repeats):  # the best of a few: other load on the machine only ever adds time
        start = time.perf_counter()
        with VideoWriter(folder / f"{name}.mp4", width, height, 25.0, threaded=True) as writer:
            for i in range(frames):
                map_x, map_y = maps[i % len(maps)]
                writer.write(cv2.remap(source, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE))
        best = min(best, time.perf_counter() - start)
    return frames / best


def cli_seconds(audio: Path, out: Path, size: int) -> float:
    """Wall time of `python -m frond generate` in a fresh process, launch to exit: what a user waits."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "frond", "generate", "--portrait", str(EXAMPLES / "grace_hopper.jpg"),
                           "--audio", str(audio), "--out", str(out), "--size", str(size), "--framing", "crop", "--quiet"],
                          capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return seconds


def cli_runs(folder: Path, repeats: int) -> dict:
    """The CLI as a user meets it: the first answer for a 1 s clip at 256, and frames/s on a 22.5 s clip at 512
    against the ceiling measured right before it (speeds vary between runs: only the ratio travels)."""
    short, long = speech_of_length(1.0, folder), speech_of_length(22.5, folder)
    first = sorted(cli_seconds(short, folder / "cli_first.mp4", 256) for _ in range(repeats))
    ceiling = ceiling_fps(512, folder)
    frames = round(22.5 * 25)
    fps = max(frames / cli_seconds(long, folder / "cli_long.mp4", 512) for _ in range(max(1, repeats - 1)))
    return {"first_answer_s": first[0], "first_answer_median_s": first[len(first) // 2], "ceiling_512_fps": ceiling,
            "cli_512_fps": fps, "cli_512_ratio": fps / ceiling}


PEAK_SNIPPET = """
import resource, sys
from frond import FrondPipeline, GenerationSettings
pipe = FrondPipeline()
pipe.generate(sys.argv[1], sys.argv[2], sys.argv[3], GenerationSettings(size=int(sys.argv[4]), framing="crop"))
worker = pipe.phones.worker
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


def motion_seconds(seconds: float, folder: Path, repeats: int = 3) -> dict:
    """The motion stage alone on `seconds` of speech (best of `repeats`): the learned stage (its network
    in numpy, given the phones), the training-free prior (given the phones), and pocketsphinx's phone
    recognition (which both use; the pipeline runs it in its helper process beside face finding)."""
    from .audio.phone_worker import PhoneSource
    from .audio.phones import recognise_phones
    from .config import GenerationSettings
    from .media import load_audio
    from .registry import bundled_motion, prior_stages
    from .stages import LEARNED, PRIOR, MotionEstimator
    from .train.synthetic import face_keypoints

    clip = load_audio(speech_of_length(seconds, folder))
    phones = recognise_phones(clip.samples, clip.sample_rate)

    class Given(PhoneSource):  # the phones, already recognised: time the stage itself
        def phones(self, samples, sample_rate):
            return phones, "given"

    times = np.arange(int(seconds * 25)) / 25
    source = face_keypoints(0.05)
    stages: dict[str, MotionEstimator] = {
        LEARNED: bundled_motion(Given()),
        PRIOR: prior_stages(Given()).motion,
    }
    out: dict = {"seconds_of_speech": seconds}
    for name, stage in stages.items():
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            stage.estimate(clip, source, times, GenerationSettings())
            best = min(best, time.perf_counter() - t0)
        out[f"{name}_s"] = best
    t0 = time.perf_counter()
    recognise_phones(clip.samples, clip.sample_rate)
    out["phones_s"] = time.perf_counter() - t0
    return out


def main(args: argparse.Namespace) -> int:
    print(f"machine: {machine()}")
    report: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="frond-bench-") as tmp:
        folder = Path(tmp)
        rows = time_sizes(args.sizes, args.seconds, folder, args.repeats, picture=not args.skip_picture)
        report["speed"] = rows
        stages = sorted({k for r in rows for k in r["ms_per_frame"]})
        print(f"\nend to end ({args.seconds:g} s of speech, audio decode to finished MP4, best of {args.repeats}; "
              "ceiling: remap + x264 at the same frame size, this run):")
        print(f"{'case':>12} {'frame':>9} {'x real time':>12} {'frames/s':>9} {'ceiling':>8} {'ratio':>6}  "
              + " ".join(f"{s:>8}" for s in stages) + "   (ms/frame)")
        for r in rows:
            print(f"{r['case']:>12} {r['frame']:>9} {r['x_realtime']:>11.1f}x {r['frames_per_s']:>9.1f} {r['ceiling_fps']:>8.1f} "
                  f"{r['ceiling_ratio']:>6.2f}  " + " ".join(f"{r['ms_per_frame'].get(s, 0.0):>8.2f}" for s in stages))
        motion = motion_seconds(args.long_seconds, folder, args.repeats)
        report["motion"] = motion
        print(f"\nmotion stage alone, {motion['seconds_of_speech']:g} s of speech (best of {args.repeats}): learned "
              f"{motion['learned_s']:.2f} s ({motion['seconds_of_speech'] / motion['learned_s']:.0f}x real time), prior "
              f"{motion['prior_s']:.2f} s; both given the phones, whose recognition took {motion['phones_s']:.2f} s "
              f"({motion['seconds_of_speech'] / motion['phones_s']:.0f}x real time, in the helper process beside face finding)")
        if not args.skip_cli:
            cli = cli_runs(folder, args.repeats)
            report["cli"] = cli
            print("\nthe CLI, process start to finished MP4 (`python -m frond generate`):")
            print(f"  first answer, 1 s clip at 256: {cli['first_answer_s']:.2f} s (best of {args.repeats}; "
                  f"median {cli['first_answer_median_s']:.2f} s)")
            print(f"  22.5 s clip at 512: {cli['cli_512_fps']:.1f} frames/s = {100 * cli['cli_512_ratio']:.0f} % of the "
                  f"machine's ceiling, {cli['ceiling_512_fps']:.1f} frames/s (bicubic remap + x264 veryfast per frame)")
            for row in rows:
                if row["size"] == 512:
                    print(f"  (in-process pipeline at 512, warm: {row['frames_per_s']:.1f} frames/s = "
                          f"{100 * row['frames_per_s'] / cli['ceiling_512_fps']:.0f} % of the ceiling)")
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
