"""Audio I/O shared by corpus preparation and training-data checks.

Everything the models read is 16 kHz mono; sources are decoded once and resampled once
(soxr, very high quality) straight to that rate, never through an intermediate rate.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from lebench.errors import AudioError

TARGET_RATE = 16_000


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def probe(path: str | Path) -> AudioInfo:
    """Read a file's header, or raise AudioError saying why it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "file not found", "check the path or rebuild the manifest")
    try:
        info = sf.info(str(path))
    except Exception as e:  # libsndfile reports corrupt, empty and unknown formats alike
        raise AudioError(path, f"unreadable audio ({_first_line(e)})",
                         "re-export or remove this file") from None
    if info.frames <= 0:
        raise AudioError(path, "no audio samples", "re-export or remove this file")
    return AudioInfo(info.samplerate, info.channels, info.frames)


def check_model_ready(path: str | Path, rate: int = TARGET_RATE) -> AudioInfo:
    """Raise AudioError unless the file is readable, mono and at ``rate`` Hz."""
    info = probe(path)
    fix = "normalise the corpus first with `lebench prepare` (writes 16 kHz mono WAV)"
    if info.sample_rate != rate:
        raise AudioError(path, f"sample rate is {info.sample_rate} Hz, models need {rate} Hz", fix)
    if info.channels != 1:
        raise AudioError(path, f"{info.channels} channels, models need mono", fix)
    return info


def load_mono(path: str | Path, rate: int = TARGET_RATE,
              start: float | None = None, end: float | None = None) -> np.ndarray:
    """Decode (a segment of) a file to float32 mono at ``rate`` Hz."""
    info = probe(path)
    first = 0 if start is None else int(round(start * info.sample_rate))
    last = info.frames if end is None else int(round(end * info.sample_rate))
    if not 0 <= first < last <= info.frames:
        raise AudioError(path, f"segment {start}-{end} s lies outside the recording "
                         f"({info.duration:.2f} s)", "fix the segment times in the transcript")
    try:
        wav, sr = sf.read(str(path), start=first, stop=last, dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioError(path, f"decoding failed ({_first_line(e)})",
                         "re-export or remove this file") from None
    wav = wav.mean(axis=1)
    if sr != rate:
        wav = soxr.resample(wav, sr, rate, quality="VHQ").astype(np.float32)
    return wav


def write_wav_atomic(path: str | Path, wav: np.ndarray, rate: int = TARGET_RATE) -> None:
    """Write 16-bit PCM WAV so that an interrupted write never leaves a complete-looking file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    sf.write(str(tmp), np.clip(wav, -1.0, 1.0), rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
