"""Stage 2, learned: the trained audio -> motion network, run in numpy.

The network is `frond.motion.net.AudioMotionEstimator` (PyTorch, for training); this
module reads the same safetensors weights and runs the same forward pass with numpy, so
the default path loads in milliseconds and never imports torch (a test holds the two
equal). The face's articulation (jaw, cheeks, brows, lips: the local stream) and, for
networks that learned it, the head's pose (the global stream, `frond.motion.global_stream`)
come from the network; blinks come from `frond.motion.idle`, as on the prior path (and the
head's pose too, for a network without a global stream), and the brows add the prior's raise on
emphasis to the network's, both scaled by the calibrated `brow_gain`. Every setting keeps its
meaning:

- `smoothing`: the P-spline stiffness of both learned trajectories;
- `lip_scale`: multiplies the mouth's articulation (0 = mouth at rest; 1 = the network's calibrated
  `mouth_scale`), `expression` the brows' and cheeks' (1 = the calibrated `brow_gain`);
- `head_motion`: multiplies the head's motion (0 = still head; 1 = the calibrated `head_gain`, with the
  turn scaled again by `yaw_gain`, and all of it by how far the portrait is turned from the camera:
  `global_stream.facing_gain`); `seed` picks it;
- `blink_rate`: the seeded blinks.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..audio.mel import FRAMES_PER_SECOND, speech_mel
from ..audio.phone_worker import PhoneSource
from ..audio.phones import PHONE_SET, Phone, phone_frames
from ..config import GenerationSettings
from ..errors import FrondInputError
from ..face.ibug import mouth_opening, mouth_width
from ..stages import learned_name
from ..types import AudioClip, MotionSequence
from . import articulation as art
from .global_stream import POSE_DIM, facing, facing_gain, unit_process
from .idle import IdleMotion, envelope_grid, idle_motion, pose_keypoints
from .trajectory import UniformBSpline, pspline_stiffness

WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"
PAUSE_HOLD_S = 0.15  # a dip in the voice shorter than this is not a pause
BROW_DISPLAY = 10.0  # the brow channel's scale: a rise of 0.1 inter-ocular distances reads 1, as the prior's raise
HEAD_LIMITS = (20.0, 15.0, 12.0, 0.4, 0.3)  # the head's reach: yaw, pitch, roll (degrees), shift x, y (inter-ocular)
SPREAD_LIMIT = 1.5  # the head's spread at most 1.5x the typical real speaker's (1 unit; the training clips' 90th percentile: 0.8-1.5)
HEAD_STREAM = 7  # the seed's second word for the head's draw (the blinks use the seed alone)
OPEN_KNEE, OPEN_LIMIT = 0.3, 0.45  # inner-lip gaps (inter-ocular distances) where the soft limit starts, and its ceiling


def downsample_geometry(knot_hz: float) -> tuple[int, int, int]:
    """(stride, kernel, left pad) of the network's convolution from 100 Hz to the control points.

    Output i is centred on mel frame stride * (i - 1), the time of control point i.
    """
    stride = int(round(FRAMES_PER_SECOND / knot_hz))
    if abs(stride * knot_hz - FRAMES_PER_SECOND) > 1e-6:
        raise ValueError(f"knot_hz must divide {FRAMES_PER_SECOND:g}, got {knot_hz}")
    return stride, 2 * stride - 1, 2 * stride - 1


PHONE_FEATURES = {"none": 0, "onehot": len(PHONE_SET), "visemes": 4}  # kind -> input channels


def n_phone_features(config) -> int:
    """Input channels the phone features add (a `MotionConfig` or its dict)."""
    kind = config.get("phone_features", "none") if isinstance(config, dict) else config.phone_features
    if kind not in PHONE_FEATURES:
        raise ValueError(f"phone_features must be one of {', '.join(PHONE_FEATURES)}, got {kind!r}")
    return PHONE_FEATURES[kind]


def phone_features(kind: str, samples: np.ndarray, sample_rate: int, phones: list[Phone] | None,
                   n_frames: int) -> np.ndarray:
    """What the network hears of the phones, (channels, n_frames) at 100 Hz; zeros without phones.

    "onehot": the phones themselves; "visemes": the prior's continuous mouth channels made from
    them (`frond.motion.prior.viseme_features`), a compact description of what the phones ask of the lips.
    """
    if kind == "onehot":
        return phone_frames(phones, n_frames)
    if kind == "visemes":
        from .prior import viseme_features

        return viseme_features(samples, sample_rate, phones, n_frames)
    return np.zeros((0, n_frames), np.float32)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation (torch's `approximate="tanh"`); x * x * x: float32 `x ** 3` is 15x slower."""
    return 0.5 * x * (1.0 + np.tanh(np.float32(np.sqrt(2.0 / np.pi)) * (x + np.float32(0.044715) * (x * x * x))))


def conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """x (C_in, M) already padded, weight (C_out, C_in, k) -> (C_out, M_out), as torch's conv1d.

    One matrix product over the stacked shifted copies of x (im2col): strided column views would
    make BLAS copy element by element, ten times slower.
    """
    c_out, c_in, k = weight.shape
    m_out = (x.shape[1] - dilation * (k - 1) - 1) // stride + 1
    span = stride * (m_out - 1) + 1
    cols = np.concatenate([x[:, j * dilation: j * dilation + span: stride] for j in range(k)], axis=0)
    return (weight.transpose(0, 2, 1).reshape(c_out, k * c_in) @ cols + bias[:, None]).astype(np.float32)


@dataclass
class MotionNet:
    """The numpy twin of `AudioMotionEstimator`: tensors named as in its state dict."""

    tensors: dict[str, np.ndarray]  # "front.0.weight", ..., "basis", "mean", ...
    n_mels: int  # log-mel bands it hears
    phone_kind: str  # what it hears of the phones: "none", "onehot", "visemes" (`phone_features`)
    knot_hz: float
    dilations: tuple[int, ...]
    stiffness: float  # the P-spline lambda training used (smoothing 0.5)
    gain: float  # articulation calibration: scale around the mean (of the vertical coordinates, and of all when width_gain is None)
    lead: float = 0.0  # seconds the mouth is moved earlier than the network's timing (calibrated on the folds)
    pause_gate: float = 0.0  # speech-envelope level under which the mouth rests (0: no gate)
    prior_weight: float = 0.0  # share of the prior's phone-driven mouth blended in (calibrated on the folds)
    width_gain: float | None = None  # scale of the horizontal coordinates (mouth width, jaw sideways); None: `gain`
    components: int = 8  # PCA components of the articulation (the output channels before the head's)
    head: bool = False  # the network also gives the head's pose (mean and log-spread per axis)
    head_gain: float = 1.0  # scale of the head's motion (calibrated on the folds)
    yaw_gain: float = 1.0  # the head's turn scaled again, on top of `head_gain` (calibrated on the folds)
    facing_slope: tuple[float, ...] = (0.0,) * POSE_DIM  # per axis and degree of the portrait's turn (`global_stream.facing_gain`)
    facing_pivot: float = 0.0  # the portrait's turn (degrees) at which the facing factor is 1
    mouth_scale: float = 1.0  # the calibrated size of the mouth: `lip_scale` 1 moves it this much (`LearnedMotionEstimator.local_face`)
    brow_gain: float = 1.0  # the calibrated size of the brows' motion: `expression` 1 moves them this much

    @property
    def uses_phones(self) -> bool:
        return self.phone_kind != "none"

    @property
    def needs_phones(self) -> bool:
        """The network hears them, or the prior's phone-driven mouth is blended in."""
        return self.uses_phones or self.prior_weight > 0

    @property
    def spline(self) -> UniformBSpline:
        return UniformBSpline(self.knot_hz)

    @property
    def members(self) -> int:
        return len({k.split(".")[1] for k in self.tensors if k.startswith("members.")})

    def outputs(self, mel: np.ndarray, phones: np.ndarray | None = None) -> np.ndarray:
        """mel (n_mels, M) at 100 frames/s, phones (P, M) or None -> per control point (n, channels), the
        mean of the ensemble's members: the articulation's B-spline coefficients (`components`), then
        with `head` the head pose's mean and log-spread (2 POSE_DIM)."""
        m = mel.shape[1]
        n = self.spline.n_control((m - 1) / FRAMES_PER_SECOND)
        x = mel.astype(np.float32)
        if self.uses_phones:
            x = np.concatenate([x, phones if phones is not None else np.zeros((PHONE_FEATURES[self.phone_kind], m), np.float32)])
        return np.mean([self._member(x, n, f"members.{i}.") for i in range(self.members)], axis=0)

    def _member(self, x: np.ndarray, n: int, prefix: str) -> np.ndarray:
        """One member's forward pass (`frond.motion.net._Member.forward`): (C, M) -> (n, channels)."""
        t = {k[len(prefix):]: v for k, v in self.tensors.items() if k.startswith(prefix)}
        m = x.shape[1]
        for i in range(2):
            x = gelu(conv1d(np.pad(x, ((0, 0), (1, 1))), t[f"front.{i}.weight"], t[f"front.{i}.bias"]))
        stride, kernel, left = downsample_geometry(self.knot_hz)
        right = max(0, stride * (n - 1) + kernel - left - m)
        x = gelu(conv1d(np.pad(x, ((0, 0), (left, right)), mode="edge"), t["down.weight"], t["down.bias"], stride=stride))[:, :n]
        for i, d in enumerate(self.dilations):
            x = x + conv1d(np.pad(gelu(x), ((0, 0), (d, d))), t[f"blocks.{i}.weight"], t[f"blocks.{i}.bias"], dilation=d)
        return conv1d(x, t["head.weight"], t["head.bias"]).T

    def articulation(self, coefficients: np.ndarray, times: np.ndarray, lam: float) -> np.ndarray:
        """coefficients (n, components), times (T,) -> articulation (T, DIM), stiffened by `lam`."""
        spline = self.spline
        c = spline.stiffen(coefficients.astype(np.float64), lam)
        pca = spline.sample(times, c)
        gains = art.axis_gains(self.gain, self.width_gain)  # the renderer shows ~0.65 of a vertical opening; widths need no help
        return (self.tensors["mean"] + gains * (pca @ self.tensors["basis"])).astype(np.float32)

    def face(self, outputs: np.ndarray, samples: np.ndarray, sample_rate: int, times: np.ndarray, smoothing: float = 0.5,
             lip_scale: float = 1.0, envelope: tuple[np.ndarray, np.ndarray] | None = None,
             expression: float = 1.0) -> np.ndarray:
        """The network's `outputs` for speech (N,) -> the face's articulation (T, DIM) at `times` (T,) seconds.

        `smoothing` (0..1) sets the P-spline stiffness, `lip_scale` multiplies the mouth's articulation and
        `expression` the rest (brows, cheeks);
        the calibrated `lead` and `pause_gate` apply. Silence gives the face at rest (zeros).
        `envelope`: the clip's (grid, speech envelope) when the caller has it.
        """
        times = np.asarray(times, np.float64)
        if not np.any(np.abs(samples) > 1e-3):
            return np.zeros((times.size, art.DIM), np.float32)
        lam = pspline_stiffness(smoothing, self.stiffness)
        scale = np.full(art.DIM, expression, np.float32)
        scale[art.MOUTH_COLUMNS] = lip_scale
        articulation = art.voiced(self.articulation(outputs[:, :self.components], times + self.lead, lam))
        articulation = limit_opening(articulation) * scale
        if self.pause_gate > 0:
            articulation *= pause_gate(samples, sample_rate, times + self.lead, self.pause_gate, envelope)[:, None]
        return articulation.astype(np.float32)

    def head_pose(self, outputs: np.ndarray, times: np.ndarray, smoothing: float, amount: float,
                  rng: np.random.Generator, portrait_facing: float | None = None) -> np.ndarray:
        """The network's `outputs` -> one seeded head motion (T, POSE_DIM) at `times` (T,) seconds
        (`frond.motion.global_stream`): mean + spread x a draw of the real speakers' unit process, per
        control point, then the P-spline stiffness of `smoothing`; `amount` scales it (0: still), and
        `portrait_facing` (`global_stream.facing`; None: the pivot's) by `global_stream.facing_gain`."""
        head = outputs[:, self.components:].astype(np.float64)
        mean, log_spread = head[:, :POSE_DIM], head[:, POSE_DIM:]
        unit = unit_process(len(head), self.knot_hz, self.tensors["head_spectrum"], self.tensors["head_mix"], rng)
        spline = self.spline
        spread = np.minimum(np.exp(np.clip(log_spread, -6.0, 3.0)), SPREAD_LIMIT)  # voices unlike the training
        coefficients = spline.stiffen(mean + spread * unit,  # speakers' (synthetic speech) ask for wild motion
                                      pspline_stiffness(smoothing, self.stiffness))
        pose = spline.sample(np.asarray(times, np.float64), coefficients)
        pose = (pose - pose[:1]) * self.tensors["head_scale"]  # the portrait's own pose at the first frame
        gains = np.full(POSE_DIM, amount * self.head_gain)
        gains[0] *= self.yaw_gain  # yaw, the first of `frond.face.head.POSE_AXES`
        if portrait_facing is not None:
            gains *= facing_gain(portrait_facing, np.asarray(self.facing_slope), self.facing_pivot)
        return limit_pose(gains * pose).astype(np.float32)

    def source_articulation(self, source: np.ndarray) -> np.ndarray:
        """A portrait's own articulation (DIM,), from its inner-lip gap."""
        return art.estimate_source(source, self.tensors["opening_direction"])


def pause_gate(samples: np.ndarray, sample_rate: int, times: np.ndarray, threshold: float,
               envelope: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(T,) in [0, 1]: 0 in pauses (speech envelope under `threshold` for over PAUSE_HOLD_S), else 1.

    Short dips between syllables keep the gate open; it ramps over about two frames.
    """
    from scipy.ndimage import gaussian_filter1d, maximum_filter1d

    from ..audio.features import speech_envelope

    grid = np.arange(0.0, samples.size / sample_rate + 0.01, 0.01)
    env = np.interp(grid, *envelope) if envelope is not None else speech_envelope(samples, sample_rate, grid)
    speaking = maximum_filter1d((env > threshold).astype(np.float64), int(PAUSE_HOLD_S * 100) | 1)
    return np.interp(times, grid, np.clip(gaussian_filter1d(speaking, 3.0), 0.0, 1.0)).astype(np.float32)


def limit_pose(pose: np.ndarray, limits: tuple[float, ...] = HEAD_LIMITS) -> np.ndarray:
    """Head poses (T, 5) -> the same, each axis approaching its limit softly (tanh): a 2D warp of one photo
    turns a head only so far (the renderer keeps the picture whole to roll 10 and yaw 15 degrees); poses well
    inside are untouched to a few percent."""
    bound = np.asarray(limits, np.float64)
    return bound * np.tanh(np.asarray(pose, np.float64) / bound)


def limit_opening(articulation: np.ndarray, knee: float = OPEN_KNEE, limit: float = OPEN_LIMIT) -> np.ndarray:
    """Articulation (T, DIM) whose inner-lip gap passes `knee` (inter-ocular units) is scaled so the gap
    approaches `limit` softly (tanh): the calibrated gain must not stretch a loud vowel past a real
    wide-open mouth. Frames under the knee are untouched."""
    gap = art.opening_of(articulation)
    over = gap > knee
    if not over.any():
        return articulation
    target = knee + (limit - knee) * np.tanh((gap[over] - knee) / (limit - knee))
    out = articulation.copy()
    rows = np.flatnonzero(over)
    out[np.ix_(rows, art.MOUTH_COLUMNS)] *= (target / gap[over])[:, None]  # the mouth only: brows keep their rise
    return out


def motion_net(tensors: dict[str, np.ndarray], motion: dict) -> MotionNet:
    """A MotionNet from its tensors and the "motion" section of config.json (a `MotionConfig` as a dict).

    Raises FrondInputError when the weights were trained for another articulation space."""
    dim = tensors["basis"].shape[1] if "basis" in tensors else art.DIM
    if dim != art.DIM:
        raise FrondInputError(f"these motion weights predict {dim // 2} keypoints, this FROND {art.DIM // 2} "
                              "(weights from an older version): retrain the motion stage")
    return MotionNet(tensors=tensors, n_mels=int(motion.get("n_mels", 80)), phone_kind=str(motion.get("phone_features", "none")),
                     knot_hz=float(motion.get("knot_hz", 25.0)),
                     dilations=tuple(motion.get("dilations", (1, 2, 4, 8))), stiffness=float(motion.get("stiffness", 1.0)),
                     gain=float(motion.get("gain", 1.0)), lead=float(motion.get("lead", 0.0)),
                     pause_gate=float(motion.get("pause_gate", 0.0)), prior_weight=float(motion.get("prior_weight", 0.0)),
                     width_gain=None if motion.get("width_gain") is None else float(motion["width_gain"]),
                     components=int(tensors["basis"].shape[0]) if "basis" in tensors else int(motion.get("components", 8)),
                     head=bool(motion.get("head", False)) and "head_scale" in tensors,
                     head_gain=float(motion.get("head_gain", 1.0)), yaw_gain=float(motion.get("yaw_gain", 1.0)),
                     facing_slope=tuple(float(v) for v in motion.get("facing_slope", (0.0,) * POSE_DIM)),
                     facing_pivot=float(motion.get("facing_pivot", 0.0)),
                     mouth_scale=float(motion.get("mouth_scale", 1.0)), brow_gain=float(motion.get("brow_gain", 1.0)))


def load_motion_net(weights: str | Path) -> MotionNet:
    """A weights folder (config.json + model.safetensors with a trained "motion" stage) -> MotionNet.

    Raises FrondInputError (one line) when the folder is incomplete or has no trained motion.
    """
    from safetensors.numpy import load_file

    folder = Path(weights)
    missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE) if not (folder / f).is_file()]
    if missing:
        raise FrondInputError(f"weights folder {folder} lacks {', '.join(missing)}")
    config = json.loads((folder / CONFIG_FILE).read_text())
    if "motion" not in config.get("trained_stages", []):
        raise FrondInputError(f"weights {folder} hold no trained motion stage")
    motion = config.get("motion", {})
    try:
        tensors = {k[len("motion."):]: v.astype(np.float32) for k, v in load_file(str(folder / WEIGHTS_FILE)).items()
                   if k.startswith("motion.")}
    except Exception as exc:  # noqa: BLE001 - a corrupt file: say so in one line
        raise FrondInputError(f"could not read {folder / WEIGHTS_FILE}: {type(exc).__name__}: {exc}") from None
    return motion_net(tensors, motion)


class LearnedMotionEstimator:
    """Stage 2, learned: see the module docstring."""

    learned = True

    def __init__(self, net: MotionNet, weights_id: str, phones: PhoneSource | None = None) -> None:
        self.net = net
        self.weights: str | None = weights_id
        self.name = learned_name(weights_id)
        self.source = phones or PhoneSource()  # where its phones come from, when it hears them

    def prefetch(self, audio: AudioClip) -> None:
        """Start recognising the phones of `audio` now (in the helper process); `estimate` collects them."""
        if self.net.needs_phones:
            self.source.prefetch(audio.samples, audio.sample_rate)

    def outputs(self, audio: AudioClip, phones: list[Phone] | None) -> np.ndarray:
        """The network's outputs for `audio` (n, channels) at its control points (`MotionNet.outputs`)."""
        mel = speech_mel(audio.samples, audio.sample_rate, self.net.n_mels)
        features = phone_features(self.net.phone_kind, audio.samples, audio.sample_rate, phones, mel.shape[1]) \
            if self.net.uses_phones else None
        return self.net.outputs(mel, features)

    def local_face(self, audio: AudioClip, source: np.ndarray, times: np.ndarray, settings: GenerationSettings,
                   envelope: tuple[np.ndarray, np.ndarray], phones: list[Phone] | None,
                   outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The portrait's keypoints with its expression moved, before blinks and head pose: (T, 68, 2), and
        the articulation that moved them (T, DIM); `outputs`: the network's for `audio` (`outputs`).

        The network's articulation put on the portrait; with `prior_weight`, its mouth blended with the
        prior's phone-driven mouth (two views of the same speech whose errors differ).
        """
        lip_scale = settings.lip_scale * self.net.mouth_scale
        articulation = self.net.face(outputs, audio.samples, audio.sample_rate, times, settings.smoothing,
                                     lip_scale, envelope, settings.expression * self.net.brow_gain)
        local = art.apply(source, articulation, self.net.source_articulation(source))
        if self.net.prior_weight > 0 and phones:
            from .prior import mouth_keypoints, viseme_trajectory

            prior, _, _ = mouth_keypoints(source, viseme_trajectory(audio, phones, settings.smoothing, envelope),
                                          times, lip_scale)
            mouth = art.MOUTH_POINTS
            local[:, mouth] = (1.0 - self.net.prior_weight) * local[:, mouth] + self.net.prior_weight * prior[:, mouth]
        return local.astype(np.float32), articulation

    def idle(self, audio: AudioClip, times: np.ndarray, settings: GenerationSettings,
             envelope: tuple[np.ndarray, np.ndarray]) -> IdleMotion:
        """The seeded blinks and the prior's brow raise on emphasis at `times` (T,), and the prior's head for a
        network without a global stream. With one, the raise goes beside the network's own brows (which hear
        the voice but regress to little motion), scaled as they are by `brow_gain`."""
        idle = idle_motion(audio, times, settings, envelope, head=not self.net.head)
        return replace(idle, brow=(idle.brow * self.net.brow_gain).astype(np.float32)) if self.net.head else idle

    def estimate(self, audio: AudioClip, source_keypoints: np.ndarray, times: np.ndarray,
                 settings: GenerationSettings) -> MotionSequence:
        """source_keypoints (68, 2), times (T,) seconds -> MotionSequence at `times`."""
        times = np.asarray(times, np.float64)
        source = np.asarray(source_keypoints, np.float32)
        envelope = envelope_grid(audio)
        idle = self.idle(audio, times, settings, envelope)
        phones, how = self.source.phones(audio.samples, audio.sample_rate) if self.net.needs_phones else (None, "")
        outputs = self.outputs(audio, phones)
        local, articulation = self.local_face(audio, source, times, settings, envelope, phones, outputs)
        if self.net.head:  # the global stream is the network's; the blinks stay seeded
            rng = np.random.default_rng([settings.seed, HEAD_STREAM])
            pose = self.net.head_pose(outputs, times, settings.smoothing, settings.head_motion, rng, facing(source))
            idle = replace(idle, pose=pose)
        keypoints = pose_keypoints(source, local, idle)
        brow = art.brow_raise(articulation) * BROW_DISPLAY + idle.brow if self.net.head else idle.brow
        channels = {
            "open": mouth_opening(local).astype(np.float32), "width": mouth_width(local).astype(np.float32),
            "blink": idle.blink,
            "brow": brow.astype(np.float32),
            "envelope": idle.envelope, "voice": idle.activity,
        }
        hears = "audio + phones" if phones else "audio" + (f" ({how})" if how else "")
        streams = "articulation + head network" if self.net.head else "articulation network"
        return MotionSequence(times=times, keypoints=keypoints, head_pose=idle.pose, channels=channels,
                              source=f"{self.name}: {hears} -> {streams}")
