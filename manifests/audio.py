"""Audio I/O shared by corpus preparation and training-data checks.

Everything the models read is 16 kHz mono; sources are decoded once and resampled once
(soxr, very high quality) straight to that rate, never through an intermediate rate.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import AudioError
from lebench.core.files import staged


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int
    pcm16_wav: bool = False  # 16-bit PCM WAV: usable by the models as it is when 16 kHz mono

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def probe(path: str | Path) -> AudioInfo:
    """Read a file's header, or raise AudioError saying why it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        raise AudioError(path, "file not found", "check the path or rebuild the manifest",
                         "missing_audio") from None
    except OSError as e:
        raise AudioError(path, f"cannot be opened ({e.strerror})", "check its permissions") from None
    try:
        head, size = os.read(fd, 4096), os.fstat(fd).st_size
    except IsADirectoryError:
        raise AudioError(path, "is a folder, not an audio file", "check the path") from None
    finally:
        os.close(fd)
    if size == 0:
        raise AudioError(path, "empty file (0 bytes)", "re-export or remove this file", "empty")
    info = _wav_header(path, head, size)
    if info is None:
        path = Path(path)
        try:
            sfi = sf.info(str(path))
        except Exception as e:  # libsndfile reports corrupt, empty and unknown formats alike
            raise AudioError(path, f"unreadable audio ({_first_line(e)}){_sphere_hint(head)}",
                             "re-export or remove this file") from None
        info = AudioInfo(sfi.samplerate, sfi.channels, sfi.frames,
                         sfi.format == "WAV" and sfi.subtype == "PCM_16")
    if info.frames <= 0:
        raise AudioError(path, "no audio samples", "re-export or remove this file", "empty")
    return info


def _wav_header(path: Path, head: bytes, size: int) -> AudioInfo | None:
    """Parse a plain RIFF/WAVE header directly (several times faster than libsndfile's open).

    Returns None whenever the file is anything but a simple PCM/float WAV whose ``data``
    chunk starts in the first 4 KiB, so that libsndfile decides about every unusual case.
    A data chunk longer than the file is a truncated file and is reported as such.
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, fmt = 12, None
    while pos + 8 <= len(head):
        cid, clen = head[pos:pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if cid == b"fmt " and pos + 24 <= len(head):
            fmt = struct.unpack_from("<HHIIHH", head, pos + 8)
        elif cid == b"data":
            if fmt is None or clen == 0xFFFFFFFF:
                return None
            tag, channels, rate, _, block, bits = fmt
            if tag not in (1, 3, 0xFFFE) or channels == 0 or block == 0:
                return None
            if pos + 8 + clen > size:
                raise AudioError(path, f"truncated: the header announces {clen} bytes of audio, "
                                 f"the file holds {size - pos - 8}", "re-export or remove this file",
                                 "truncated")
            return AudioInfo(rate, channels, clen // block, tag == 1 and bits == 16)
        pos += 8 + clen + (clen & 1)
    return None


def _sphere_hint(head: bytes) -> str:
    """libsndfile cannot decode shorten-compressed NIST SPHERE (LDC/ELRA distributions)."""
    if head.startswith(b"NIST_1A") and b"shorten" in head:
        return "; shorten-compressed SPHERE: decompress it first with `sph2pipe -f wav`"
    return ""


def check_model_ready(path: str | Path, rate: int = SAMPLE_RATE) -> AudioInfo:
    """Raise AudioError unless the file is readable, mono and at ``rate`` Hz."""
    info = probe(path)
    fix = "normalise the corpus first with `lebench prepare` (writes 16 kHz mono WAV)"
    if info.sample_rate != rate:
        raise AudioError(path, f"sample rate is {info.sample_rate} Hz, models need {rate} Hz", fix)
    if info.channels != 1:
        raise AudioError(path, f"{info.channels} channels, models need mono", fix)
    return info


def load_mono(path: str | Path, rate: int = SAMPLE_RATE,
              start: float | None = None, end: float | None = None) -> np.ndarray:
    """Decode (a segment of) a file to float32 mono at ``rate`` Hz."""
    info = probe(path)
    first = 0 if start is None else int(round(start * info.sample_rate))
    last = info.frames if end is None else int(round(end * info.sample_rate))
    if not 0 <= first < last <= info.frames:
        raise AudioError(path, f"segment {start}-{end} s lies outside the recording "
                         f"({info.duration:.2f} s)", "fix the segment times in the transcript",
                         "segment_outside")
    try:
        wav, sr = sf.read(str(path), start=first, stop=last, dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioError(path, f"decoding failed ({_first_line(e)})",
                         "re-export or remove this file") from None
    wav = wav.mean(axis=1)
    if sr != rate:
        wav = soxr.resample(wav, sr, rate, quality="VHQ").astype(np.float32)
    return wav


def write_wav_atomic(path: str | Path, wav: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write 16-bit PCM WAV so that an interrupted write never leaves a complete-looking file."""
    with staged(path) as tmp:
        sf.write(str(tmp), np.clip(wav, -1.0, 1.0), rate, subtype="PCM_16", format="WAV")


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
