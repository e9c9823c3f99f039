"""Normalise a corpus: every utterance becomes 16 kHz mono 16-bit audio plus one record.

Output folder::

    OUT/audio/<corpus>/<speaker>/<id>.wav   converted or cut audio
    OUT/utterances.jsonl                     records of the kept utterances
    OUT/rejects.tsv                          every skipped input: source, kind, reason
    OUT/.journal                             progress: the results of every finished input

A whole file that already is 16 kHz mono 16-bit PCM WAV is used where it lies (its
header is read, nothing is copied or resampled); everything else is decoded once and
resampled once. A recording longer than ``max_duration`` without a transcript is cut at
its quietest points (:mod:`manifests.segment`); one with a transcript cannot be cut blindly
and is rejected.

Streaming: inputs are read, processed and journalled in bounded blocks (at most two in
flight: the workers process one while the next is read), so memory does not grow with the
corpus beyond one id per input. Resumable: a rerun skips every input the
journal lists; WAVs are written atomically; ``utterances.jsonl`` and ``rejects.tsv`` appear
(atomically) only when the run is complete, and are left as they are when a rerun finds
the same.
"""
from __future__ import annotations

import filecmp
import itertools
import json
import os
from collections import Counter
from dataclasses import asdict, astuple, dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from tqdm import tqdm

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import AudioError, UserError
from lebench.manifests.audio import load_mono, probe, write_wav_atomic
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject, open_rejects, write_reject
from lebench.manifests.segment import energy_cuts

BLOCK = 8192  # inputs in flight at once: bounds memory whatever the corpus size
FIRST_BLOCK = 256


@dataclass(frozen=True)
class PrepareSummary:
    kept: int
    rejected: int
    hours: float
    records: Path
    rejects: Path
    reject_kinds: dict[str, int]

    def __str__(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.reject_kinds.items()))
        return (f"kept {self.kept} utterances ({self.hours:.2f} h) -> {self.records}; "
                f"rejected {self.rejected}{f' ({kinds})' if kinds else ''} -> {self.rejects}")


@dataclass(frozen=True)
class _Params:
    min_duration: float
    max_duration: float
    split_long: bool


def prepare(items: Iterable[Utterance | Reject], out_dir: str | Path, *,
            min_duration: float = 1.0, max_duration: float = 30.0, split_long: bool = True,
            workers: int | None = None, strict: bool = False,
            progress: bool = True) -> PrepareSummary:
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    params = _Params(min_duration, max_duration, split_long)
    journal_path = out_dir / ".journal"
    done = _read_journal(journal_path, params)
    records, rejects_path = out_dir / "utterances.jsonl", out_dir / "rejects.tsv"
    rejects_tmp = out_dir / ".rejects.tsv.partial"
    kinds: Counter = Counter()
    seen: set[str] = set()
    workers = workers or min(len(os.sched_getaffinity(0)), 8)
    out_str, param_tuple = str(out_dir), astuple(params)

    def todo(rejects_file) -> Iterator[tuple[tuple, str, tuple]]:
        for item in items:
            if isinstance(item, Reject):
                write_reject(rejects_file, item)
                kinds[item.kind] += 1
            elif not item.id or item.id != _clean(item.id) or "/" in item.id:
                reject = Reject(item.audio, f"utterance id {item.id!r} is empty or holds "
                                "spaces or slashes", "bad_metadata")
                write_reject(rejects_file, reject)
                kinds[reject.kind] += 1
            elif item.id in seen:  # two utterances would write the same output file
                reject = Reject(item.audio, f"duplicate utterance id {item.id!r}", "duplicate_id")
                write_reject(rejects_file, reject)
                kinds[reject.kind] += 1
            else:
                seen.add(item.id)
                if item.id not in done:
                    # plain tuples: unpickling a dataclass per input would cost more than its header
                    yield tuple(item.__dict__.values()), out_str, param_tuple

    with open_rejects(rejects_tmp) as rejects_file, \
            open(journal_path, "a", encoding="utf-8") as journal, \
            Pool(workers) as pool, \
            tqdm(desc=f"prepare {out_dir.name}", unit="input", disable=not progress) as bar:
        bar.update(len(done))
        jobs = todo(rejects_file)
        in_flight = None  # the block the workers are on, while the next one is read
        size = min(FIRST_BLOCK, BLOCK)  # doubling up to BLOCK: the workers start at once
        while True:
            block = list(itertools.islice(jobs, size))
            size = min(BLOCK, 2 * size)
            chunk = max(1, min(64, len(block) // (4 * workers)))  # small blocks: spread them
            submitted = (pool.imap(_process, block, chunksize=chunk), len(block)) if block else None
            if in_flight is not None:
                results, n = in_flight
                journal.writelines(results)
                journal.flush()
                bar.update(n)
            if submitted is None:
                break
            in_flight = submitted
        kept_n, seconds = 0, 0.0
        tmp_records = out_dir / ".utterances.jsonl.partial"
        with open(tmp_records, "w", encoding="utf-8") as out:
            for tag, key, *rest in _journal_lines(journal_path):
                if key not in seen:  # the corpus changed since: that input is gone
                    continue
                if tag == "U":
                    out.write(rest[1] + "\n")
                    kept_n, seconds = kept_n + 1, seconds + float(rest[0])
                elif tag == "R":
                    write_reject(rejects_file, Reject(rest[0], rest[2], rest[1]))
                    kinds[rest[1]] += 1
    rejected = sum(kinds.values())
    if strict and rejected:
        raise UserError(f"{rejected} input(s) rejected ({dict(kinds)}), listed in {rejects_tmp}; "
                        "fix them or run without --strict")
    _replace_if_changed(rejects_tmp, rejects_path)
    _replace_if_changed(tmp_records, records)
    return PrepareSummary(kept_n, rejected, seconds / 3600, records, rejects_path, dict(kinds))


def _replace_if_changed(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target``, unless they are equal: a rerun rewrites nothing."""
    if target.is_file() and filecmp.cmp(new, target, shallow=False):
        new.unlink()
    else:
        os.replace(new, target)


def _read_journal(path: Path, params: _Params) -> set[str]:
    """Keys already finished; the first line holds the options the journal was made with.

    Journal lines: ``U key duration record-json`` per kept utterance, ``R key source kind
    reason`` per reject, then ``D key`` once an input is finished (tab-separated). Lines
    after the last ``D`` belong to an input cut short by an interruption: they are removed
    and that input is done again.
    """
    header = json.dumps({"params": asdict(params)})
    if not path.is_file() or path.stat().st_size == 0:
        path.write_text(header + "\n", encoding="utf-8")
        return set()
    done: set[str] = set()
    with open(path, "r+", encoding="utf-8") as f:
        first = f.readline().rstrip("\n")
        if first != header:
            raise UserError(f"{path.parent} was prepared with {json.loads(first)['params']}, not "
                            f"{asdict(params)}; use the same options or a new output folder")
        complete = f.tell()
        for line in iter(f.readline, ""):
            if line.startswith("D\t") and line.endswith("\n"):
                done.add(line[2:-1])
                complete = f.tell()
        if complete < f.tell():  # lines of an input cut short: that input is done again
            f.truncate(complete)
    return done


def _journal_lines(path: Path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8") as f:
        f.readline()
        for line in f:
            yield line.rstrip("\n").split("\t", 4 if line[0] == "R" else 3)


def _process(job: tuple[tuple, str, tuple]) -> str:
    """Normalise one input; return its journal lines (serialised here, in the worker)."""
    fields, out_dir, params = job
    utt, p = Utterance(*fields), _Params(*params)
    kept: list[dict] = []
    rejected: list[Reject] = []
    try:
        _normalise(utt, out_dir, p, kept, rejected)
    except AudioError as e:
        rejected.append(Reject(e.path, e.reason, e.kind))
    lines = []
    for rec in kept:
        try:
            Utterance(**rec).validate()
        except ValueError as e:
            lines.append(f"R\t{utt.id}\t{_clean(utt.audio)}\tbad_metadata\t{_clean(str(e))}\n")
            continue
        lines.append(f"U\t{utt.id}\t{rec['duration']}\t{json.dumps(rec, ensure_ascii=False)}\n")
    for r in rejected:
        lines.append(f"R\t{utt.id}\t{_clean(r.source)}\t{r.kind}\t{_clean(r.reason)}\n")
    return "".join(lines) + f"D\t{utt.id}\n"


def _clean(text: str) -> str:
    return " ".join(text.split())  # tabs and newlines would break the journal and rejects.tsv


def _normalise(utt: Utterance, out_dir: str, p: _Params, kept: list[dict],
               rejected: list[Reject]) -> None:
    """Into ``out_dir/audio/<corpus>/<speaker>/`` when the audio has to be written; a 16 kHz
    mono 16-bit WAV is kept where it lies (no path built for it: millions of files)."""
    def keep(wav: np.ndarray | None, target: str, uid: str, duration: float) -> None:
        if not p.min_duration <= duration <= p.max_duration:
            rejected.append(Reject(f"{utt.audio}{_span(utt)}", f"duration {duration:.2f} s outside "
                                   f"[{p.min_duration}, {p.max_duration}] s", "duration"))
            return
        if wav is not None:
            write_wav_atomic(target, wav)
        rec = dict(utt.__dict__)
        rec.update(id=uid, audio=target, duration=duration, start=None, end=None)
        kept.append(rec)

    def written(uid: str) -> str:
        return os.path.join(out_dir, "audio", utt.corpus, utt.speaker, f"{uid}.wav")

    if utt.start is not None:
        target = written(utt.id)
        if os.path.isfile(target):  # complete by construction (atomic write)
            return keep(None, target, utt.id, probe(target).duration)
        wav = load_mono(utt.audio, SAMPLE_RATE, utt.start, utt.end)
        return keep(wav, target, utt.id, len(wav) / SAMPLE_RATE)
    info = probe(utt.audio)
    cut = p.split_long and utt.transcript is None and info.duration > p.max_duration
    if info.duration > p.max_duration and not cut:
        why = "it has a transcript without times" if utt.transcript else "splitting is off"
        rejected.append(Reject(utt.audio, f"{info.duration:.2f} s is longer than "
                               f"{p.max_duration} s and cannot be cut ({why})",
                               "too_long_transcribed"))
        return
    if not cut:
        if info.pcm16_wav and info.sample_rate == SAMPLE_RATE and info.channels == 1:
            return keep(None, utt.audio, utt.id, info.duration)
        target = written(utt.id)
        if os.path.isfile(target):
            return keep(None, target, utt.id, probe(target).duration)
        wav = load_mono(utt.audio, SAMPLE_RATE)
        return keep(wav, target, utt.id, len(wav) / SAMPLE_RATE)
    wav = load_mono(utt.audio, SAMPLE_RATE)
    for start, end, speech in energy_cuts(wav, SAMPLE_RATE, p.max_duration):
        uid = f"{utt.id}-{round(start * 1000):07d}-{round(end * 1000):07d}"
        if not speech:
            rejected.append(Reject(f"{utt.audio}:{start:.2f}-{end:.2f}",
                                   "mostly silence (30 dB under the recording's loud parts)", "silence"))
            continue
        piece = wav[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
        keep(piece, written(uid), uid, len(piece) / SAMPLE_RATE)


def _span(utt: Utterance) -> str:
    return "" if utt.start is None else f":{utt.start:.2f}-{utt.end:.2f}"
