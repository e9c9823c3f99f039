"""Normalise a corpus: every utterance becomes a 16 kHz mono 16-bit WAV plus one record.

Output folder::

    OUT/audio/<corpus>/<speaker>/<id>.wav
    OUT/utterances.jsonl     records of the kept utterances (audio = the normalised file)
    OUT/rejects.tsv          every skipped input with its reason

Resumable: WAVs are written atomically, so a file that exists is complete and is not
decoded again after an interruption; the records file appears only when the run finished.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Iterable

from tqdm import tqdm

from lebench.errors import AudioError, UserError
from manifests.audio import TARGET_RATE, load_mono, probe, write_wav_atomic
from manifests.records import Utterance, write_records
from manifests.rejects import Reject, write_rejects


@dataclass(frozen=True)
class PrepareSummary:
    kept: int
    rejected: int
    hours: float
    records: Path
    rejects: Path


def prepare(items: Iterable[Utterance | Reject], out_dir: str | Path, *,
            min_duration: float = 1.0, max_duration: float = 30.0, workers: int | None = None,
            strict: bool = False, progress: bool = True) -> PrepareSummary:
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    rejects: list[Reject] = []
    todo: list[Utterance] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, Reject):
            rejects.append(item)
        elif item.id in seen:  # two utterances would write the same output file
            rejects.append(Reject(item.audio, f"duplicate utterance id {item.id!r}"))
        else:
            seen.add(item.id)
            todo.append(item)
    jobs = [(u, out_dir, min_duration, max_duration) for u in todo]
    workers = workers or min(len(os.sched_getaffinity(0)), 8)
    kept: list[Utterance] = []
    with Pool(workers) as pool:
        for result in tqdm(pool.imap(_normalise_one, jobs, chunksize=16), total=len(jobs),
                           desc="prepare", unit="utt", disable=not progress):
            (rejects if isinstance(result, Reject) else kept).append(result)
    if strict and rejects:
        raise UserError(f"{len(rejects)} input(s) rejected, first: {rejects[0].source}: "
                        f"{rejects[0].reason}; fix them or run without --strict")
    records, rejects_path = out_dir / "utterances.jsonl", out_dir / "rejects.tsv"
    write_rejects(rejects_path, rejects)
    write_records(records, kept)
    return PrepareSummary(len(kept), len(rejects), sum(u.duration for u in kept) / 3600,
                          records, rejects_path)


def _normalise_one(job: tuple[Utterance, Path, float, float]) -> Utterance | Reject:
    utt, out_dir, min_dur, max_dur = job
    target = out_dir / "audio" / utt.corpus / utt.speaker / f"{utt.id}.wav"
    try:
        if target.is_file():  # complete by construction (atomic write): resume
            duration = probe(target).duration
        else:
            wav = load_mono(utt.audio, TARGET_RATE, utt.start, utt.end)
            duration = len(wav) / TARGET_RATE
            if min_dur <= duration <= max_dur:
                write_wav_atomic(target, wav)
    except AudioError as e:
        return Reject(e.path, e.reason)
    if not min_dur <= duration <= max_dur:
        return Reject(utt.audio, f"duration {duration:.2f} s outside [{min_dur}, {max_dur}] s")
    return dataclasses.replace(utt, audio=str(target), duration=duration, start=None, end=None)
