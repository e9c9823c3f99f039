"""One utterance record for every corpus, stored as JSON Lines (streams, validates on load)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from lebench.core.errors import UserError
from lebench.core.files import staged

GENDERS = ("M", "F", "U")  # male, female, unknown
SPEECH_TYPES = ("read", "spontaneous", "broadcast", "acted_emotional",
                "telephone_dialogue", "professional", "synthetic")


@dataclass(frozen=True)
class Utterance:
    id: str
    audio: str                      # path of the audio file
    duration: float                 # seconds
    speaker: str
    gender: str                     # one of GENDERS
    speech_type: str                # one of SPEECH_TYPES
    corpus: str
    licence: str
    start: float | None = None      # set when the utterance is a segment of a longer recording
    end: float | None = None
    transcript: str | None = None
    labels: dict[str, str] = field(default_factory=dict)  # corpus-specific labels

    def validate(self) -> None:
        problems = []
        if not self.id or "\t" in self.id or "/" in self.id:
            problems.append(f"id {self.id!r} must be non-empty, without tabs or slashes")
        if self.gender not in GENDERS:
            problems.append(f"gender {self.gender!r} is not one of {'/'.join(GENDERS)}")
        if self.speech_type not in SPEECH_TYPES:
            problems.append(f"speech_type {self.speech_type!r} is not one of {', '.join(SPEECH_TYPES)}")
        if not self.duration > 0:
            problems.append(f"duration {self.duration} must be positive")
        if (self.start is None) != (self.end is None):
            problems.append("start and end must be given together")
        elif self.start is not None and not 0 <= self.start < self.end:
            problems.append(f"segment {self.start}-{self.end} is empty or negative")
        if problems:
            raise ValueError("; ".join(problems))


def write_records(path: str | Path, records: Iterable[Utterance]) -> int:
    """Write records atomically (a partial file never replaces a complete one)."""
    n = 0
    with staged(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            r.validate()
            f.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
            n += 1
    return n


def read_records(path: str | Path) -> Iterator[Utterance]:
    """Stream records, failing on the first invalid line with its number."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: records file not found; run `lebench prepare` first")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = Utterance(**json.loads(line))
                r.validate()
            except (ValueError, TypeError) as e:
                raise UserError(f"{path}:{lineno}: invalid utterance record ({e}); "
                                "re-run `lebench prepare` to rewrite it") from None
            yield r
