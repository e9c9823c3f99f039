"""Transcript formats the French corpora ship: Transcriber ``.trs``, Praat TextGrid, tables.

Parsers return plain data (times in seconds); the corpus readers decide what an
utterance is. Malformed files raise ``ValueError`` with the reason, which the readers turn
into a reject naming the file.
"""
from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

# --- Transcriber (.trs) -----------------------------------------------------------------

@dataclass(frozen=True)
class TrsSpeaker:
    id: str
    name: str
    type: str       # Transcriber's "type": male, female, child, unknown (free text in practice)
    attrs: dict[str, str]


@dataclass(frozen=True)
class TrsSegment:
    speakers: tuple[str, ...]   # empty for non-speech turns, several for overlapping speech
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Trs:
    audio_filename: str
    speakers: dict[str, TrsSpeaker]
    turns: list[TrsSegment]        # one per <Turn>
    syncs: list[TrsSegment]        # one per stretch between consecutive <Sync> marks


def parse_trs(path: str | Path) -> Trs:
    """Parse a Transcriber file (any declared encoding; the external DTD is not needed)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValueError(f"not a valid Transcriber XML file ({e})") from None
    if root.tag != "Trans":
        raise ValueError(f"root element is <{root.tag}>, expected <Trans>")
    speakers = {s.get("id", ""): TrsSpeaker(s.get("id", ""), s.get("name", ""),
                                            (s.get("type") or "unknown").strip().lower(),
                                            dict(s.attrib))
                for s in root.iter("Speaker")}
    turns, syncs = [], []
    for turn in root.iter("Turn"):
        who = tuple((turn.get("speaker") or "").split())
        t0, t1 = float(turn.get("startTime", 0)), float(turn.get("endTime", 0))
        marks: list[tuple[float, list[str]]] = [(t0, [])]
        for el in turn.iter():
            if el is turn:
                _add_text(marks[-1][1], el.text)
                continue
            if el.tag == "Sync":
                marks.append((float(el.get("time", t0)), []))
            _add_text(marks[-1][1], el.tail)
        if len(marks) > 1 and marks[1][0] == t0 and not marks[0][1]:
            marks.pop(0)  # the usual <Sync time=startTime/> right after <Turn>
        turns.append(TrsSegment(who, t0, t1, _join(w for _, ws in marks for w in ws)))
        for (a, words), (b, _) in zip(marks, marks[1:] + [(t1, [])]):
            syncs.append(TrsSegment(who, a, b, _join(words)))
    audio = root.get("audio_filename") or Path(path).stem
    return Trs(audio, speakers, turns, syncs)


def _add_text(words: list[str], text: str | None) -> None:
    if text and text.strip():
        words.append(text.strip())


def _join(parts) -> str:
    return " ".join(" ".join(parts).split())


def trs_gender(speaker: TrsSpeaker | None) -> str:
    """Transcriber's speaker type (male/female, or French homme/femme) to M/F/U."""
    t = speaker.type if speaker else ""
    return {"male": "M", "homme": "M", "m": "M", "female": "F", "femme": "F", "f": "F"}.get(t, "U")


# --- Praat TextGrid ---------------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    start: float
    end: float
    text: str


_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(<exists>|<absent>)')
_INDEX = re.compile(r"(?m)^\s*(?:item|intervals|points)\s*\[\s*\d+\s*\]\s*:")  # long format


def parse_textgrid(path: str | Path) -> dict[str, list[Interval]]:
    """Interval tiers of a TextGrid, long or short text format, UTF-8 or UTF-16 (Praat's).

    Point tiers are skipped (no duration). Tier names map to their intervals in file order.
    """
    raw = Path(path).read_bytes()
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8-sig")
    tokens = [t[0].replace('""', '"') if t[0] or (m.group(0) == '""') else (t[1] or t[2])
              for m in _TOKEN.finditer(_INDEX.sub("", text)) for t in [m.groups()]]
    try:
        if tokens[:2] != ["ooTextFile", "TextGrid"]:
            raise ValueError("no 'ooTextFile' / 'TextGrid' header")
        pos = 4  # header, xmin, xmax
        if tokens[pos] != "<exists>":
            return {}
        n_tiers, pos = int(tokens[pos + 1]), pos + 2
        tiers: dict[str, list[Interval]] = {}
        for _ in range(n_tiers):
            kind, name, n = tokens[pos], tokens[pos + 1], int(tokens[pos + 4])
            pos += 5
            if kind == "IntervalTier":
                tiers[name] = [Interval(float(tokens[pos + 3 * i]), float(tokens[pos + 3 * i + 1]),
                                        tokens[pos + 3 * i + 2]) for i in range(n)]
                pos += 3 * n
            else:  # TextTier: time, mark
                pos += 2 * n
        return tiers
    except (IndexError, ValueError) as e:
        raise ValueError(f"not a readable Praat TextGrid ({e})") from None


# --- tables -------------------------------------------------------------------------------

def read_table(path: str | Path, delimiter: str | None = None) -> list[dict[str, str]]:
    """Rows of a CSV/TSV file with a header line; the delimiter is sniffed when not given."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        sample = f.read(4096)
        f.seek(0)
        if delimiter is None:
            delimiter = "\t" if sample.count("\t") >= sample.count(",") else ","
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
                for row in csv.DictReader(f, delimiter=delimiter)]
