"""The seed table's columns for whatever was prepared, and a comparison with the seed.

Per corpus (and for the total of a composition): utterances, duration (H:MM), speakers,
each as total / male / female / unknown, the mean utterance duration, speech type and
licence. ``compare`` lists every figure that differs from the published one.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from lebench.manifests.corpora.common import UNKNOWN_SPEAKER
from lebench.manifests.records import Utterance

SEED_TABLE = Path(__file__).parent / "corpora" / "seed_table.tsv"
GENDERS = ("M", "F", "U")


@dataclass
class CorpusStats:
    corpus: str
    utterances: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GENDERS, 0))
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(GENDERS, 0.0))
    speakers: dict[str, set[str]] = field(default_factory=lambda: {g: set() for g in GENDERS})
    speech_types: set[str] = field(default_factory=set)
    licences: set[str] = field(default_factory=set)

    def add(self, u: Utterance) -> None:
        self.utterances[u.gender] += 1
        self.seconds[u.gender] += u.duration
        if u.speaker != UNKNOWN_SPEAKER:
            self.speakers[u.gender].add(f"{u.corpus}/{u.speaker}")
        self.speech_types.add(u.speech_type)
        self.licences.add(u.licence)

    def merge(self, other: "CorpusStats") -> None:
        for g in GENDERS:
            self.utterances[g] += other.utterances[g]
            self.seconds[g] += other.seconds[g]
            self.speakers[g] |= other.speakers[g]
        self.speech_types |= other.speech_types
        self.licences |= other.licences

    def figures(self) -> dict[str, object]:
        """Flat figures with the seed table's column names (``None`` where there is none)."""
        out: dict[str, object] = {"corpus": self.corpus}
        n_spk = sum(len(s) for s in self.speakers.values())
        for suffix, g in (("", None), ("_m", "M"), ("_f", "F"), ("_u", "U")):
            utts = sum(self.utterances.values()) if g is None else self.utterances[g]
            secs = sum(self.seconds.values()) if g is None else self.seconds[g]
            spk = n_spk if g is None else len(self.speakers[g])
            out[f"utterances{suffix}" if not suffix else f"utt{suffix}"] = utts or None
            out[f"duration{suffix}" if not suffix else f"dur{suffix}"] = secs if utts else None
            out[f"speakers{suffix}" if not suffix else f"spk{suffix}"] = spk or None
            out[f"mean_s{suffix}"] = secs / utts if utts else None
        out["speech_type"] = "/".join(sorted(self.speech_types))
        out["licence"] = "/".join(sorted(self.licences))
        return out


def collect(records: Iterable[Utterance]) -> dict[str, CorpusStats]:
    """Stream records into per-corpus statistics (one pass, speaker sets only)."""
    stats: dict[str, CorpusStats] = {}
    for u in records:
        stats.setdefault(u.corpus, CorpusStats(u.corpus)).add(u)
    return stats


def total(stats: dict[str, CorpusStats], name: str) -> CorpusStats:
    out = CorpusStats(name)
    for s in stats.values():
        out.merge(s)
    return out


def hmm(seconds: float | None) -> str:
    """Seconds as the seed table prints durations: H:MM (minutes rounded)."""
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    return f"{minutes // 60:,}:{minutes % 60:02d}"


def parse_hmm(text: str) -> float:
    h, m = text.replace(",", "").replace(" ", "").split(":")
    return int(h) * 3600 + int(m) * 60


def _num(v: object) -> str:
    return "-" if v is None else f"{v:,}"


def _triple(f: dict, key: str, short: str, fmt=_num) -> str:
    return f"{fmt(f[key])} ({fmt(f[short + '_m'])} / {fmt(f[short + '_f'])} / {fmt(f[short + '_u'])})"


def to_markdown(rows: list[dict[str, object]]) -> str:
    head = ("corpus", "utterances (M / F / U)", "duration H:MM (M / F / U)", "speakers (M / F / U)",
            "mean utt. s", "speech type", "licence")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in rows:
        mean = "-" if f["mean_s"] is None else f"{f['mean_s']:.1f}"
        lines.append("| " + " | ".join([
            str(f["corpus"]), _triple(f, "utterances", "utt"), _triple(f, "duration", "dur", hmm),
            _triple(f, "speakers", "spk"), mean, str(f["speech_type"]), str(f["licence"])]) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict[str, object]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for f in rows:
        writer.writerow({k: (f"{v:.3f}" if isinstance(v, float) else ("" if v is None else v))
                         for k, v in f.items()})
    return buf.getvalue()


def seed_figures() -> dict[str, dict[str, str]]:
    with open(SEED_TABLE, encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return {row["corpus"]: row for row in csv.DictReader(lines, delimiter="\t")}


COUNTS = ("utterances", "utt_m", "utt_f", "utt_u", "speakers", "spk_m", "spk_f", "spk_u")
DURATIONS = ("duration", "dur_m", "dur_f", "dur_u")


def compare(ours: dict[str, object], seed: dict[str, object]) -> list[str]:
    """Every published figure that differs from ours; durations agree within one minute.

    ``-`` in the seed is zero (or no speakers listed), ``Unk`` speakers are not compared.
    """
    name = ours["corpus"]
    diffs = []
    for key in COUNTS + DURATIONS:
        if key not in seed:
            continue
        raw = str(seed[key]).strip()
        if raw == "Unk":
            continue
        mine = ours.get(key) or 0
        if key in DURATIONS:
            theirs = 0.0 if raw in ("-", "") else parse_hmm(raw)
            if abs(mine - theirs) >= 60:
                diffs.append(f"{name} {key}: prepared {hmm(mine)}, seed {hmm(theirs) if theirs else '-'}")
        else:
            theirs = 0 if raw in ("-", "") else int(raw.replace(",", ""))
            if mine != theirs:
                diffs.append(f"{name} {key}: prepared {mine:,}, seed {theirs:,} ({mine - theirs:+,})")
    return diffs


def compare_with_seed(rows: list[dict[str, object]], composition=None) -> list[str]:
    """Every figure of ``rows`` that differs from the seed table (a composition's total row
    against its seed total); a corpus the seed does not list is said so."""
    seed = seed_figures()
    diffs = []
    for row in rows:
        if row["corpus"] in seed:
            diffs += compare(row, seed[row["corpus"]])
        elif composition and row["corpus"] == f"total {composition.name}":
            diffs += compare(row, composition.seed_total)
        else:
            diffs.append(f"{row['corpus']}: not in the seed table, not compared")
    return diffs


def report(records: Iterable[Utterance], composition: str | None = None) -> list[dict[str, object]]:
    """Rows per corpus (in order of appearance) and, for a composition, its total row."""
    stats = collect(records)
    rows = [s.figures() for s in stats.values()]
    if composition:
        rows.append(total(stats, f"total {composition}").figures())
    return rows
