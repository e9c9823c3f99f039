"""Build the embedded demo corpus offline with Debian's espeak-ng.

It is laid out like a lab's own corpus (see ``manifests.corpora.generic``): WAV files as the
synthesiser writes them (22.05 kHz mono, so preparation really resamples) and a
``metadata.csv`` with speaker, gender, transcript, speech type, licence, the corpus's own
``split`` and the labels the downstream tasks train on: ``sentence_type``, ``accent`` (fr,
fr-be, fr-ch), and for every sentence its translations ``en``, ``es``, ``pt``, its
``concepts`` (MEDIA-style tags, see ``downstream/slu.py``) and its dependency ``tree``
(``form/head/relation``, Universal Dependencies relations, no punctuation since speech has
none). The sentences, translations, concept spans and trees were written by hand for this
project, sentence by sentence (not machine output); ``tests/test_demo_targets.py`` checks
that their words are the sentences' words and that every tree is a tree.

Generalisation is what the demo measures, so the corpus comes with its split, like Common
Voice: speakers *and sentences* of valid and test are never heard in training.

- 84 declarative sentences (``sentences.tsv``): 48 for training, 12 for valid, 24 for test.
- 16 speakers (8 male, 8 female), each an espeak-ng voice variant with its own pitch and
  rate: 10 train (5 + 5), 2 valid (1 + 1), 4 test (2 + 2), the valid and test voices on
  variants no training voice uses where espeak-ng has enough of them.
- Each speaker reads 24 utterances of its split's sentences, half as statements (``.``,
  falling intonation) and half as questions (``?``, rising intonation) with the very same
  words: the ``sentence_type`` stand-in for categorical emotion can only be told from
  intonation. Train speakers read 24 of the 48 training sentences; valid and test
  speakers read every sentence of their pool, valid ones each sentence both ways.
  384 utterances, about a quarter of an hour of speech.

The targets of a question follow its punctuation: ``?`` ends the French text, the concept
line and the translations (``¿...?`` in Spanish); trees have no punctuation.

For speech translation into French (mTEDx's es-fr direction), ``es_fr/`` holds a small
corpus of its own in the same layout and with the same split of sentences: 4 Spanish voices
(2 train, 1 valid, 1 test) read the Spanish translations, with the French sentence as label
``fr``. It is a separate folder so that nothing French (pretraining, ASR...) ever reads it.
"""
from __future__ import annotations

import csv
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lebench.core.errors import UserError
from lebench.core.files import staged

SENTENCES = Path(__file__).with_name("sentences.tsv")
LICENCE = "CC0-1.0"
PER_SPEAKER = 24  # utterances per speaker, half statements, half questions
TARGETS = ("en", "es", "pt", "concepts", "tree")  # per-sentence annotations of sentences.tsv
SPLITS = ("train", "valid", "test")
METADATA_FIELDS = ["path", "id", "speaker", "gender", "transcript", "speech_type", "licence",
                   "split", "sentence", "sentence_type", "accent", "voice", *TARGETS]
SPANISH = "es_fr"  # subfolder: Spanish speech, French targets
SPANISH_FIELDS = ["path", "id", "speaker", "gender", "transcript", "speech_type", "licence",
                  "split", "sentence", "sentence_type", "accent", "voice", "fr"]


@dataclass(frozen=True)
class Voice:
    speaker: str
    gender: str
    accent: str    # espeak-ng language: fr, fr-be, fr-ch
    variant: str   # espeak-ng voice variant: m1..m7, f1..f5
    pitch: int     # espeak-ng -p (0-99)
    rate: int      # espeak-ng -s (words per minute)
    split: str     # the split whose sentences this speaker reads


VOICES = [
    Voice("s01", "M", "fr", "m1", 45, 165, "train"), Voice("s02", "M", "fr", "m2", 55, 175, "train"),
    Voice("s03", "M", "fr-be", "m3", 50, 160, "train"), Voice("s04", "M", "fr-ch", "m4", 40, 180, "train"),
    Voice("s05", "M", "fr", "m5", 50, 170, "test"), Voice("s06", "M", "fr-be", "m6", 60, 155, "test"),
    Voice("s07", "M", "fr-ch", "m7", 45, 175, "valid"), Voice("s08", "M", "fr", "m3", 35, 185, "train"),
    Voice("s09", "F", "fr", "f1", 50, 170, "train"), Voice("s10", "F", "fr", "f2", 60, 160, "train"),
    Voice("s11", "F", "fr-be", "f3", 45, 175, "test"), Voice("s12", "F", "fr-ch", "f4", 55, 165, "train"),
    Voice("s13", "F", "fr", "f5", 50, 180, "test"), Voice("s14", "F", "fr-be", "f1", 65, 160, "train"),
    Voice("s15", "F", "fr-ch", "f2", 40, 170, "valid"), Voice("s16", "F", "fr", "f4", 55, 185, "train"),
]
SPANISH_VOICES = [
    Voice("e01", "M", "es", "m1", 45, 160, "train"), Voice("e02", "F", "es", "f2", 55, 165, "train"),
    Voice("e03", "M", "es", "m4", 50, 170, "valid"), Voice("e04", "F", "es", "f4", 60, 160, "test"),
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
    with staged(out_dir, directory=True) as tmp:
        _synthesise(espeak, tmp)
    return out_dir


def _synthesise(espeak: str, tmp: Path) -> None:
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
        f"utterances: {len(rows)}; licence: {LICENCE}.\nThe split column is the corpus's own: "
        "valid and test speakers read sentences no training speaker reads.\n"
        f"{SPANISH}/: {len(SPANISH_VOICES)} Spanish voices read the sentences' Spanish "
        f"translations ({len(spanish)} utterances).\n", encoding="utf-8")


def sentences(split: str | None = None) -> list[dict[str, str]]:
    """The rows of ``sentences.tsv`` (of one split), as statements."""
    with open(SENTENCES, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r for r in rows if split is None or r["split"] == split]


def as_question(sentence: dict[str, str]) -> dict[str, str]:
    """The same words asked: ``?`` instead of the final ``.`` (Spanish opens with ``¿``)."""
    def ask(text: str, spaced: bool) -> str:
        return text.rstrip().removesuffix(".").rstrip() + (" ?" if spaced else "?")
    return {**sentence, "text": ask(sentence["text"], True), "concepts": ask(sentence["concepts"], True),
            "en": ask(sentence["en"], False), "pt": ask(sentence["pt"], False),
            "es": "¿" + ask(sentence["es"], False)}


def readings(voices: list[Voice], per_speaker: int) -> list[tuple[Voice, dict[str, str], bool]]:
    """Who says what, ``(voice, sentence, asked as a question)``: each voice reads sentences of
    its own split only. A pool at least ``per_speaker`` long is shared out in blocks of
    ``per_speaker``, the voices on one block alternating which sentences they ask; a smaller
    pool is read whole, every sentence both ways."""
    out = []
    for split in SPLITS:
        pool = sentences(split)
        for k, voice in enumerate(v for v in voices if v.split == split):
            if len(pool) >= per_speaker:
                blocks = len(pool) // per_speaker
                start, turn = (k % blocks) * per_speaker, k // blocks
                out += [(voice, pool[start + j], (j + turn) % 2 == 1) for j in range(per_speaker)]
            else:
                out += [(voice, s, asked) for s in pool for asked in (False, True)]
    return out


def _row(voice: Voice, sentence: dict[str, str], asked: bool, transcript: str) -> dict[str, str]:
    said = as_question(sentence) if asked else sentence
    utt = f"{voice.speaker}_{sentence['id']}_{'q' if asked else 's'}"
    return {"path": f"wav/{voice.speaker}/{utt}.wav", "id": utt, "speaker": voice.speaker,
            "gender": voice.gender, "transcript": said[transcript], "speech_type": "synthetic",
            "licence": LICENCE, "split": voice.split, "sentence": sentence["id"],
            "sentence_type": "question" if asked else "statement", "accent": voice.accent,
            "voice": f"{voice.accent}+{voice.variant} -p {voice.pitch} -s {voice.rate}",
            **{k: said[k] for k in TARGETS}, "fr": said["text"]}


def _script() -> list[dict[str, str]]:
    return [_row(v, s, asked, "text") for v, s, asked in readings(VOICES, PER_SPEAKER)]


def _spanish_script() -> list[dict[str, str]]:
    """The Spanish voices read every sentence of their split, the training ones half of them
    as questions each (48 per voice), the others both ways."""
    return [_row(v, s, asked, "es") for v, s, asked in readings(SPANISH_VOICES, 2 * PER_SPEAKER)]


def _speak(espeak: str, root: Path, row: dict[str, str], voices: list[Voice]) -> None:
    voice = next(v for v in voices if v.speaker == row["speaker"])
    target = root / row["path"]
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([espeak, "-v", f"{voice.accent}+{voice.variant}", "-p", str(voice.pitch),
                    "-s", str(voice.rate), "-w", str(target), row["transcript"]],
                   check=True, capture_output=True)
