"""Cut a long untranscribed recording into utterances at its quietest points.

Used where a corpus ships long recordings without time-aligned transcripts (audiobook
chapters, radio programmes). Energy-based, so it needs no model and behaves the same on
every machine: pieces are at most ``max_len`` seconds, each cut lies in the quietest
stretch of the second half of the allowed window, and pieces that are mostly far quieter
than the recording's loud parts are reported as silence rather than kept.
"""
from __future__ import annotations

import numpy as np

FRAME = 0.010        # seconds between energy frames
SMOOTH = 0.300       # window over which a cut point must be quiet
SPEECH_DB = 30.0     # frames within this many dB of the recording's loud level count as speech
MIN_SPEECH = 0.2     # a piece with less speech than this fraction is silence


def frame_energy_db(wav: np.ndarray, rate: int) -> np.ndarray:
    hop = int(FRAME * rate)
    n = max(1, len(wav) // hop)
    frames = wav[: n * hop].reshape(n, hop) if len(wav) >= hop else wav[None, :]
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)


def energy_cuts(wav: np.ndarray, rate: int, max_len: float) -> list[tuple[float, float, bool]]:
    """``(start, end, is_speech)`` pieces, in seconds, covering the whole recording."""
    energy = frame_energy_db(wav, rate)
    k = max(1, int(SMOOTH / FRAME))
    smooth = np.convolve(energy, np.ones(k) / k, mode="same")
    speech = energy > np.percentile(energy, 95) - SPEECH_DB
    total = len(wav) / rate
    max_frames = int(max_len / FRAME)
    cuts, pos = [0], 0
    while len(energy) - pos > max_frames:
        lo, hi = pos + max_frames // 2, pos + max_frames
        pos = lo + int(np.argmin(smooth[lo:hi]))
        cuts.append(pos)
    pieces = []
    for a, b in zip(cuts, cuts[1:] + [len(energy)]):
        start, end = a * FRAME, min(b * FRAME, total) if b < len(energy) else total
        pieces.append((start, end, bool(speech[a:b].mean() >= MIN_SPEECH)))
    return pieces
