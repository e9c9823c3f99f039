"""HuBERT and ILS-SSL pretraining: Kaldi MFCCs against an independent port, k-means labels
against scikit-learn, the resumable label pipeline on real speech, ILS-SSL's loss against
stock HuBERT (LayerDrop included), real fairseq training steps, and their checkpoints as
upstreams."""
from __future__ import annotations

import json
import types
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import soundfile as sf
import torch
from omegaconf import OmegaConf

from lebench.core.errors import UserError
from lebench.core.fairseq_command import import_plugin
from lebench.pretrain.hf.verify import read_audio
from lebench.pretrain.labels import kmeans, mfcc
from lebench.pretrain.labels.files import check_labels
from lebench.pretrain.labels.pipeline import LabelJob, make_labels
from lebench.pretrain.labels.sources import LayerSource, MFCCSource, feature_source
from tests.checkpoints import hubert_family_model


def test_mfcc_is_kaldis_as_kaldi_native_fbank_computes_it():
    knf = pytest.importorskip("kaldi_native_fbank")
    wav, _ = read_audio(None)  # real speech, 4.7 s
    opts = knf.MfccOptions()
    opts.frame_opts.dither, opts.use_energy, opts.mel_opts.num_bins = 0.0, False, 23
    online = knf.OnlineMfcc(opts)
    online.accept_waveform(16000, wav.tolist())
    online.input_finished()
    reference = np.stack([online.get_frame(i) for i in range(online.num_frames_ready)])
    ours = mfcc.mfcc(wav).numpy()
    assert ours.shape == reference.shape == (mfcc.num_frames(len(wav)), 13)
    assert np.abs(ours - reference).max() < 1e-3 * np.abs(reference).max()
    feats = mfcc.mfcc_features(wav)
    assert feats.shape == (len(reference), 39) and feats.dtype == torch.float32
    ramp = torch.arange(10.0)[:, None] * torch.tensor([[1.0, -2.0]])
    assert torch.allclose(mfcc.deltas(ramp)[2:-2], torch.tensor([[1.0, -2.0]]).expand(6, 2))


def test_labels_are_the_nearest_centroid_as_scikit_learn_predicts(tmp_path):
    rng = np.random.default_rng(0)
    feats = np.concatenate([rng.normal(c, 1.0, (400, 39)) for c in (-3, 0, 3)]).astype(np.float32)
    km = kmeans.learn(feats, 8, seed=1)
    kmeans.save(km, tmp_path / "km.joblib")
    centroids = kmeans.Centroids(tmp_path / "km.joblib")
    assert (centroids(torch.from_numpy(feats)).numpy() == km.predict(feats)).all()
    with pytest.raises(UserError, match=r"km.joblib: k-means of 39-dimensional features applied to 768"):
        centroids(torch.zeros(3, 768))
    (tmp_path / "bad.joblib").write_text("nope")
    with pytest.raises(UserError, match=r"bad.joblib: not a k-means model"):
        kmeans.Centroids(tmp_path / "bad.joblib")


def _labels(path: Path) -> list[list[int]]:
    return [[int(v) for v in line.split()] for line in path.read_text().splitlines()]


def test_label_pipeline_shards_resumes_and_refuses_other_settings(demo_manifests, tmp_path, monkeypatch):
    out = tmp_path / "labels"
    job = LabelJob(demo_manifests, out, clusters=12, shards=3, percent=0.3)
    make_labels(job, MFCCSource(), ranks=[1], progress=False)  # one Slurm array task
    assert not (out / "train.km").exists()  # an incomplete split never looks complete
    assert (out / "shards" / "train_1_3.km").is_file()
    done = make_labels(job, MFCCSource(), progress=False)  # the others; shard 1 is kept
    assert set(done) == {"train", "valid"} and not (out / "shards").exists()
    lines = _labels(done["train"])
    items = [line.split("\t") for line in (demo_manifests / "train.tsv").read_text().splitlines()[1:]]
    assert len(lines) == len(items)
    assert [len(v) for v in lines] == [mfcc.num_frames(int(n)) for _, n in items]
    assert (out / "dict.km.txt").read_text().splitlines() == [f"{i} 1" for i in range(12)]
    # every line is what the saved k-means gives the utterance's MFCCs
    root = (demo_manifests / "train.tsv").read_text().splitlines()[0]
    wav, _ = sf.read(f"{root}/{items[5][0]}", dtype="float32")
    assert lines[5] == kmeans.Centroids(out / "kmeans.joblib")(mfcc.mfcc_features(torch.from_numpy(wav))).tolist()
    # a second run computes nothing
    monkeypatch.setattr(MFCCSource, "__call__", lambda self, wav: pytest.fail("recomputed"))
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    make_labels(job, MFCCSource(), progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    with pytest.raises(UserError, match=r"labels: labels made with other settings \(clusters\); pass another"):
        make_labels(LabelJob(demo_manifests, out, clusters=13, percent=0.3), MFCCSource(), progress=False)
    assert json.loads((out / "labels.json").read_text())["clusters"] == 12


def test_a_shard_killed_midway_leaves_nothing_that_looks_complete(demo_manifests, tmp_path, monkeypatch):
    out = tmp_path / "labels"
    job = LabelJob(demo_manifests, out, clusters=8, shards=2, percent=0.2, splits=("valid",))
    make_labels(job, MFCCSource(), ranks=[1], progress=False)
    finished = (out / "shards" / "valid_1_2.km").stat().st_mtime_ns
    calls = []

    def killed(self, wav):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the job's time limit, say
        return mfcc.mfcc_features(wav)
    monkeypatch.setattr(MFCCSource, "__call__", killed)
    with pytest.raises(KeyboardInterrupt):
        make_labels(job, MFCCSource(), ranks=[0], progress=False)
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["valid_1_2.km"]  # no partial shard 0
    assert (out / "shards" / "valid_1_2.km").stat().st_mtime_ns == finished and not (out / "valid.km").exists()
    monkeypatch.undo()
    done = make_labels(job, MFCCSource(), progress=False)
    assert check_labels(demo_manifests / "valid.tsv", done["valid"], mfcc.RATE, 8) == 48


def test_label_files_are_checked_against_their_manifest(tmp_path):
    (tmp_path / "train.tsv").write_text(f"{tmp_path}\na.wav\t32000\nb.wav\t16000\n")
    km = tmp_path / "train.km"
    km.write_text("1 2\n")
    with pytest.raises(UserError, match=r"train.km: 1 lines for the 2 utterances of .*train.tsv; make them again"):
        check_labels(tmp_path / "train.tsv", km, 50)
    km.write_text(" ".join(["1"] * 99) + "\n" + " ".join(["1"] * 30) + "\n")
    with pytest.raises(UserError, match=r"train.km:2: 30 labels at 50 Hz \(0.60 s\) for 1.00 s of audio"):
        check_labels(tmp_path / "train.tsv", km, 50)
    km.write_text(" ".join(["1"] * 99) + "\n" + " ".join(["7"] * 49) + "\n")
    with pytest.raises(UserError, match=r"train.km:2: cluster index 7 out of the 5"):
        check_labels(tmp_path / "train.tsv", km, 50, clusters=5)
    assert check_labels(tmp_path / "train.tsv", km, 50, clusters=8) == 2


def _tiny(name: str, overrides: tuple[str, ...] = ()) -> tuple:
    """A model of config ``name`` (fairseq's task builds it) with 10 clusters, no dropout."""
    return hubert_family_model(name, ("model.encoder_layers=3", "model.dropout=0", "model.attention_dropout=0",
                                      "model.dropout_input=0", "model.dropout_features=0", *overrides))


def _step(model, wav, targets, seed=3, run=None):
    """One forward with the same masks every time: fairseq draws each utterance's spans from a
    fresh ``np.random.default_rng()`` (OS entropy), seeded here."""
    np.random.seed(seed)
    torch.manual_seed(seed)
    rng = np.random.default_rng
    with mock.patch("numpy.random.default_rng", lambda s=None: rng(seed if s is None else s)):
        if run is not None:
            return run()
        return model(wav, target_list=[targets], padding_mask=torch.zeros_like(wav, dtype=torch.bool))


def test_ils_ssl_adds_the_intermediate_loss_to_hubert_s_own():
    wav = torch.stack([read_audio(None)[0][:32000], read_audio(None)[0][8000:40000]])
    targets = torch.randint(0, 10, (2, 200), generator=torch.Generator().manual_seed(0))
    hubert, _ = _tiny("demo-hubert")
    ils, _ = _tiny("demo-ils-ssl", ("model.predict_layers='[2,3]'",))
    top_only, _ = _tiny("demo-ils-ssl", ("model.predict_layers='[3]'",))
    missing, unexpected = ils.load_state_dict(hubert.state_dict(), strict=False)
    assert not unexpected and set(missing) == {"layer_final_proj.0.weight", "layer_final_proj.0.bias",
                                               "layer_label_embs.0"}
    top_only.load_state_dict(hubert.state_dict())
    for m in (hubert, ils, top_only):
        m.train()
    stock, both, one = (_step(m, wav, targets) for m in (hubert, ils, top_only))
    assert len(both["logit_m_list"]) == 2 and torch.equal(both["logit_m_list"][1], stock["logit_m_list"][0])
    assert torch.equal(one["logit_m_list"][0], stock["logit_m_list"][0])
    # block 2's logits: its own head, on the same masked frames
    assert both["logit_m_list"][0].shape == stock["logit_m_list"][0].shape
    assert not torch.equal(both["logit_m_list"][0], stock["logit_m_list"][0])
    # the criterion sums both layers' losses and logs each
    from fairseq.criterions.hubert_criterion import HubertCriterion
    crit = HubertCriterion(types.SimpleNamespace(), 1.0, 0.0, [10])
    sample = {"net_input": {"source": wav, "padding_mask": torch.zeros_like(wav, dtype=torch.bool)},
              "target_list": [targets], "id": torch.arange(2)}
    loss, size, log = _step(ils, wav, targets, run=lambda: crit(ils, sample))
    assert {"loss_m_0", "loss_m_1", "correct_m_0", "correct_m_1"} <= set(log)
    assert loss.item() == pytest.approx(log["loss_m_0"] + log["loss_m_1"] + log["loss_features_pen"], rel=1e-5)


class _Identity(torch.nn.Module):
    def forward(self, x, **kwargs):
        return x, (None, x)


def test_a_block_layerdrop_skips_does_not_shift_the_supervised_layer(monkeypatch):
    """Block 2 skipped: the state "after block 2" is block 1's output, as in the same model
    whose block 2 is the identity; counting the blocks that ran would supervise block 3."""
    import fairseq.models.wav2vec.wav2vec2 as w2v
    wav = read_audio(None)[0][None, :32000]
    targets = torch.randint(0, 10, (1, 200), generator=torch.Generator().manual_seed(0))
    ils, _ = _tiny("demo-ils-ssl", ("model.predict_layers='[2,3]'",))
    ils.train()
    reference, _ = _tiny("demo-ils-ssl", ("model.predict_layers='[2,3]'",))
    reference.load_state_dict(ils.state_dict())
    reference.train()
    reference.encoder.layers[1] = _Identity()
    expected = _step(reference, wav, targets)
    ils.encoder.layerdrop = 0.5
    draws = iter([0.9, 0.1, 0.9])  # block 2 dropped (a draw at most layerdrop drops)
    monkeypatch.setattr(w2v, "np", types.SimpleNamespace(random=types.SimpleNamespace(random=lambda: next(draws))))
    got = _step(ils, wav, targets)
    for a, b in zip(got["logit_m_list"], expected["logit_m_list"]):
        assert torch.allclose(a, b, atol=1e-6)


def test_predict_layers_must_end_with_the_top_block():
    with pytest.raises(UserError, match=r"model.predict_layers='\[1,2\]'.*ending with the top one, "
                                         r"e.g. '\[1, 3\]' \(model.encoder_layers=3\)"):
        _tiny("demo-ils-ssl", ("model.predict_layers='[1,2]'",))


@pytest.fixture(scope="module")
def demo_labels(demo_manifests, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("labels")
    make_labels(LabelJob(demo_manifests, out, clusters=50, percent=0.5), MFCCSource(), progress=False)
    return out


def test_ils_ssl_pretraining_trains_resumes_and_serves_as_upstream(demo_manifests, demo_labels, tmp_path):
    """Real fairseq steps of the HuBERT task (ILS-SSL's model; plain HuBERT's is stock)."""
    config = "demo-ils-ssl"
    from lebench.downstream.upstreams.spec import load_upstream
    from lebench.pretrain.launch import pretrain
    save = tmp_path / "pt"
    every = "checkpoint.save_interval_updates=2"
    ckpt = pretrain(config, demo_manifests, save, ["optimization.max_update=4", every], quiet=True, labels=demo_labels)
    log = (save / "train.log").read_text()
    assert '"train_loss_m_0"' in log and '"train_loss_m_1"' in log  # blocks 1 and 2
    state = torch.load(ckpt, weights_only=False)
    assert state["cfg"]["task"]["_name"] == "hubert_pretraining"  # the stock task
    again = pretrain(config, demo_manifests, save, ["optimization.max_update=6", every], quiet=True, labels=demo_labels)
    assert "Loaded checkpoint" in (save / "train.log").read_text()  # resumed, on torch >= 2.6
    upstream = load_upstream(str(again))
    assert upstream.family == "ils-ssl"
    # the layer source of iteration 2 reads the same blocks fairseq returns
    source = LayerSource(again, 2)
    wav = read_audio(None)[0][:24000]
    import_plugin()
    from fairseq import checkpoint_utils
    models, _, _ = checkpoint_utils.load_model_ensemble_and_task([str(again)])
    expected = models[0].eval().extract_features(wav[None], mask=False, output_layer=2)[0][0]
    assert torch.allclose(source(wav), expected, atol=1e-5) and source.frames(len(wav)) == len(expected)
    assert source(wav[:300]).shape == (0, 64) and source.frames(300) == 0  # shorter than one frame
    with torch.no_grad():
        states, _ = upstream.eval()(wav[None], torch.tensor([len(wav)]))
    assert torch.allclose(states[2][0], expected, atol=1e-5)


def test_bad_label_input_is_one_line_naming_the_file(demo_manifests, demo_labels, tmp_path):
    from lebench.core.checkpoint import save_checkpoint
    from lebench.pretrain.launch import pretrain
    demo_checkpoint = tmp_path / "w2v.pt"
    save_checkpoint(demo_checkpoint, {"model": {"_name": "wav2vec2"}, "task": {}}, {}, num_updates=0)
    with pytest.raises(UserError, match=r"not HuBERT-family; pass a HuBERT or ILS-SSL"):
        feature_source(demo_checkpoint, 1)
    with pytest.raises(UserError, match=r"--from .*: say which block with --layer"):
        feature_source(demo_checkpoint, None)
    with pytest.raises(UserError, match=r"config demo-hubert trains on k-means labels .*pass --labels"):
        pretrain("demo-hubert", demo_manifests, tmp_path / "a", quiet=True)
    with pytest.raises(UserError, match=r"dict.km.txt: 50 clusters where config demo-hubert has task.clusters=40"):
        pretrain("demo-hubert", demo_manifests, tmp_path / "b", ["task.clusters=40"], quiet=True,
                 labels=demo_labels)
    with pytest.raises(UserError, match=r"valid.km: 24 lines for the 48 utterances|valid.km: \d+ lines for"):
        other = tmp_path / "other"
        other.mkdir()
        for name in ("train.tsv", "valid.tsv"):
            (other / name).write_text((demo_manifests / "train.tsv").read_text())
        pretrain("demo-hubert", other, tmp_path / "c", quiet=True, labels=demo_labels)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_hubert_converts_to_huggingface_and_back_layer_by_layer(pre_norm, tmp_path):
    """Both block layouts (base: post-norm, group norm; large: pre-norm, layer norm and a
    normalised waveform), ILS-SSL's heads kept in fairseq and restored by --heads-from."""
    from lebench.core.checkpoint import save_checkpoint
    from lebench.downstream.upstreams.spec import load_upstream
    from lebench.pretrain.hf.hubert import hf_to_hubert, hubert_to_hf
    extra = ("model.layer_norm_first=true", "model.extractor_mode=layer_norm", "task.normalize=true") \
        if pre_norm else ()
    model, cfg = _tiny("demo-ils-ssl", ("model.predict_layers='[1,3]'", *extra))
    with torch.no_grad():  # trained-looking norms, not ones and zeros
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    original = tmp_path / "ils.pt"
    save_checkpoint(original, OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), model.state_dict(),
                    num_updates=7)
    folder, verification = hubert_to_hf(original, tmp_path / "hf")
    assert verification.ok and len(verification.rows) == 3 + 2  # input, 3 blocks, output
    if pre_norm:  # the command line sends HuBERT-family checkpoints here too
        from lebench.cli import main
        assert main(["to-hf", str(original), str(tmp_path / "hf-cli")]) == 0
        assert main(["from-hf", str(tmp_path / "hf-cli"), str(tmp_path / "cli.pt"), "--heads-from", str(original)]) == 0
        assert torch.load(tmp_path / "cli.pt", weights_only=False)["cfg"]["model"]["_name"] == "lebench_ils_hubert"
    card = (folder / "README.md").read_text()
    assert "layer_final_proj, layer_label_embs" in card and "--heads-from ils.pt" in card
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "hubert" and config["do_stable_layer_norm"] == pre_norm
    back, _ = hf_to_hubert(folder, tmp_path / "back.pt", heads_from=original)
    a, b = (torch.load(p, weights_only=False) for p in (original, back))
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert b["cfg"]["model"]["_name"] == "lebench_ils_hubert"
    encoder_only, _ = hf_to_hubert(folder, tmp_path / "encoder.pt")
    wav = read_audio(None)[0][:20000][None]
    with torch.no_grad():
        one = load_upstream(str(encoder_only)).eval()(wav, torch.tensor([20000]))[0]
        two = load_upstream(str(original)).eval()(wav, torch.tensor([20000]))[0]
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(one, two))
    with pytest.raises(UserError, match=r"w2v.pt: a fairseq 'wav2vec2' model, not HuBERT-family"):
        save_checkpoint(tmp_path / "w2v.pt", {"model": {"_name": "wav2vec2"}, "task": {}}, {}, num_updates=0)
        hf_to_hubert(folder, tmp_path / "x.pt", heads_from=tmp_path / "w2v.pt")
