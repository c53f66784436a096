"""Compressed frame shards: one file of concatenated encoded images per clip, plus an index.

`<name>.bin` holds the JPEG (or WebP) bytes of every frame back to back; `<name>.idx.npy`
holds the T + 1 byte offsets. Reading frame i is one slice of a memory map and one
`cv2.imdecode`, so random access is cheap, one file per clip keeps a large corpus to a few
files, and DataLoader workers share the page cache. Frames are RGB uint8.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

FORMATS = {"jpeg": (".jpg", cv2.IMWRITE_JPEG_QUALITY), "webp": (".webp", cv2.IMWRITE_WEBP_QUALITY)}


def index_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".bin") + ".idx.npy")


def encode(image: np.ndarray, fmt: str = "jpeg", quality: int = 90) -> bytes:
    """(H, W, 3) uint8 RGB -> encoded bytes."""
    ext, flag = FORMATS[fmt]
    ok, buf = cv2.imencode(ext, cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR), [int(flag), int(quality)])
    if not ok:
        raise RuntimeError(f"could not encode a {image.shape} frame as {fmt}")
    return buf.tobytes()


def decode(data) -> np.ndarray:
    """Encoded bytes (or a uint8 buffer) -> (H, W, 3) uint8 RGB."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("corrupt frame in a frame shard")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class FrameShardWriter:
    """Append frames to `path` (.bin); `close()` writes the index. Usable as a context manager."""

    def __init__(self, path: str | Path, fmt: str = "jpeg", quality: int = 90) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"frame format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.path, self.fmt, self.quality = Path(path), fmt, quality
        self.file = self.path.open("wb")
        self.offsets = [0]

    def add(self, image: np.ndarray) -> None:
        """(H, W, 3) uint8 RGB."""
        self.file.write(encode(image, self.fmt, self.quality))
        self.offsets.append(self.file.tell())

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()
            np.save(index_path(self.path), np.asarray(self.offsets, dtype=np.int64))

    def __enter__(self) -> "FrameShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FrameShard:
    """Read-only, random-access frames of a shard: len(), [i] -> (H, W, 3) uint8 RGB, .shape."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offsets = np.load(index_path(self.path))
        self._data: np.ndarray | None = None  # the memory-mapped file, once read

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_data": None}  # a worker process maps the file itself

    @property
    def data(self) -> np.ndarray:
        if self._data is None:
            self._data = np.memmap(self.path, dtype=np.uint8, mode="r") if self.offsets[-1] else np.zeros(0, np.uint8)
        return self._data

    def __getitem__(self, i: int) -> np.ndarray:
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"frame {i} of a shard with {len(self)} frames")
        i %= len(self)
        return decode(self.data[self.offsets[i]:self.offsets[i + 1]])

    @property
    def shape(self) -> tuple[int, ...]:
        """(T, H, W, 3) from the first frame (every frame of a clip shard has the same size)."""
        return (len(self), *self[0].shape) if len(self) else (0,)

    @property
    def nbytes(self) -> int:
        return int(self.offsets[-1])
