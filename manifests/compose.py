"""fairseq pretraining manifests for a composition of prepared corpora, streamed.

Each corpus of the composition must have been prepared into ``PREPARED/<corpus>/`` (by
``lebench prepare ... --reader <corpus>``). The train / valid assignment hashes the seed
with the utterance id, so it is deterministic, needs no shuffling in memory, and an
utterance stays in the same split when other corpora are added to the composition.
Beside each manifest, ``<split>.meta.tsv`` holds each line's corpus, speaker, gender and
speech type, for the pretraining task's metadata filter (``task.keep``). Also writes the
statistics of the composition (``stats.md``, ``stats.csv``).
"""
from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import AudioError, UserError
from lebench.manifests.audio import check_model_ready
from lebench.manifests.compositions import Composition
from lebench.manifests.records import Utterance, read_records
from lebench.manifests.rejects import Reject, write_rejects
from lebench.manifests.stats import report, to_csv, to_markdown

META_COLUMNS = ("corpus", "speaker", "gender", "speech_type")


def records_of(composition: Composition, prepared: Path) -> list[Path]:
    paths = [Path(prepared) / c / "utterances.jsonl" for c in composition.corpora]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"composition {composition.name} needs {len(missing)} corpora not prepared "
                        f"under {prepared}: {', '.join(p.parent.name for p in missing)}; run "
                        f"`lebench prepare <corpus dir> {prepared}/<corpus> --reader <corpus>` for each")
    return paths


def in_valid(uid: str, fraction: float, seed: int) -> bool:
    digest = hashlib.blake2b(f"{seed}:{uid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64 < fraction


def compose(composition: Composition, prepared: Path, out_dir: Path, valid_fraction: float = 0.01,
            seed: int = 42, check_audio: bool = True, progress: bool = True) -> dict[str, int]:
    paths = records_of(composition, prepared)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    def records() -> Iterator[Utterance]:
        return itertools.chain.from_iterable(read_records(p) for p in paths)

    root = None
    for u in records():
        folder = os.path.dirname(u.audio)
        root = folder if root is None else os.path.commonpath([root, folder])
    if root is None:
        raise UserError(f"the prepared corpora of {composition.name} hold no utterances")
    counts = {"train": 0, "valid": 0}
    rejects: list[Reject] = []
    tmp = {f"{k}{ext}": out_dir / f".{k}{ext}.partial" for k in counts for ext in (".tsv", ".meta.tsv")}
    files = {k: open(p, "w", encoding="utf-8") for k, p in tmp.items()}
    try:
        for k in counts:
            files[f"{k}.tsv"].write(root + "\n")
            files[f"{k}.meta.tsv"].write("\t".join(META_COLUMNS) + "\n")
        for u in tqdm(records(), desc=f"compose {composition.name}", unit="utt",
                      disable=not progress):
            try:
                frames = check_model_ready(u.audio).frames if check_audio else \
                    round(u.duration * SAMPLE_RATE)
            except AudioError as e:
                rejects.append(Reject(e.path, f"{e.reason}; {e.fix}", e.kind))
                continue
            split = "valid" if in_valid(u.id, valid_fraction, seed) else "train"
            files[f"{split}.tsv"].write(f"{os.path.relpath(u.audio, root)}\t{frames}\n")
            files[f"{split}.meta.tsv"].write("\t".join(getattr(u, c) for c in META_COLUMNS) + "\n")
            counts[split] += 1
    finally:
        for f in files.values():
            f.close()
    for name, p in tmp.items():
        os.replace(p, out_dir / name)
    write_rejects(out_dir / "rejects.tsv", rejects)
    rows = report(records(), composition.name)
    (out_dir / "stats.md").write_text(to_markdown(rows), encoding="utf-8")
    (out_dir / "stats.csv").write_text(to_csv(rows), encoding="utf-8")
    return {**counts, "rejected": len(rejects)}
