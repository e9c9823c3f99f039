"""The downstream suite for real: fairseq-hydra-train on the demo corpus, every task and mode,
from audio to report rows scored from predictions on disk; run identity and re-runs; the
feature cache, the upstream kinds, the protocol, prediction."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jiwer
import numpy as np
import pytest
import torch

from lebench.core.errors import UserError
from lebench.downstream import cache as feature_cache
from lebench.downstream.results import read_results, table, write_report
from lebench.downstream.run import features_for, predict, run, run_folder, train
from lebench.downstream.scoring import read_predictions, rescore
from lebench.downstream.suite import DEMO_TASKS, SEQ2SEQ_TASKS, prepare_demo_tasks, run_suite
from lebench.downstream.trials import make_trials
from lebench.downstream.upstreams.fairseq_checkpoint import Wav2Vec2Upstream
from lebench.downstream.upstreams.huggingface import HFUpstream
from lebench.downstream.upstreams.spec import fingerprint_of, load_upstream
from lebench.manifests.text import normalise
from lebench.pretrain.hidden_states import hidden_states

SHORT = ["optimization.max_update=30", "optimization.max_epoch=3",
         "dataset.validate_interval_updates=15"]


@pytest.fixture(scope="module")
def tasks_data(demo_records, tmp_path_factory) -> Path:
    return prepare_demo_tasks(demo_records, tmp_path_factory.mktemp("tasks"))


@pytest.fixture(scope="module")
def suite(tasks_data, demo_checkpoint, tmp_path_factory):
    """The part-1 suite (every task but the sequence-to-sequence ones, which
    test_downstream_seq2seq.py runs), short schedules, demo upstream and MFB, with the cache;
    two trainings at a time, as the demo runs them (the second run goes one at a time)."""
    out = tmp_path_factory.mktemp("suite")
    store = out / "results.jsonl"
    results = run_suite(tasks_data, {"demo": str(demo_checkpoint), "MFB": "mfb"}, out / "runs",
                        store, tasks=[t for t in DEMO_TASKS if t not in SEQ2SEQ_TASKS],
                        cache=out / "cache", extra_overrides=SHORT, jobs=2)
    return out, store, results


def test_every_task_and_mode_reaches_the_report(suite, tasks_data, tmp_path):
    out, store, results = suite
    test = {(r.task, r.upstream, r.mode, r.metric): r for r in results if r.split == "test"}
    expected = {
        ("gender", "accuracy"), ("gender", "uar"), ("sentence_type", "accuracy"),
        ("sentence_type", "uar"), ("asr", "wer"), ("asr", "cer"), ("aer", "ccc loudness"),
        ("aer", "rmse loudness"), ("asv", "eer"), ("asv", "mindcf")}
    for upstream in ("demo", "MFB"):
        assert {(t, m) for t, u, mode, m in test if u == upstream and mode == "frozen"} == expected
    assert {m for t, u, mode, m in test if mode == "finetune"} == {"wer", "cer"}
    assert {(t, u) for t, u, mode, m in test if u == "demo+asr"} == {("gender", "demo+asr"),
                                                                     ("sentence_type", "demo+asr")}
    for r in results:
        assert np.isfinite(r.value), r
        assert r.low <= r.value + 1e-9 and r.value <= r.high + 1e-9, r
        assert r.config["upstream_fingerprint"] and r.config["lr"] > 0 and r.git_revision
    # counts: 96 test utterances of 4 unseen speakers; the trials of those speakers
    assert test["gender", "demo", "frozen", "accuracy"].utterances == 96
    trials = (tasks_data / "asv" / "test.trials").read_text().splitlines()
    assert test["asv", "MFB", "frozen", "eer"].utterances == len(trials)
    # every score was computed from the predictions file next to its checkpoint
    for r in results:
        predictions = Path(r.config["predictions"])
        assert predictions.parent == Path(r.config["checkpoint"]).parent
        scores = rescore(predictions).scores
        assert {s.column: (s.value, s.low, s.high) for s in scores}[r.metric] == (r.value, r.low, r.high)
        expected = {("asv", "test"): "speaker pairs (4 target, 6 non-target)",
                    ("asv", "valid"): "speakers (12)"}.get((r.task, r.split))
        assert r.resampling == (expected or f"speakers ({4 if r.split == 'test' else 2})"), r
    header, rows = table(read_results(store))
    assert [r[0] for r in rows] == ["demo", "MFB", "demo (finetune)", "demo+asr"]
    assert "asr wer (%)" in header and "aer ccc loudness" in header
    paths = write_report(read_results(store), tmp_path / "report")
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    assert r"\begin{tabular}" in paths["tex"].read_text() and "$\\pm$" not in paths["tex"].read_text()
    assert paths["csv"].read_text().splitlines()[0].startswith("upstream,")


def test_layer_weights_train_on_cached_features_and_the_upstream_is_not_saved(suite):
    _, _, results = suite
    r = next(r for r in results if r.task == "gender" and r.upstream == "demo")
    assert r.config["features"] and len(r.config["layer_weights"]) == 3
    state = torch.load(r.config["checkpoint"], weights_only=False)
    weights = state["model"]["featurizer.weights"]
    assert not torch.allclose(weights, torch.zeros(3))  # it learnt
    assert not any(k.startswith("upstream.") for k in state["model"])  # frozen: head only
    assert len(state["model"]["upstream_sha256"]) == 32  # but the hash of what it was trained on
    finetuned = next(r for r in results if r.mode == "finetune")
    state = torch.load(finetuned.config["checkpoint"], weights_only=False)
    assert any(k.startswith("upstream.model.encoder") for k in state["model"])


def test_prediction_on_new_audio(suite, demo_records):
    _, _, results = suite
    wavs = [Path(json.loads(line)["audio"]) for line in open(demo_records)][:2]
    gender = next(r for r in results if r.task == "gender" and r.upstream == "demo")
    lines = predict(Path(gender.config["checkpoint"]), wavs)
    assert len(lines) == 2 and all(line.split("\t")[1].split()[0] in ("M", "F") for line in lines)
    asr = next(r for r in results if r.task == "asr" and r.upstream == "MFB")
    assert len(predict(Path(asr.config["checkpoint"]), wavs)) == 2


def test_hear_embeddings_are_what_a_trained_probe_reads(suite, demo_records):
    """``load_model(probe=...)``: the learnt layer weights of a frozen head, on its own
    upstream, give the representation the head reads (its ``represent``)."""
    from lebench.downstream import hear
    from lebench.downstream.run import load
    from lebench.manifests.audio import load_mono

    _, _, results = suite
    probe = next(r for r in results if r.task == "gender" and r.upstream == "demo" and r.mode == "frozen")
    wavs = [load_mono(json.loads(line)["audio"]) for line in open(demo_records)][:3]
    audio = torch.from_numpy(np.stack([w[:min(map(len, wavs))] for w in wavs]))
    model = hear.load_model(probe=probe.config["checkpoint"])  # no path: the probe's upstream
    assert model.upstream.fingerprint() == probe.config["upstream_fingerprint"]
    assert not torch.allclose(model.featurizer.weights, torch.zeros(3))  # learnt, not the mean
    embeddings, _ = hear.get_timestamp_embeddings(audio, model)
    head = load(Path(probe.config["checkpoint"]))[0]
    with torch.no_grad():
        expected, _ = head.represent(audio, None, None)
    assert torch.allclose(embeddings, expected, atol=1e-5)
    with pytest.raises(UserError, match=r"trained on another upstream than mfb .*pass the one it was trained on"):
        hear.load_model("mfb", probe=probe.config["checkpoint"])
    finetuned = next(r for r in results if r.mode == "finetune")
    with pytest.raises(UserError, match=r"a fine-tuned run.*upstream it exported"):
        hear.load_model(probe=finetuned.config["checkpoint"])


def test_cached_features_equal_on_the_fly_and_a_changed_checkpoint_is_never_served(
        demo_checkpoint, tasks_data, tmp_path):
    ckpt = tmp_path / "up.pt"
    shutil.copy(demo_checkpoint, ckpt)
    folder = features_for(str(ckpt), tasks_data / "speakers", tmp_path / "cache",
                          splits=("train", "valid"))
    split = feature_cache.split_dir(folder, "valid", tasks_data / "speakers" / "valid.tsv")
    meta = feature_cache.read_meta(split)
    assert meta["num_states"] == 3 and meta["bad"] == 0 and meta["utterances"] == 48
    from fairseq_ext.data.cached_features import CachedFeatureDataset
    cached = CachedFeatureDataset(split)
    up = Wav2Vec2Upstream(ckpt).eval()
    root, *lines = (tasks_data / "speakers" / "valid.tsv").read_text().splitlines()
    import soundfile as sf
    wav, _ = sf.read(str(Path(root) / lines[0].split("\t")[0]), dtype="float32")
    with torch.no_grad():
        states, _ = up(torch.from_numpy(wav)[None], torch.tensor([len(wav)]))
    item = cached[[r[3] for r in cached.rows].index(0)]["features"]
    assert torch.allclose(item, torch.stack(states, 2)[0], atol=2e-2, rtol=1e-2)  # float16
    # a head trained on these features
    head = train("gender", tasks_data / "speakers", str(ckpt), tmp_path / "head", features=folder,
                 overrides=["optimization.max_epoch=1"], quiet=True)
    # the same checkpoint, changed by one update of weights, gets another cache folder
    state = torch.load(ckpt, weights_only=False)
    key = next(iter(state["model"]))
    state["model"][key] = state["model"][key] + 1e-3
    torch.save(state, ckpt)
    assert features_for(str(ckpt), tasks_data / "speakers", tmp_path / "cache", splits=()) != folder
    # a head asked to read the old folder refuses, and so does the trained head on new audio
    with pytest.raises(UserError, match="content changed"):
        train("gender", tasks_data / "speakers", str(ckpt), tmp_path / "head2", features=folder,
              overrides=["optimization.max_epoch=1"], quiet=True)
    with pytest.raises(UserError, match="changed since this head was trained"):
        predict(head.checkpoint, [Path(root) / lines[0].split("\t")[0]])


def test_extraction_skips_a_corrupt_file_and_resumes_shard_by_shard(tasks_data, tmp_path, monkeypatch):
    monkeypatch.setattr(feature_cache, "SHARD", 16)
    data = tmp_path / "data"
    data.mkdir()
    root, *lines = (tasks_data / "speakers" / "valid.tsv").read_text().splitlines()
    shutil.copytree(root, tmp_path / "audio", dirs_exist_ok=True)
    bad = tmp_path / "audio" / lines[5].split("\t")[0]
    bad.write_bytes(b"RIFF not audio")
    (data / "valid.tsv").write_text("\n".join([str(tmp_path / "audio"), *lines]) + "\n")
    up = load_upstream("mfb")
    target = tmp_path / "cache" / "valid"
    feature_cache.extract(up, data / "valid.tsv", target, progress=False)
    meta = feature_cache.read_meta(target)
    assert (meta["utterances"], meta["bad"], meta["shards"]) == (47, 1, 3)
    assert str(bad) in (target / "bad.tsv").read_text()
    # interrupted: meta and the last shard are gone; the first shards are not rewritten
    first = (target / "shard-00000.npy").stat().st_mtime_ns
    reference = np.load(target / "shard-00002.npy")
    (target / "meta.json").unlink()
    (target / "shard-00002.npy").unlink()
    feature_cache.extract(up, data / "valid.tsv", target, progress=False)
    assert (target / "shard-00000.npy").stat().st_mtime_ns == first
    assert np.array_equal(np.load(target / "shard-00002.npy"), reference)
    assert feature_cache.read_meta(target)["bad"] == 1


def test_learning_rate_grid_chooses_on_valid_and_runs_every_seed(tasks_data, tmp_path):
    store = tmp_path / "results.jsonl"
    results = run("gender", tasks_data / "speakers", "mfb", "MFB", tmp_path / "runs", store,
                  seeds=(1, 2), lrs=(1e-5, 1e-2), cache=tmp_path / "cache",
                  overrides=["optimization.max_epoch=4"])
    dev = results[0].config["dev_scores"]
    assert set(dev) == {"1e-05", "0.01"}
    chosen = max(dev, key=dev.get)
    assert all(f"{r.config['lr']:g}" == chosen for r in results)
    assert {r.seed for r in results} == {1, 2}
    header, rows = table(read_results(store))
    assert rows[0][1] == "mfb" and "±" in rows[0][2]  # mean ± std over the two seeds
    # a second call re-uses the finished runs instead of training again
    seed2 = next(r for r in results if r.seed == 2)
    log = Path(seed2.config["checkpoint"]).parent / "train.log"
    size, lines = log.stat().st_size, len(store.read_text().splitlines())
    again = run("gender", tasks_data / "speakers", "mfb", "MFB", tmp_path / "runs", store, seeds=(2,),
                lrs=(float(chosen),), cache=tmp_path / "cache", overrides=["optimization.max_epoch=4"])
    assert log.stat().st_size == size and len(store.read_text().splitlines()) == lines
    assert [r.value for r in again] == [r.value for r in results if r.seed == 2]


def test_predictions_hold_the_raw_references(suite, tasks_data):
    _, _, results = suite
    speakers = tasks_data / "speakers"
    for task, label in (("asr", "transcript"), ("gender", "gender"), ("sentence_type", "sentence_type")):
        r = next(r for r in results if r.task == task and r.upstream == "MFB" and r.split == "test")
        rows = read_predictions(Path(r.config["predictions"]), "transcript" if task == "asr" else "class")
        raw = (speakers / f"test.{label}").read_text(encoding="utf-8").splitlines()
        assert [row["reference"] for row in rows] == raw  # as the corpus wrote them: case, punctuation
        assert [row["id"] for row in rows] == [l.split("\t")[0] for l in
                                               (speakers / "test.tsv").read_text().splitlines()[1:]]
    asr = next(r for r in results if r.task == "asr" and r.upstream == "MFB" and r.split == "test")
    references = [row["reference"] for row in read_predictions(Path(asr.config["predictions"]), "transcript")]
    assert any(ref.endswith("?") for ref in references) and any(ref[0].isupper() for ref in references)


def test_a_second_run_retrains_nothing_rewrites_nothing_and_appends_nothing(suite, tasks_data,
                                                                           demo_checkpoint):
    """One at a time after two at a time: the same results in the same order, nothing new."""
    out, store, results = suite
    folders = {Path(r.config["checkpoint"]).parent for r in results}
    before = {p: p.stat().st_mtime_ns for f in folders for p in f.iterdir() if p.is_file()}
    lines = store.read_text().splitlines()
    again = run_suite(tasks_data, {"demo": str(demo_checkpoint), "MFB": "mfb"}, out / "runs",
                      store, tasks=[t for t in DEMO_TASKS if t not in SEQ2SEQ_TASKS],
                      cache=out / "cache", extra_overrides=SHORT)
    assert [(r.task, r.upstream, r.split, r.metric, r.value) for r in again] == \
        [(r.task, r.upstream, r.split, r.metric, r.value) for r in results]
    assert store.read_text().splitlines() == lines
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_changed_settings_get_a_new_run_and_an_unfinished_one_resumes(tasks_data, tmp_path):
    data, store = tasks_data / "speakers", tmp_path / "r.jsonl"
    common = dict(cache=tmp_path / "cache", splits=("valid",), quiet=True)
    first = run("gender", data, "mfb", "MFB", tmp_path / "runs", store,
                overrides=["optimization.max_epoch=2"], **common)
    other = run("gender", data, "mfb", "MFB", tmp_path / "runs", store,
                overrides=["optimization.max_epoch=3"], **common)
    a, b = (Path(r[0].config["checkpoint"]).parent for r in (first, other))
    assert a != b and a.parent == b.parent and a.name.startswith("lr0.005-seed1-")
    assert len(read_results(store)) == 4  # two runs x accuracy, uar
    # changed labels are other data: a new run too, never the old head scored on new labels
    changed = tmp_path / "changed"
    shutil.copytree(data, changed)
    (changed / "valid.gender").write_text((data / "valid.gender").read_text().replace("M", "F"))
    folder, _, _ = run_folder("gender", changed, "mfb", tmp_path / "runs", 1, None,
                              ["optimization.max_epoch=2"], cached=True)
    assert folder != a
    # an interrupted run (no done.json yet) with the same key resumes from its checkpoint_last.pt
    (b / "done.json").unlink()
    run("gender", data, "mfb", "MFB", tmp_path / "runs", store, overrides=["optimization.max_epoch=3"],
        **common)
    assert "Loaded checkpoint" in (b / "train.log").read_text() and (b / "done.json").is_file()
    assert len(read_results(store)) == 4


def test_asr_scores_characters_never_seen_in_training(tasks_data, tmp_path):
    """The old scoring decoded references back from the training vocabulary: unseen
    characters vanished from them, and the CER came out too low."""
    data = tmp_path / "data"
    shutil.copytree(tasks_data / "speakers", data)
    for name in ("test.transcript", "test.ltr"):
        text = (data / name).read_text(encoding="utf-8")
        (data / name).write_text(text.replace("a", "å"), encoding="utf-8")
    results = run("asr", data, "mfb", "MFB", tmp_path / "runs", tmp_path / "r.jsonl",
                  splits=("test",), cache=tmp_path / "cache", quiet=True,
                  overrides=["optimization.max_update=3", "model.lstm_dim=32", "model.lstm_layers=1"])
    cer = next(r for r in results if r.metric == "cer")
    rows = read_predictions(Path(cer.config["predictions"]), "transcript")
    assert all("å" in row["reference"] for row in rows if "å" in row["reference"]) and \
        sum("å" in row["reference"] for row in rows) > 50
    refs, hyps = [normalise(r["reference"]) for r in rows], [normalise(r["hypothesis"]) for r in rows]
    assert cer.value == pytest.approx(jiwer.cer(refs, hyps))
    assert not any("å" in h for h in hyps)  # no training transcript had it: every one is an error


def test_hidden_states_stay_aligned_under_layerdrop(demo_checkpoint):
    up = Wav2Vec2Upstream(demo_checkpoint)
    up.configure_finetuning(layerdrop=0.5, mask_prob=None)
    up.train()
    torch.manual_seed(0)
    wav = torch.randn(1, 16_000)
    seen_skips = 0
    for _ in range(12):
        states, _ = hidden_states(up.model, wav)
        assert len(states) == 3
        seen_skips += int(torch.equal(states[1], states[0]) or torch.equal(states[2], states[1]))
    assert seen_skips > 0  # some blocks were dropped, and the list still had every entry


def test_huggingface_and_ctc_upstreams_give_the_fairseq_states(demo_checkpoint, tmp_path):
    from lebench.pretrain.hf import to_hf
    from tests.checkpoints import ctc_checkpoint
    hf_dir, _ = to_hf(demo_checkpoint, tmp_path / "hf", target="encoder", verify=False)
    wav, lengths = torch.randn(2, 24_000), torch.tensor([24_000, 20_000])
    with torch.no_grad():
        ours, frames = Wav2Vec2Upstream(demo_checkpoint).eval()(wav, lengths)
        theirs, hf_frames = HFUpstream(hf_dir).eval()(wav, lengths)
    assert frames.tolist() == hf_frames.tolist()
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-4)
    assert fingerprint_of(str(hf_dir)) != fingerprint_of(str(demo_checkpoint))
    ctc = ctc_checkpoint(demo_checkpoint, tmp_path / "ctcdata", tmp_path / "ctc.pt")
    with torch.no_grad():
        from_ctc, _ = Wav2Vec2Upstream(ctc).eval()(wav, lengths)
    assert len(from_ctc) == 3 and from_ctc[0].shape == ours[0].shape


def test_any_family_is_an_upstream_frozen_or_fine_tuned_and_exported(tasks_data, tmp_path):
    """The issue's new user: a HuBERT folder as the upstream of a gender probe; then a WavLM
    folder fine-tuned with its head, exported, and read again as an upstream."""
    from tests.test_upstream_families import hf_folder
    hubert = hf_folder("hubert", {}, "HubertForCTC", tmp_path / "hubert-tiny")
    store = tmp_path / "results.jsonl"
    frozen = run("gender", tasks_data / "speakers", str(hubert), "hubert-tiny", tmp_path / "runs", store,
                 cache=tmp_path / "cache", splits=("test",), quiet=True,
                 overrides=["optimization.max_epoch=1"])
    assert {r.family for r in frozen} == {"hubert"} and frozen[0].config["features"]
    header, rows = table(read_results(store))
    assert header[:2] == ["upstream", "family"] and rows[0][:2] == ["hubert-tiny", "hubert"]
    wavlm = hf_folder("wavlm", {}, "WavLMModel", tmp_path / "wavlm-tiny")
    tuned = run("gender", tasks_data / "speakers", str(wavlm), "wavlm-tiny", tmp_path / "runs-ft", store,
                splits=("test",), quiet=True,
                overrides=["model.mode=finetune", "optimization.max_update=3", "+model.layerdrop=0.1",
                           "+model.mask_prob=0.2", "+model.freeze_feature_extractor=false"])
    exported = Path(tuned[0].config["exported_upstream"])
    assert tuned[0].family == "wavlm" and exported.name == "upstream"
    again = load_upstream(str(exported))
    original = load_upstream(str(wavlm))
    assert again.family == "wavlm" and again.model.config.layerdrop == original.model.config.layerdrop
    assert again.fingerprint() != original.fingerprint()
    changed = [k for k, v in again.model.state_dict().items() if not torch.equal(v, original.model.state_dict()[k])]
    assert any(k.startswith("feature_extractor") for k in changed) and any(k.startswith("encoder") for k in changed)


def test_runs_finished_before_exports_were_recorded_still_give_theirs(tmp_path):
    from lebench.downstream.run import _exported
    (tmp_path / "upstream.pt").write_bytes(b"")
    assert _exported({"key": "k"}, tmp_path) == tmp_path / "upstream.pt"  # an older done.json
    assert _exported({"exported": "/x/upstream"}, tmp_path) == Path("/x/upstream")
    assert _exported({"exported": None}, tmp_path / "frozen-run") is None


def test_upstream_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="upstream not found"):
        load_upstream(str(tmp_path / "missing.pt"))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="bad.pt"):
        load_upstream(str(tmp_path / "bad.pt"))


def test_trials_are_balanced_and_deterministic(tasks_data, tmp_path):
    data = tmp_path / "asv"
    shutil.copytree(tasks_data / "asv", data)
    made = make_trials(data, "test", targets_per_utterance=5, seed=3)
    path, targets, nontargets = made.path, made.targets, made.nontargets
    first = path.read_text()
    again = make_trials(data, "test", targets_per_utterance=5, seed=3)
    assert (again.targets, again.nontargets) == (targets, nontargets)
    assert path.read_text() == first
    speaker = dict(zip([l.split("\t")[0] for l in (data / "test.tsv").read_text().splitlines()[1:]],
                       (data / "test.speaker").read_text().split()))
    for line in first.splitlines():
        label, a, b = line.split("\t")
        assert (speaker[a] == speaker[b]) == (label == "1") and a != b
    assert 0 < targets and abs(targets - nontargets) <= targets * 0.2


def test_runs_side_by_side_come_back_in_order_and_leave_the_threads_as_they_were(monkeypatch):
    import time

    from lebench.core.parallel import in_order
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    threads = torch.get_num_threads()
    seen = []

    def job(i: int) -> int:
        time.sleep(0.05 * (3 - i))  # the first submitted finishes last
        seen.append(os.environ["OMP_NUM_THREADS"])
        return i

    assert list(in_order(job, range(4), jobs=2)) == [0, 1, 2, 3]
    assert seen and set(seen) == {str(max(1, len(os.sched_getaffinity(0)) // 2))}
    assert os.environ["OMP_NUM_THREADS"] == "7" and torch.get_num_threads() == threads
    started = []

    def failing(i: int) -> int:
        started.append(i)
        time.sleep(0.05)
        if i == 0:
            raise UserError("run 0 failed")
        return i

    with pytest.raises(UserError, match="run 0 failed"):
        list(in_order(failing, range(20), jobs=2))
    assert len(started) < 20  # the runs not started when it failed never start
    assert os.environ["OMP_NUM_THREADS"] == "7"
