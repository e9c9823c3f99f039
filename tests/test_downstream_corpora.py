"""Downstream corpus readers on replicas of their layouts (real audio, real annotation files),
prepared for real, then written as task manifests with their official splits."""
from __future__ import annotations

import numpy as np

from lebench.manifests.corpora import CORPORA
from lebench.manifests.fairseq_manifest import split_records, write_manifests
from lebench.manifests.prepare import prepare
from lebench.manifests.records import read_records
from tests import replicas


def test_common_voice_keeps_official_splits_and_transcripts(tmp_path):
    root = tmp_path / "cv" / "fr"
    header = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment\n"
    rows = {"train": [("a" * 40, "c1.mp3", "Bonjour à tous.", "male_masculine"),
                      ("b" * 40, "c2.mp3", "Il a 3 chats.", "female_feminine")],
            "dev": [("c" * 40, "c3.mp3", "Où est-il ?", "")],
            "test": [("d" * 40, "c4.mp3", "Merci.", "female"), ("d" * 40, "gone.mp3", "Rien.", "")]}
    for split, items in rows.items():
        replicas.text(root / f"{split}.tsv", header + "".join(
            f"{c}\t{p}\t{s}\t2\t0\t\t{g}\t\tfr\t\n" for c, p, s, g in items))
        for _, p, _, _ in items:
            if p != "gone.mp3":
                replicas.audio(root / "clips" / p, 1.5, rate=48_000)
    summary = prepare(CORPORA["common_voice"].read(root), tmp_path / "out", progress=False)
    assert summary.kept == 4 and summary.reject_kinds == {"missing_audio": 1}
    records = {r.id: r for r in read_records(summary.records)}
    assert {r.labels["split"] for r in records.values()} == {"train", "valid", "test"}
    assert records["c1"].gender == "M" and records["c2"].gender == "F" and records["c3"].gender == "U"
    assert records["c2"].transcript == "Il a 3 chats."
    splits = split_records(list(records.values()), {"train": 0, "valid": 0, "test": 0}, 0,
                           by="label:split")
    counts = write_manifests(splits, tmp_path / "asr", labels=("ltr",), progress=False)
    assert counts == {"train": 2, "valid": 1, "test": 1}
    assert "i l | a | t r o i s | c h a t s |" in (tmp_path / "asr" / "train.ltr").read_text()
    assert "t" in (tmp_path / "asr" / "dict.ltr.txt").read_text()


def test_etape_reads_turns_per_split(tmp_path):
    for split in ("train", "dev"):
        replicas.audio(tmp_path / "etape" / split / f"show_{split}.wav", 12.0)
        replicas._trs(tmp_path / "etape" / split / f"show_{split}.trs", f"show_{split}")
    summary = prepare(CORPORA["etape"].read(tmp_path / "etape"), tmp_path / "out", progress=False)
    records = list(read_records(summary.records))
    # per file: turns 1-5, 5-8, 10-12 kept and the overlapping 8-10 rejected (as portmedia)
    assert summary.kept == 6 and summary.reject_kinds == {"overlap": 2}
    assert sorted({r.labels["split"] for r in records}) == ["train", "valid"]


def _arff(name: str, values: np.ndarray) -> str:
    rows = "".join(f"'{name}',{0.04 * i:.2f},{v:.4f}\n" for i, v in enumerate(values))
    return ("@relation GOLDSTANDARD\n@attribute Instance_name string\n@attribute frameTime numeric\n"
            f"@attribute GoldStandard numeric\n@data\n{rows}")


def test_recola_windows_carry_the_gold_standard_at_25_hz(tmp_path):
    root = tmp_path / "recola"
    ramp = np.linspace(-0.5, 0.5, 1125)  # 45 s at 40 ms
    for name in ("train_1", "dev_1"):
        replicas.audio(root / "recordings_audio" / f"{name}.wav", 45.0, rate=44_100)
        replicas.text(root / "ratings_gold_standard" / "arousal" / f"{name}.arff", _arff(name, ramp))
        replicas.text(root / "ratings_gold_standard" / "valence" / f"{name}.arff", _arff(name, -ramp))
    summary = prepare(CORPORA["recola"].read(root), tmp_path / "out", progress=False)
    records = sorted(read_records(summary.records), key=lambda r: (r.labels["split"], r.id))
    assert summary.kept == 6  # 20 + 20 + 5 s per recording
    assert [r.duration for r in records[:3]] == [20.0, 20.0, 5.0]
    first = np.array(records[0].labels["arousal"].split(), dtype=float)
    assert len(first) == 500 and first[0] == -0.5
    assert np.allclose(first, ramp[:500], atol=1e-4)
    assert np.allclose(np.array(records[0].labels["valence"].split(), dtype=float), -first)
    splits = split_records(records, {}, 0, by="label:split")
    write_manifests(splits, tmp_path / "aer", labels=("arousal", "valence"), progress=False)
    lines = (tmp_path / "aer" / "train.arousal").read_text().splitlines()
    assert [len(line.split()) for line in lines] == [500, 500, 125]


def test_allosat_uses_its_split_lists_and_rejects_a_bad_annotation(tmp_path):
    root = tmp_path / "allosat"
    for name in ("conv1", "conv2", "conv3"):
        replicas.audio(root / "audio" / f"{name}.wav", 8.0, rate=8_000)
    table = "time;value\n" + "".join(f"{0.25 * i};{0.1 * (i % 5)}\n" for i in range(32))
    replicas.text(root / "annotations" / "conv1.csv", table)
    replicas.text(root / "annotations" / "conv2.csv", table.replace(";", ","))
    replicas.text(root / "annotations" / "conv3.csv", "when,what\n1,2\n")
    replicas.text(root / "train.txt", "conv1\n")
    replicas.text(root / "test.txt", "conv2\n")
    summary = prepare(CORPORA["allosat"].read(root), tmp_path / "out", progress=False)
    records = {r.audio.split("/")[-1]: r for r in read_records(summary.records)}
    assert summary.kept == 2 and summary.reject_kinds == {"bad_metadata": 1}
    assert [r.labels["split"] for r in sorted(records.values(), key=lambda r: r.id)] == ["train", "test"]
    values = np.array(next(iter(records.values())).labels["satisfaction"].split(), dtype=float)
    assert len(values) == 32 and np.allclose(values[:5], [0, 0.1, 0.2, 0.3, 0.4])


MEDIA_XML = """<?xml version="1.0" encoding="UTF-8"?>
<corpus>
 <dialogue id="1234">
  <turn id="1234_1" speaker="wizard" startTime="0.0" endTime="1.5">
   <semAnnotation withContext="false"><sem concept="null" specif="null" mode="+">
    <transcription>bonjour que puis-je faire</transcription></sem></semAnnotation>
  </turn>
  <turn id="1234_2" speaker="spk" startTime="1.5" endTime="4.0">
   <semAnnotation withContext="false">
    <sem concept="null" specif="null" mode="+"><transcription>euh je voudrais</transcription></sem>
    <sem concept="nombre-chambre" specif="null" mode="+"><transcription>deux chambres</transcription></sem>
    <sem concept="localisation-ville" specif="null" mode="+"><transcription>à (Paris) [b]</transcription></sem>
    <sem concept="temps-date" specif="-reservation" mode="+"><transcription>le 3 mai</transcription></sem>
   </semAnnotation>
   <semAnnotation withContext="true"><sem concept="ignored" specif="null" mode="+">
    <transcription>not this one</transcription></sem></semAnnotation>
  </turn>
  <turn id="1234_3" speaker="spk" startTime="4.0" endTime="5.5">
   <semAnnotation withContext="false"><sem concept="null" specif="null" mode="+">
    <transcription>*</transcription></sem></semAnnotation>
  </turn>
 </dialogue>
 <dialogue id="9999"><turn speaker="spk" startTime="0" endTime="1"/></dialogue>
</corpus>
"""


def test_media_reads_caller_turns_with_concepts_and_official_splits(tmp_path):
    root = tmp_path / "media"
    replicas.text(root / "E0024" / "MEDIA1FR_00" / "MEDIA1FR" / "DATA" / "media_testHC.xml", MEDIA_XML)
    replicas.audio(root / "S0272" / "BLOCK01" / "1234.wav", 6.0, rate=8_000, channels=2)
    items = list(CORPORA["media"].read(root))
    records = [r for r in items if not hasattr(r, "reason")]
    rejects = [r for r in items if hasattr(r, "reason")]
    assert len(records) == 1 and records[0].start == 1.5 and records[0].end == 4.0
    assert records[0].labels == {
        "concepts": "euh je voudrais <nombre-chambre> deux chambres > <localisation-ville> à Paris > "
                    "<temps-date-reservation> le 3 mai >", "split": "test"}
    assert records[0].transcript == "euh je voudrais deux chambres à Paris le 3 mai"
    assert sorted(r.reason.split(";")[0].split(" (")[0] for r in rejects) == [
        "caller turn without transcribed words", "no recording 9999.wav in the corpus folder"]
    relaxed = next(r for r in CORPORA["media"].read(root, relax=True) if not hasattr(r, "reason"))
    assert "<temps-date> le 3 mai >" in relaxed.labels["concepts"]
    summary = prepare(CORPORA["portmedia_slu"].read(root), tmp_path / "out", progress=False)
    assert summary.kept == 1 and next(read_records(summary.records)).corpus == "portmedia"


def test_mtedx_pairs_carry_translations_under_the_target_language(tmp_path):
    for pair in ("fr-en", "es-fr"):
        src, tgt = pair.split("-")
        for split in ("train", "test"):
            txt = tmp_path / "mtedx" / pair / "data" / split / "txt"
            talk = f"talk_{split}.flac"  # a talk belongs to one split
            replicas.audio(tmp_path / "mtedx" / pair / "data" / split / "wav" / talk, 8.0)
            replicas.text(txt / f"{split}.yaml",
                          f"- {{duration: 2.5, offset: 0.5, speaker_id: spk.1, wav: {talk}}}\n"
                          f"- {{duration: 3.0, offset: 4.0, speaker_id: spk.1, wav: {talk}}}\n"
                          "- {duration: 1.0, offset: 1.0, speaker_id: spk.2, wav: gone.flac}\n")
            replicas.text(txt / f"{split}.{src}", f"{src} un\n{src} deux\n{src} trois\n")
            replicas.text(txt / f"{split}.{tgt}", f"{tgt} one\n{tgt} two\n{tgt} three\n")
    summary = prepare(CORPORA["mtedx"].read(tmp_path / "mtedx"), tmp_path / "out", progress=False)
    assert summary.kept == 8 and summary.reject_kinds == {"missing_audio": 4}
    records = list(read_records(summary.records))
    fr_en = [r for r in records if r.corpus == "mtedx_fr-en"]
    assert {r.labels["split"] for r in fr_en} == {"train", "test"}
    first = next(r for r in fr_en if r.labels["split"] == "train" and r.transcript == "fr un")
    assert first.labels["en"] == "en one" and abs(first.duration - 2.5) < 0.01
    assert next(r for r in records if r.corpus == "mtedx_es-fr").labels["fr"].startswith("fr ")
    only = list(CORPORA["mtedx"].read(tmp_path / "mtedx" / "fr-en"))
    assert {r.corpus for r in only if not hasattr(r, "reason")} == {"mtedx_fr-en"}


ORFEO = """# sent_id = cfpp-1
# speaker = Blanche
# start = 0.50
# end = 2.00
1\tle\tle\tDET\t_\t_\t2\tdet\t_\t_
2\tchat\tchat\tNOUN\t_\t_\t3\tnsubj\t_\t_
3\tdort\tdormir\tVERB\t_\t_\t0\troot\t_\t_

# sent_id = cfpp-2
1-2\tdu\t_\t_\t_\t_\t_\t_\t_\t_
1\tde\tde\tADP\t_\t_\t3\tcase\t_\tAlignBegin=2500|AlignEnd=2600
2\tle\tle\tDET\t_\t_\t3\tdet\t_\t_
3\tpain\tpain\tNOUN\t_\t_\t0\troot\t_\tAlignBegin=2800|AlignEnd=4100

# sent_id = cfpp-3
1\tsans\tsans\tADP\t_\t_\t0\troot\t_\t_
"""


def test_orfeo_conllu_becomes_one_line_trees_over_syntactic_words(tmp_path):
    root = tmp_path / "orfeo" / "test"
    replicas.text(root / "cfpp.conllu", ORFEO)
    replicas.audio(root / "cfpp.wav", 5.0)
    replicas.text(root / "alone.conllu", "1\tx\tx\tX\t_\t_\t0\troot\t_\t_\n")
    items = list(CORPORA["orfeo"].read(tmp_path / "orfeo"))
    records = [r for r in items if not hasattr(r, "reason")]
    assert [r.labels["tree"] for r in records] == ["le/2/det chat/3/nsubj dort/0/root",
                                                   "de/3/case le/3/det pain/0/root"]
    assert [(r.start, r.end) for r in records] == [(0.5, 2.0), (2.5, 4.1)]
    assert records[0].speaker == "Blanche" and records[1].speaker == "cfpp"
    assert {r.labels["split"] for r in records} == {"test"} and records[1].transcript == "de le pain"
    reasons = sorted(r.reason for r in items if hasattr(r, "reason"))
    assert len(reasons) == 2 and "no recording named alone" in reasons[1]
    assert "missing head or times" in reasons[0]
