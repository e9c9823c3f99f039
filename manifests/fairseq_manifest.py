"""fairseq manifests from utterance records, with deterministic splits.

``<split>.tsv``: the root folder on the first line, then ``relative/path<TAB>num_samples``.
``<split>.<label>`` (one label per manifest line) and ``dict.<label>.txt`` for classification
tasks, as fairseq's audio tasks read them. Every audio file is checked (readable, 16 kHz,
mono) before anything is written; files are replaced atomically.
"""
from __future__ import annotations

import os
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from lebench.core.errors import AudioError, UserError
from lebench.core.manifest import write_lines, write_manifest
from lebench.manifests.audio import check_model_ready
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject, write_rejects
from lebench.manifests.text import letters, normalise

# Labels computed from the transcript through the French normaliser (manifests/text.py):
# letters for CTC (fairseq's .ltr format) and normalised words (.wrd); ``transcript`` is the
# transcript as the corpus gave it, the reference that ASR is scored against.
TRANSCRIPT_LABELS = ("ltr", "wrd")
RAW_TRANSCRIPT = "transcript"


def label_of(utt: Utterance, name: str) -> str:
    """A record's value for a label name: a record field, one of its corpus labels, or its
    transcript: raw (``transcript``), as letters (``ltr``) or as normalised words (``wrd``).
    Label files hold one line per utterance, so runs of whitespace (newlines included)
    become one space."""
    return " ".join(_label_value(utt, name).split())


def _label_value(utt: Utterance, name: str) -> str:
    if name in (*TRANSCRIPT_LABELS, RAW_TRANSCRIPT):
        if not utt.transcript:
            raise UserError(f"utterance {utt.id} has no transcript, which label {name!r} needs; "
                            "leave untranscribed utterances out of ASR manifests")
        if name == RAW_TRANSCRIPT:
            return utt.transcript
        return letters(utt.transcript) if name == "ltr" else normalise(utt.transcript)
    if name in ("gender", "speaker", "speech_type", "corpus"):
        return getattr(utt, name)
    if name not in utt.labels:
        raise UserError(f"utterance {utt.id} has no label {name!r} (it has: "
                        f"gender, speaker, speech_type, corpus, {', '.join(utt.labels) or '-'})")
    return utt.labels[name]


def parse_fractions(spec: str) -> dict[str, float]:
    """``"train=0.8,valid=0.1,test=0.1"`` -> dict; fractions must sum to 1."""
    try:
        out = {k.strip(): float(v) for k, v in (part.split("=") for part in spec.split(","))}
    except ValueError:
        raise UserError(f"split spec {spec!r} must look like train=0.8,valid=0.1,test=0.1") from None
    if abs(sum(out.values()) - 1) > 1e-6 or min(out.values()) < 0:
        raise UserError(f"split fractions {spec!r} must be non-negative and sum to 1")
    return out


def split_records(records: Sequence[Utterance], fractions: dict[str, float], seed: int,
                  by: str = "utterance", stratify: str | None = None) -> dict[str, list[Utterance]]:
    """Assign utterances (or whole speakers, with ``by="speaker"``) to splits, or keep the
    split a corpus label gives (``by="label:split"``: official train/valid/test).

    Deterministic for a seed; with ``stratify`` (e.g. ``gender``) each value of that label
    is split in the same proportions. Group counts are rounded, so every split with a
    non-zero fraction gets at least one group when the stratum has enough.
    """
    if by.startswith("label:"):
        out: dict[str, list[Utterance]] = defaultdict(list)
        for r in records:
            out[label_of(r, by.split(":", 1)[1])].append(r)
        return {name: sorted(rs, key=lambda r: r.id) for name, rs in sorted(out.items())}
    if by not in ("utterance", "speaker"):
        raise UserError(f"--by must be 'utterance', 'speaker' or 'label:NAME', not {by!r}")
    groups: dict[str, list[Utterance]] = defaultdict(list)
    for r in records:
        groups[r.id if by == "utterance" else r.speaker].append(r)
    strata: dict[str, list[str]] = defaultdict(list)
    for key, members in sorted(groups.items()):
        strata[label_of(members[0], stratify) if stratify else ""].append(key)
    rng = random.Random(seed)
    out: dict[str, list[Utterance]] = {name: [] for name in fractions}
    for _, keys in sorted(strata.items()):
        rng.shuffle(keys)
        counts = _allocate(len(keys), fractions)
        start = 0
        for name, n in counts.items():
            for key in keys[start:start + n]:
                out[name].extend(groups[key])
            start += n
    return {name: sorted(rs, key=lambda r: r.id) for name, rs in out.items()}


def _allocate(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Largest-remainder rounding, then move one group to each empty non-zero split if possible."""
    raw = {k: f * n for k, f in fractions.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: n - sum(counts.values())]:
        counts[k] += 1
    for k, f in fractions.items():
        donor = max(counts, key=counts.get)
        if f > 0 and counts[k] == 0 and counts[donor] > 1:
            counts[k], counts[donor] = 1, counts[donor] - 1
    return counts


def write_manifests(splits: dict[str, list[Utterance]], out_dir: str | Path,
                    labels: Sequence[str] = (), skip_bad: bool = False,
                    progress: bool = True) -> dict[str, int]:
    """Check every file, then write ``<split>.tsv`` (+ label files and dictionaries).

    ``<split>.speaker`` is always written: scores resample speakers for their intervals. A
    bad audio file is an error naming it (nothing is written), unless ``skip_bad``: then it
    is left out and listed in ``rejects.tsv``. A file whose content is unchanged is not
    rewritten, so writing the same manifests again changes nothing on disk.
    """
    labels = tuple(dict.fromkeys([*labels, "speaker"]))
    out_dir = Path(out_dir).resolve()
    if not any(splits.values()):
        raise UserError(f"no utterances to write to {out_dir}; check the records file and split spec")
    checked: dict[str, list[tuple[Utterance, int]]] = {}
    rejects: list[Reject] = []
    total = sum(len(rs) for rs in splits.values())
    with tqdm(total=total, desc="check audio", unit="file", disable=not progress) as bar:
        for name, rs in splits.items():
            checked[name] = []
            for r in rs:
                try:
                    checked[name].append((r, check_model_ready(r.audio).frames))
                except AudioError as e:
                    rejects.append(Reject(e.path, f"{e.reason}; {e.fix}", e.kind))
                bar.update()
    if rejects and not skip_bad:
        more = f" (and {len(rejects) - 1} more)" if len(rejects) > 1 else ""
        raise UserError(f"{rejects[0].source}: {rejects[0].reason}{more}; "
                        "nothing was written (use --skip-bad to leave bad files out)")
    all_paths = [r.audio for rs in checked.values() for r, _ in rs]
    root = os.path.commonpath([os.path.dirname(p) for p in all_paths])
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, items in checked.items():
        write_manifest(out_dir / f"{name}.tsv", root, [(os.path.relpath(r.audio, root), n) for r, n in items])
        for label in labels:
            write_lines(out_dir / f"{name}.{label}", [label_of(r, label) for r, _ in items])
    for label in (l for l in labels if l != RAW_TRANSCRIPT):  # raw text has no vocabulary
        values = (label_of(r, label) for r, _ in checked.get("train", []))
        counts = Counter(token for v in values for token in v.split()) if label in TRANSCRIPT_LABELS \
            else Counter(values)
        if not counts:
            raise UserError(f"no training utterances carry label {label!r}")
        write_lines(out_dir / f"dict.{label}.txt", [f"{k} {v}" for k, v in sorted(counts.items())])
    if rejects:
        write_rejects(out_dir / "rejects.tsv", rejects)
    return {name: len(items) for name, items in checked.items()}

