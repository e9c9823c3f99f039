"""Small replicas of each corpus as distributed: real audio, real transcript formats.

Each builder writes a few utterances under ``root`` and returns what preparing it must
give: kept utterances, their genders, distinct speakers, total seconds, and reject kinds.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".mp3": ("MP3", "MPEG_LAYER_III"),
           ".ogg": ("OGG", "VORBIS"), ".opus": ("OGG", "OPUS"), ".sph": ("NIST", "PCM_16")}


@dataclass
class Expected:
    kept: int
    genders: dict[str, int]
    speakers: int
    seconds: float
    rejects: dict[str, int] = field(default_factory=dict)
    transcripts: set[str] = field(default_factory=set)


def audio(path: Path, seconds: float | list[tuple[float, bool]], rate: int = 16_000,
          channels: int = 1) -> Path:
    """A tone (or a sequence of tone / silence stretches) in the format of the suffix."""
    parts = [(seconds, True)] if isinstance(seconds, (int, float)) else seconds
    rng = np.random.default_rng(len(str(path)))
    chunks = []
    for dur, voiced in parts:
        t = np.arange(int(rate * dur)) / rate
        chunks.append((0.3 * np.sin(2 * np.pi * 180 * t) if voiced else 0 * t)
                      + 0.002 * rng.standard_normal(t.size))
    wav = np.concatenate(chunks)
    if channels > 1:
        wav = np.stack([wav] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt, subtype = FORMATS[path.suffix]
    sf.write(str(path), wav, rate, format=fmt, subtype=subtype)
    return path


def text(path: Path, content: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode(encoding))
    return path


def mls_french(root: Path) -> Expected:
    text(root / "metainfo.txt", "SPEAKER   |   GENDER   | PARTITION  |  MINUTES   |  BOOK ID   |  TITLE  |  CHAPTER\n"
         "  1840     |     M      |   train    |   5.2      |   1001     | Les Misérables | I\n"
         "  2506     |     F      |   dev      |   3.1      |   77       | Candide | II\n")
    for split, uid in (("train", "1840_1001_000001"), ("train", "1840_1001_000002"),
                       ("train", "2506_77_000003"), ("dev", "2506_77_000010")):
        s, b, _ = uid.split("_")
        audio(root / split / "audio" / s / b / f"{uid}.flac", 2.0)
    text(root / "train" / "transcripts.txt", "1840_1001_000001\til était une fois\n"
         "1840_1001_000002\tun roi\n2506_77_000003\tcandide\n")
    text(root / "dev" / "transcripts.txt", "2506_77_000010\tpangloss\n")
    text(root / "test" / "transcripts.txt", "2506_77_000099\tperdu\n")  # audio missing
    return Expected(4, {"M": 2, "F": 2}, 2, 8.0, {"missing_audio": 1},
                    {"il était une fois", "un roi", "candide", "pangloss"})


def epac(root: Path) -> Expected:
    audio(root / "audio" / "20040112_franceinter.sph", 12.0)
    text(root / "trans" / "20040112_franceinter.xml", """<?xml version="1.0" encoding="UTF-8"?>
<transcription audio="20040112_franceinter.sph">
  <speakers><speaker id="S1" name="Nicolas_Demorand" gender="male"/>
            <speaker id="S2" name="Journaliste_F" gender="female"/></speakers>
  <segment start="0.00" end="3.50" speaker="S1">bonjour à tous</segment>
  <segment start="3.50" end="6.00" speaker="S2">merci nicolas</segment>
  <segment start="5.00" end="7.00" speaker="S2">doublon du découpage</segment>
  <segment start="7.00" end="11.00" speaker="S1">le journal</segment>
</transcription>""")
    text(root / "trans" / "lost.xml", '<transcription audio="lost.sph"><segment start="0" end="2" '
         'speaker="S1">rien</segment></transcription>')
    return Expected(3, {"M": 2, "F": 1}, 2, 10.0, {"overlap": 1, "missing_audio": 1},
                    {"bonjour à tous", "merci nicolas", "le journal"})


def african_accented_french(root: Path) -> Expected:
    audio(root / "speech" / "train" / "yaounde" / "yaounde_m_01" / "a1.wav", 2.0, rate=22_050)
    audio(root / "speech" / "train" / "yaounde" / "yaounde_f_02" / "b1.wav", 1.5, rate=22_050)
    audio(root / "speech" / "test" / "ca16" / "gabon_17" / "c1.wav", 3.0)
    text(root / "transcripts" / "train" / "yaounde" / "prompts.txt", "a1 bonjour yaoundé\n")
    return Expected(3, {"M": 1, "F": 1, "U": 1}, 3, 6.5, {}, {"bonjour yaoundé"})


def att_hack(root: Path) -> Expected:
    audio(root / "wav" / "F01_friendly_s01.wav", 2.0, rate=44_100)
    audio(root / "wav" / "M02_distant_s01.wav", 2.5, rate=44_100)
    audio(root / "wav" / "X03_unknown.wav", 2.0)
    wav = audio(root / "wav" / "F04_truncated.wav", 2.0)
    wav.write_bytes(wav.read_bytes()[:20_000])
    text(root / "wav" / "M05_empty.wav", "")
    return Expected(2, {"F": 1, "M": 1}, 2, 4.5,
                    {"unknown_gender": 1, "truncated": 1, "empty": 1})


def cafe(root: Path) -> Expected:
    audio(root / "Colère" / "Faible" / "01-C-1-1.wav", 2.0, rate=48_000)
    audio(root / "Joie" / "Fort" / "02-J-2-3.wav", 3.0, rate=48_000)
    audio(root / "Joie" / "Fort" / "notes.wav", 3.0)
    return Expected(2, {"M": 1, "F": 1}, 2, 5.0, {"bad_metadata": 1})


TRS = """<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE Trans SYSTEM "trans-14.dtd">
<Trans audio_filename="{stem}" scribe="test" version="1">
<Speakers>
<Speaker id="spk1" name="{name1}" check="no" type="male" dialect="native" accent="" scope="local"/>
<Speaker id="spk2" name="{name2}" check="no" type="{type2}" dialect="native" accent="" scope="local"/>
</Speakers>
<Episode>
<Section type="report" startTime="0" endTime="12">
<Turn startTime="0" endTime="1">
<Sync time="0"/>
</Turn>
<Turn speaker="spk1" startTime="1" endTime="5">
<Sync time="1"/>
alors euh vous êtes née à Paris
<Sync time="3"/>
oui <Event desc="rire" type="noise" extent="instantaneous"/> c'est ça
</Turn>
<Turn speaker="spk2" startTime="5" endTime="8">
<Sync time="5"/>
dans le quatorzième
</Turn>
<Turn speaker="spk1 spk2" startTime="8" endTime="10">
<Sync time="8"/>
<Who nb="1"/> ah bon <Who nb="2"/> oui
</Turn>
<Turn speaker="spk2" startTime="10" endTime="12">
<Sync time="10"/>
voilà
</Turn>
</Section>
</Episode>
</Trans>
"""


def _trs(path: Path, stem: str, name1="Locuteur_A", name2="Locuteuse_B", type2="female") -> None:
    text(path, TRS.format(stem=stem, name1=name1, name2=name2, type2=type2), "iso-8859-1")


def cfpp2000(root: Path) -> Expected:
    audio(root / "Anita_MUSSO_F_80_11e.mp3", 12.0, rate=44_100, channels=2)
    _trs(root / "Anita_MUSSO_F_80_11e.trs", "Anita_MUSSO_F_80_11e")
    return Expected(4, {"M": 2, "F": 2}, 2, 9.0, {"overlap": 1},
                    {"alors euh vous êtes née à Paris", "oui c'est ça", "dans le quatorzième", "voilà"})


def eslo2(root: Path) -> Expected:
    audio(root / "ESLO2_ENT_1001" / "ESLO2_ENT_1001_C.wav", 12.0, rate=44_100)
    _trs(root / "ESLO2_ENT_1001" / "ESLO2_ENT_1001_C.trs", "ESLO2_ENT_1001_C", type2="unknown")
    text(root / "ESLO2_ENT_1002" / "ESLO2_ENT_1002_C.trs", "<Trans><Turn")  # corrupt
    return Expected(4, {"M": 2, "U": 2}, 2, 9.0, {"overlap": 1, "bad_metadata": 1})


def portmedia(root: Path) -> Expected:
    audio(root / "wav" / "pm_call_001.wav", 12.0, rate=8_000)
    _trs(root / "trs" / "pm_call_001.trs", "pm_call_001", name1="caller", name2="agent")
    # turn level: 1-5 (spk1), 5-8 and 10-12 (spk2); 10-12 is 2 s
    return Expected(3, {"M": 1, "F": 2}, 2, 9.0, {"overlap": 1})


def tcof(root: Path) -> Expected:
    audio(root / "Adultes" / "boulangerie_and_12" / "boulangerie_and_12.wav", 12.0)
    _trs(root / "Adultes" / "boulangerie_and_12" / "boulangerie_and_12.trs", "boulangerie_and_12")
    audio(root / "Enfants" / "jeux_ki_05" / "jeux_ki_05.wav", 12.0)
    _trs(root / "Enfants" / "jeux_ki_05" / "jeux_ki_05.trs", "jeux_ki_05", type2="child")
    return Expected(4, {"M": 2, "F": 2}, 2, 9.0, {"overlap": 1, "excluded": 1})


def gemep(root: Path) -> Expected:
    audio(root / "W01ang_Pet.wav", 2.0, rate=44_100)
    audio(root / "W02joy_Pet.wav", 1.5, rate=44_100)
    audio(root / "readme.wav", 1.5)
    text(root / "actors.csv", "actor,gender\nW01,M\nW02,F\n")
    return Expected(2, {"M": 1, "F": 1}, 2, 3.5, {"bad_metadata": 1})


TEXTGRID_LONG = """File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 10
tiers? <exists>
size = 3
item []:
    item [1]:
        class = "IntervalTier"
        name = "ABD"
        xmin = 0
        xmax = 10
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 2
            text = "(rire) wesh <bruit> ça va"
        intervals [2]:
            xmin = 2
            xmax = 4
            text = ""
        intervals [3]:
            xmin = 4
            xmax = 6.5
            text = "on y va"
    item [2]:
        class = "IntervalTier"
        name = "comment"
        xmin = 0
        xmax = 10
        intervals: size = 1
        intervals [1]:
            xmin = 0
            xmax = 10
            text = "bruit de rue"
    item [3]:
        class = "IntervalTier"
        name = "KAR"
        xmin = 0
        xmax = 10
        intervals: size = 2
        intervals [1]:
            xmin = 6.5
            xmax = 9
            text = "grave"
        intervals [2]:
            xmin = 9
            xmax = 9.5
            text = "(rire)"
"""


def mpf(root: Path) -> Expected:
    audio(root / "Abdel_Kar" / "Abdel_Kar.wav", 10.0, rate=44_100)
    text(root / "Abdel_Kar" / "Abdel_Kar.TextGrid", TEXTGRID_LONG)
    text(root / "speakers.csv", "speaker,gender\nABD,M\n")
    return Expected(3, {"M": 2, "U": 1}, 2, 7.0, {}, {"wesh ça va", "on y va", "grave"})


def nccf(root: Path) -> Expected:
    audio(root / "rec01" / "rec01.wav", 6.0)
    short = ('"ooTextFile"\n"TextGrid"\n0\n6\n<exists>\n2\n"IntervalTier"\n"S01"\n0\n6\n2\n'
             '0\n2.5\n"ben ouais"\n2.5\n6\n""\n"IntervalTier"\n"S02"\n0\n6\n1\n2.5\n5\n"non"\n')
    text(root / "rec01" / "rec01.TextGrid", "\ufeff" + short, "utf-16-le")
    text(root / "rec02" / "rec02.TextGrid", short)  # its audio is missing
    text(root / "speakers.csv", "speaker,gender\nS01,F\nS02,M\n")
    return Expected(2, {"F": 1, "M": 1}, 2, 5.0, {"missing_audio": 1})


def mass(root: Path) -> Expected:
    audio(root / "french" / "B01___01_Matthew_____FRNTLSN2DA_verse_001.wav", 6.0, rate=22_050)
    audio(root / "french" / "B01___01_Matthew_____FRNTLSN2DA_verse_002.wav", 4.0, rate=22_050)
    text(root / "french" / "B01___01_Matthew_____FRNTLSN2DA_verse_001.txt", "Généalogie de Jésus-Christ\n")
    return Expected(2, {"M": 2}, 0, 10.0, {}, {"Généalogie de Jésus-Christ"})


def voxpopuli_unlabelled(root: Path) -> Expected:
    audio(root / "2018" / "20180110-0900-PLENARY-fr_0.ogg", 8.0)
    # 38 s: cut once, in the silence at 25-26 s (the quietest point of the 15-30 s window)
    audio(root / "2019" / "20190212-0900-PLENARY-fr_3.ogg",
          [(12, True), (1, False), (12, True), (1, False), (12, True)])
    return Expected(3, {"U": 3}, 0, 46.0)


def voxpopuli_transcribed(root: Path) -> Expected:
    audio(root / "2020" / "20200113-0900-PLENARY-fr_20200113-19:39:46_4.ogg", 5.0)
    audio(root / "2020" / "20200113-0900-PLENARY-fr_20200113-19:40:10_5.ogg", 4.0)
    text(root / "asr_train.tsv",
         "id\traw_text\tnormalized_text\tspeaker_id\tsplit\tgender\tis_gold_transcript\taccent\n"
         "20200113-0900-PLENARY-fr_20200113-19:39:46_4\tMerci.\tmerci\t124737\ttrain\tmale\tTrue\tNone\n"
         "20200113-0900-PLENARY-fr_20200113-19:40:10_5\tBien.\tbien\t96912\ttrain\tfemale\tTrue\tNone\n"
         "20200113-0900-PLENARY-fr_20200113-19:41:00_6\tAbsent.\tabsent\t96912\ttrain\tfemale\tTrue\tNone\n")
    return Expected(2, {"M": 1, "F": 1}, 2, 9.0, {"missing_audio": 1}, {"merci", "bien"})


def audiocite(root: Path) -> Expected:
    audio(root / "lecteur_12" / "candide" / "chapitre_01.mp3", 20.0, rate=44_100, channels=2)
    audio(root / "lectrice_7" / "nana" / "chapitre_01.flac", 10.0, rate=44_100)
    text(root / "speakers.csv", "speaker,gender\nlecteur_12,M\nlectrice_7,F\n")
    return Expected(2, {"M": 1, "F": 1}, 2, 30.0)


def niger_mali(root: Path) -> Expected:
    audio(root / "studio_kalangou" / "spk_0042" / "emission_0001.wav", 8.0, rate=44_100)
    audio(root / "studio_tamani" / "spk_0100" / "emission_0002.wav", 6.0)
    text(root / "speakers.csv", "speaker,gender\nspk_0042,F\nspk_0100,M\n")
    return Expected(2, {"F": 1, "M": 1}, 2, 14.0)


BUILDERS = {f.__name__: f for f in (
    mls_french, epac, african_accented_french, att_hack, cafe, cfpp2000, eslo2, gemep, mpf,
    portmedia, tcof, mass, nccf, voxpopuli_unlabelled, voxpopuli_transcribed, audiocite,
    niger_mali)}


def kinds(rejects_tsv: Path) -> dict[str, int]:
    lines = rejects_tsv.read_text(encoding="utf-8").splitlines()[1:]
    return dict(Counter(line.split("\t")[1] for line in lines))
