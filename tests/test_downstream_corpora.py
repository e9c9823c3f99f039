"""Downstream corpus readers on replicas of their layouts (real audio, real annotation files),
prepared for real, then written as task manifests with their official splits."""
from __future__ import annotations

import numpy as np

from manifests.corpora import read_allosat, read_common_voice, read_etape, read_recola
from manifests.fairseq_manifest import split_records, write_manifests
from manifests.prepare import prepare
from manifests.records import read_records
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
    summary = prepare(read_common_voice(root), tmp_path / "out", progress=False)
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
    summary = prepare(read_etape(tmp_path / "etape"), tmp_path / "out", progress=False)
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
    summary = prepare(read_recola(root), tmp_path / "out", progress=False)
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
    summary = prepare(read_allosat(root), tmp_path / "out", progress=False)
    records = {r.audio.split("/")[-1]: r for r in read_records(summary.records)}
    assert summary.kept == 2 and summary.reject_kinds == {"bad_metadata": 1}
    assert [r.labels["split"] for r in sorted(records.values(), key=lambda r: r.id)] == ["train", "test"]
    values = np.array(next(iter(records.values())).labels["satisfaction"].split(), dtype=float)
    assert len(values) == 32 and np.allclose(values[:5], [0, 0.1, 0.2, 0.3, 0.4])
