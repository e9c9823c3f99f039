"""The HEAR API over every upstream family: the contract hear-validator checks (attributes,
shapes, dtypes, timestamps), on real speech, plus what it cannot see: each frame's timestamp
is the centre of the samples the model's own convolutions read, a clip alone equals it in a
batch, the layer options read the suite's featurizer, and bad input is one line.
(``bench/hear_validate.sh`` runs the real hear-validator, which needs tensorflow.)"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from lebench.core.errors import UserError
from lebench.downstream import hear
from tests.checkpoints import hubert_family_checkpoint, pretraining_checkpoint
from tests.test_upstream_families import CASES, SPEECH, hf_folder

HF_BASE = [(t, v, c) for t, v, c in CASES if not v]  # one folder per HuggingFace family
FAMILIES = ["mfb", "fairseq-wav2vec2", "fairseq-hubert", "fairseq-ils-ssl", *(f"hf-{t}" for t, _, _ in HF_BASE)]


def make_model(family: str, folder: Path) -> str:
    """A tiny randomly initialised upstream of ``family`` (from the real configs), as a path."""
    if family == "mfb":
        return "mfb"
    if family.startswith("fairseq-"):
        name = family.removeprefix("fairseq-")
        path = folder / f"{name}.pt"
        if name == "wav2vec2":
            return str(pretraining_checkpoint("demo", path))
        return str(hubert_family_checkpoint(f"demo-{name}", path))
    model_type = family.removeprefix("hf-")
    _, variant, cls = next(case for case in HF_BASE if case[0] == model_type)
    return str(hf_folder(model_type, variant, cls, folder / model_type))


def clips(n: int, samples: int) -> torch.Tensor:
    """``n`` clips of real French speech, ``samples`` long each."""
    wav, rate = sf.read(SPEECH, dtype="float32")
    assert rate == hear.HearModel.sample_rate
    return torch.from_numpy(np.stack([wav[i * 8000:i * 8000 + samples] for i in range(n)]))


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_meets_the_hear_contract(family, tmp_path):
    path = make_model(family, tmp_path)
    model = hear.load_model(path)
    assert model.sample_rate == 16_000 and isinstance(model.timestamp_embedding_size, int)
    assert model.scene_embedding_size == model.timestamp_embedding_size == model.upstream.dim
    assert isinstance(model, torch.nn.Module) and not model.training
    samples = 17_120  # 1.07 s, as hear-validator's shortest clip
    audio = clips(3, samples)
    embeddings, times = hear.get_timestamp_embeddings(audio, model)
    scene = hear.get_scene_embeddings(audio, model)
    hop = 1000 * model.upstream.samples_per_frame / model.sample_rate
    frames = (samples - model.upstream.receptive_field) // model.upstream.samples_per_frame + 1
    assert embeddings.shape == (3, frames, model.timestamp_embedding_size) and times.shape == (3, frames)
    assert embeddings.dtype == times.dtype == scene.dtype == torch.float32
    assert torch.allclose(torch.diff(times), torch.full_like(times[:, 1:], hop), atol=1e-3)
    assert 0 < times.min() and times.max() < 1000 * samples / model.sample_rate
    assert torch.equal(times[0], times[2])
    assert scene.shape == (3, model.scene_embedding_size)
    assert torch.allclose(scene, embeddings.mean(1), atol=1e-6)
    for i in range(3):  # each clip alone gives what it gets in the batch
        alone, alone_times = hear.get_timestamp_embeddings(audio[i:i + 1], model)
        assert torch.allclose(alone[0], embeddings[i], atol=1e-4) and torch.equal(alone_times[0], times[i])
        assert torch.allclose(hear.get_scene_embeddings(audio[i:i + 1], model)[0], scene[i], atol=1e-4)
    assert embeddings[0].std(0).mean() > 1e-3  # frames differ: real features, not a constant


@pytest.mark.parametrize("family", ["mfb", "fairseq-wav2vec2", "hf-wavlm"])
def test_timestamps_are_the_centres_of_the_samples_each_frame_reads(family, tmp_path):
    """One frame needs exactly ``receptive_field`` samples (the model's own convolutions say
    so: one sample fewer gives none), and a clip of exactly T frames has its first and last
    frame centres equally far from its ends."""
    model = hear.load_model(make_model(family, tmp_path))
    field, hop = model.upstream.receptive_field, model.upstream.samples_per_frame
    with torch.no_grad():
        states, frames = model.upstream(clips(1, field), torch.tensor([field]))
        assert states[0].size(1) == 1 and int(frames[0]) == 1
        if family != "mfb":  # the convolutions alone refuse one sample fewer
            with pytest.raises(RuntimeError):
                model.upstream.feature_extractor()(clips(1, field - 1))
    samples = field + 9 * hop
    _, times = hear.get_timestamp_embeddings(clips(2, samples), model)
    assert times.shape == (2, 10)
    duration = 1000 * samples / model.sample_rate
    first, last = float(times[0, 0]), float(times[0, -1])
    assert first == pytest.approx(duration - last, abs=1e-3)
    assert first == pytest.approx(1000 * field / 2 / model.sample_rate, abs=1e-3)


def test_layer_options_read_the_suite_featurizer(tmp_path):
    path = make_model("fairseq-wav2vec2", tmp_path)
    audio = clips(2, 24_000)
    upstream = hear.load_model(path, layer=0).upstream
    with torch.no_grad():
        states, _ = upstream(audio, torch.tensor([24_000, 24_000]))
    normed = [F.layer_norm(s, s.shape[-1:]) for s in states]
    for layer in (0, 2, -1):
        got, _ = hear.get_timestamp_embeddings(audio, hear.load_model(path, layer=layer))
        assert torch.allclose(got, normed[layer], atol=1e-5)
    raw, _ = hear.get_timestamp_embeddings(audio, hear.load_model(path, layer=1, layer_norm=False))
    assert torch.allclose(raw, states[1], atol=1e-5)
    mean, _ = hear.get_timestamp_embeddings(audio, hear.load_model(path))
    assert torch.allclose(mean, torch.stack(normed).mean(0), atol=1e-5)


def test_bad_input_is_one_line_naming_what_was_passed(tmp_path):
    model = hear.load_model()  # no path: MFB, as hear-validator loads it without -m
    assert model.upstream.spec == "mfb"
    not_a_model = tmp_path / "notes.pt"
    not_a_model.write_text("not a checkpoint")
    pretrained = make_model("fairseq-wav2vec2", tmp_path)
    cases = [
        (lambda: hear.load_model(str(tmp_path / "missing.pt")), r"missing.pt does not exist"),
        (lambda: hear.load_model(str(not_a_model)), r"notes.pt: cannot be read as a PyTorch checkpoint"),
        (lambda: hear.load_model(str(tmp_path)), r"config.json"),
        (lambda: hear.load_model("mfb", layer=3), r"layer=3: mfb has hidden states 0..0"),
        (lambda: hear.load_model("mfb", layer="last"), r"layer='last': pass a hidden state's index"),
        (lambda: hear.load_model(layer=0, probe=str(not_a_model)), r"pass one of the two"),
        (lambda: hear.load_model(probe=pretrained), r"wav2vec2.pt: not a downstream head of this toolkit"),
        (lambda: hear.get_scene_embeddings(clips(2, 20_000), model, sample_rate=44_100),
         r"audio at 44100 Hz: mfb takes 16000 Hz"),
        (lambda: hear.get_scene_embeddings(torch.zeros(0, 20_000), model), r"empty batch.*\(0, 20000\)"),
        (lambda: hear.get_timestamp_embeddings(clips(2, 300), model),
         r"clips of 300 samples are shorter than one frame of mfb \(512 samples, 32 ms"),
        (lambda: hear.get_scene_embeddings(clips(1, 20_000)[0], model), r"shape \(20000,\).*audio\[None\]"),
        (lambda: hear.get_scene_embeddings(torch.zeros(2, 20_000, dtype=torch.int16), model),
         r"dtype torch.int16.*32768"),
    ]
    for call, message in cases:
        with pytest.raises(UserError, match=message) as error:
            call()
        assert "\n" not in str(error.value)
