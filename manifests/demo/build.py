"""Build the embedded demo corpus offline with Debian's espeak-ng.

It is laid out like a lab's own corpus (see ``manifests.corpora.generic``): WAV files as the
synthesiser writes them (22.05 kHz mono, so preparation really resamples) and a
``metadata.csv`` with speaker, gender, transcript, speech type, licence, and the labels the
downstream tasks train on: ``sentence_type`` (statement / question, rendered by espeak-ng
with falling / rising intonation), ``accent`` (fr, fr-be, fr-ch), and for every sentence
its translations ``en``, ``es``, ``pt``, its ``concepts`` (MEDIA-style tags, see
``downstream/slu.py``) and its dependency ``tree`` (``form/head/relation``, Universal
Dependencies relations, no punctuation since speech has none). The translations, concept
spans and trees were written by hand for this project, sentence by sentence, by the
developer who wrote the sentences (not machine output); ``tests/test_demo_targets.py``
checks that their words are the sentences' words and that every tree is a tree.

16 speakers (8 male, 8 female), each an espeak-ng voice variant with its own pitch and rate,
read 12 statements and 12 questions from ``sentences.tsv`` (sentences written for this
project): 384 utterances, about a quarter of an hour of speech.

For speech translation into French (mTEDx's es-fr direction), ``es_fr/`` holds a small
corpus of its own in the same layout: 4 Spanish voices (2 male, 2 female) read the Spanish
translation of every sentence (192 utterances), with the French sentence as label ``fr``.
It is a separate folder so that nothing French (pretraining, ASR...) ever reads it.
"""
from __future__ import annotations

import csv
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lebench.errors import UserError

SENTENCES = Path(__file__).with_name("sentences.tsv")
LICENCE = "CC0-1.0"
PER_TYPE = 12  # sentences of each type per speaker
TARGETS = ("en", "es", "pt", "concepts", "tree")  # per-sentence annotations of sentences.tsv
METADATA_FIELDS = ["path", "id", "speaker", "gender", "transcript", "speech_type", "licence",
                   "sentence_type", "accent", "voice", *TARGETS]
SPANISH = "es_fr"  # subfolder: Spanish speech, French targets
SPANISH_FIELDS = ["path", "id", "speaker", "gender", "transcript", "speech_type", "licence",
                  "sentence_type", "accent", "voice", "fr"]


@dataclass(frozen=True)
class Voice:
    speaker: str
    gender: str
    accent: str    # espeak-ng language: fr, fr-be, fr-ch
    variant: str   # espeak-ng voice variant: m1..m7, f1..f5
    pitch: int     # espeak-ng -p (0-99)
    rate: int      # espeak-ng -s (words per minute)


VOICES = [
    Voice("s01", "M", "fr", "m1", 45, 165), Voice("s02", "M", "fr", "m2", 55, 175),
    Voice("s03", "M", "fr-be", "m3", 50, 160), Voice("s04", "M", "fr-ch", "m4", 40, 180),
    Voice("s05", "M", "fr", "m5", 50, 170), Voice("s06", "M", "fr-be", "m6", 60, 155),
    Voice("s07", "M", "fr-ch", "m7", 45, 175), Voice("s08", "M", "fr", "m3", 35, 185),
    Voice("s09", "F", "fr", "f1", 50, 170), Voice("s10", "F", "fr", "f2", 60, 160),
    Voice("s11", "F", "fr-be", "f3", 45, 175), Voice("s12", "F", "fr-ch", "f4", 55, 165),
    Voice("s13", "F", "fr", "f5", 50, 180), Voice("s14", "F", "fr-be", "f1", 65, 160),
    Voice("s15", "F", "fr-ch", "f2", 40, 170), Voice("s16", "F", "fr", "f4", 55, 185),
]
SPANISH_VOICES = [
    Voice("e01", "M", "es", "m1", 45, 160), Voice("e02", "F", "es", "f2", 55, 165),
    Voice("e03", "M", "es", "m4", 50, 170), Voice("e04", "F", "es", "f4", 60, 160),
]


def build_demo_corpus(out_dir: str | Path, force: bool = False) -> Path:
    """Write the corpus to ``out_dir`` (reused when complete; built in a temporary folder)."""
    out_dir = Path(out_dir).resolve()
    if (out_dir / "metadata.csv").is_file() and (out_dir / SPANISH / "metadata.csv").is_file() \
            and not force:
        with open(out_dir / "metadata.csv", encoding="utf-8") as f:
            if f.readline().strip().split(",") == METADATA_FIELDS:
                return out_dir  # else built by an older version: rebuilt with every label
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise UserError("espeak-ng not found; install it with `apt-get install espeak-ng` "
                        "(Debian/Ubuntu) to build the demo corpus")
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    rows, spanish = _script(), _spanish_script()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda row: _speak(espeak, tmp, row, VOICES), rows))
        list(pool.map(lambda row: _speak(espeak, tmp / SPANISH, row, SPANISH_VOICES), spanish))
    for folder, fields, items in ((tmp, METADATA_FIELDS, rows), (tmp / SPANISH, SPANISH_FIELDS, spanish)):
        with open(folder / "metadata.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(items)
    version = subprocess.run([espeak, "--version"], capture_output=True, text=True).stdout.strip()
    (tmp / "README.txt").write_text(
        "lebench demo corpus: French sentences written for the project, synthesised offline.\n"
        f"Synthesiser: {version}\nVoices: {len(VOICES)} (8 male, 8 female); "
        f"utterances: {len(rows)}; licence: {LICENCE}.\n{SPANISH}/: {len(SPANISH_VOICES)} Spanish "
        f"voices read the sentences' Spanish translations ({len(spanish)} utterances).\n", encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir


def _sentences() -> list[dict[str, str]]:
    with open(SENTENCES, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _spanish_script() -> list[dict[str, str]]:
    """Every Spanish voice reads the Spanish translation of every sentence."""
    return [{"path": f"wav/{v.speaker}/{v.speaker}_{s['id']}.wav", "id": f"{v.speaker}_{s['id']}",
             "speaker": v.speaker, "gender": v.gender, "transcript": s["es"],
             "speech_type": "synthetic", "licence": LICENCE, "sentence_type": s["sentence_type"],
             "accent": v.accent, "voice": f"{v.accent}+{v.variant} -p {v.pitch} -s {v.rate}",
             "fr": s["text"]} for v in SPANISH_VOICES for s in _sentences()]


def _script() -> list[dict[str, str]]:
    """Who says what: each speaker reads PER_TYPE statements and PER_TYPE questions."""
    sentences = _sentences()
    by_type = {t: [s for s in sentences if s["sentence_type"] == t] for t in ("statement", "question")}
    rows = []
    for i, v in enumerate(VOICES):
        for t, step in (("statement", 5), ("question", 7)):
            pool = by_type[t]
            for j in range(PER_TYPE):
                s = pool[(i * step + j) % len(pool)]
                utt = f"{v.speaker}_{s['id']}"
                rows.append({"path": f"wav/{v.speaker}/{utt}.wav", "id": utt, "speaker": v.speaker,
                             "gender": v.gender, "transcript": s["text"], "speech_type": "synthetic",
                             "licence": LICENCE, "sentence_type": t, "accent": v.accent,
                             "voice": f"{v.accent}+{v.variant} -p {v.pitch} -s {v.rate}",
                             **{k: s[k] for k in TARGETS}})
    return rows


def _speak(espeak: str, root: Path, row: dict[str, str], voices: list[Voice]) -> None:
    voice = next(v for v in voices if v.speaker == row["speaker"])
    target = root / row["path"]
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([espeak, "-v", f"{voice.accent}+{voice.variant}", "-p", str(voice.pitch),
                    "-s", str(voice.rate), "-w", str(target), row["transcript"]],
                   check=True, capture_output=True)
