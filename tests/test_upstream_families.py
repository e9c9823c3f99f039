"""Every SSL family as an upstream gives the hidden states of its own library's forward.

HuggingFace folders: a tiny randomly initialised model per family, built from the family's
real config (transformers' config defaults are the published base checkpoints' configs:
wav2vec2-base, hubert-base-ls960, wavlm-base, data2vec-audio-base, unispeech-sat-base,
wav2vec2-conformer-rel-pos) with the width and depth shrunk, and its "large" variant (layer
norm extractor, pre-norm blocks, normalised waveform). The reference is transformers' own
feature extractor and forward on one utterance at a time; our upstream runs a padded batch
of real speech and each utterance alone. fairseq HuBERT: checkpoints built by fairseq's own
task from fairseq's published config, the reference is fairseq's ``extract_features``.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from omegaconf import OmegaConf

from lebench.core.checkpoint import save_checkpoint
from lebench.core.errors import UserError
from lebench.downstream.run import features_for
from lebench.downstream.upstreams.spec import UpstreamSpec, fingerprint_of
from lebench.pretrain.hf.families import FAMILIES

SPEECH = Path(__file__).resolve().parents[1] / "pretrain" / "hf" / "verify.flac"
LENGTHS = (20_800, 15_361, 9_999)  # samples: three utterances, one batch with padding
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
            codevector_dim=16, proj_codevector_dim=16, num_codevectors_per_group=8,
            classifier_proj_size=16, tdnn_dim=(16, 16, 16, 16, 48), xvector_output_dim=16)
PER_FAMILY = {"data2vec-audio": dict(num_conv_pos_embeddings=5, conv_pos_kernel_size=5),
              "wav2vec2-conformer": dict(conv_depthwise_kernel_size=7)}
LARGE = dict(feat_extract_norm="layer", do_stable_layer_norm=True)
# (family, variant, class saved): the saved class exercises the heads' weight prefixes
CASES = [
    ("wav2vec2", {}, "Wav2Vec2ForPreTraining"), ("wav2vec2", LARGE, "Wav2Vec2Model"),
    ("wav2vec2-conformer", {}, "Wav2Vec2ConformerModel"),
    ("wav2vec2-conformer", {"feat_extract_norm": "layer"}, "Wav2Vec2ConformerForCTC"),
    ("hubert", {}, "HubertModel"), ("hubert", LARGE, "HubertForCTC"),
    ("wavlm", {}, "WavLMModel"), ("wavlm", LARGE, "WavLMForXVector"),
    ("data2vec-audio", {}, "Data2VecAudioModel"),
    ("unispeech-sat", {}, "UniSpeechSatForPreTraining"), ("unispeech-sat", LARGE, "UniSpeechSatModel"),
]


def speech() -> list[np.ndarray]:
    wav, rate = sf.read(SPEECH, dtype="float32")
    assert rate == 16_000
    starts = (0, 21_000, 45_000)
    return [wav[s:s + n] for s, n in zip(starts, LENGTHS)]


def batch(wavs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(w) for w in wavs])
    out = torch.zeros(len(wavs), int(lengths.max()))
    for i, w in enumerate(wavs):
        out[i, :len(w)] = torch.from_numpy(w)
    return out, lengths


def hf_folder(model_type: str, variant: dict, cls: str, out: Path, seed: int = 0) -> Path:
    import transformers
    from transformers import Wav2Vec2FeatureExtractor

    family = FAMILIES[model_type]
    config = family.config_class()(**{**TINY, **PER_FAMILY.get(model_type, {}), **variant, "vocab_size": 12})
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(transformers, cls)(config).save_pretrained(out)
    layer = getattr(config, "feat_extract_norm", "layer") == "layer"
    Wav2Vec2FeatureExtractor(do_normalize=layer, return_attention_mask=layer).save_pretrained(out)
    return out


def transformers_states(folder: Path, model_type: str, wav: np.ndarray) -> list[torch.Tensor]:
    """transformers' own pipeline on one utterance: its feature extractor, its forward."""
    from transformers import AutoFeatureExtractor

    extractor = AutoFeatureExtractor.from_pretrained(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = FAMILIES[model_type].model_class().from_pretrained(folder).eval()
    inputs = extractor(wav, sampling_rate=16_000, return_tensors="pt")
    with torch.no_grad():
        out = model(inputs.input_values, output_hidden_states=True)
    return [*out.hidden_states[:-1], out.last_hidden_state]


def assert_same(ours: list[torch.Tensor], frames: torch.Tensor, references: list[list[torch.Tensor]]):
    for i, reference in enumerate(references):
        assert int(frames[i]) == reference[0].size(1)
        assert len(ours) == len(reference)
        for layer, (a, b) in enumerate(zip(ours, reference)):
            diff = (a[i, :int(frames[i])] - b[0]).abs().max().item()
            assert diff < 1e-4, f"utterance {i}, state {layer}: {diff}"


@pytest.mark.parametrize("model_type,variant,cls", CASES,
                         ids=[f"{t}-{'large' if v else 'base'}-{c}" for t, v, c in CASES])
def test_huggingface_family_gives_transformers_states(model_type, variant, cls, tmp_path):
    folder = hf_folder(model_type, variant, cls, tmp_path / model_type)
    wavs = speech()
    references = [transformers_states(folder, model_type, w) for w in wavs]
    spec = UpstreamSpec.parse(str(folder))
    assert spec.family == model_type
    upstream = spec.load().eval()
    assert upstream.family == model_type and upstream.num_states == 3 and upstream.frame_rate == 50
    with torch.no_grad():
        assert_same(*upstream(*batch(wavs)), references)  # a padded batch
        for wav, reference in zip(wavs, references):   # and one at a time
            assert_same(*upstream(*batch([wav])), [reference])


def hubert_checkpoint(out: Path, large: bool, seed: int = 0) -> Path:
    """A HuBERT pretraining checkpoint built by fairseq's own task from its published base
    config (examples/hubert/config/pretrain), narrowed and shallowed; ``large``: the large
    config's extractor, pre-norm blocks and normalised waveform."""
    import fairseq
    from fairseq import tasks
    from fairseq.dataclass.configs import FairseqConfig
    from fairseq.tasks.hubert_pretraining import HubertPretrainingConfig

    out.mkdir(parents=True, exist_ok=True)
    (out / "dict.km.txt").write_text("".join(f"{i} 1\n" for i in range(10)), encoding="utf-8")
    published = OmegaConf.load(Path(fairseq.__file__).parent / "examples" / "hubert" / "config" / "pretrain"
                               / f"hubert_{'large_librivox' if large else 'base_librispeech'}.yaml")
    model = OmegaConf.to_container(published.model)
    model.update(label_rate=50, encoder_layers=2, encoder_embed_dim=32, encoder_ffn_embed_dim=64,
                 encoder_attention_heads=2, final_dim=16, conv_pos=16, conv_pos_groups=2,
                 conv_feature_layers="[(32,10,5)] + [(32,3,2)] * 4 + [(32,2,2)] * 2")
    cfg = OmegaConf.structured(FairseqConfig())
    cfg.task = OmegaConf.structured(HubertPretrainingConfig(
        data=str(out), label_dir=str(out), labels=["km"], label_rate=50, normalize=published.task.normalize))
    cfg.task._name = "hubert_pretraining"
    cfg.model = model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tasks.setup_task(cfg.task)
        torch.manual_seed(seed)
        built = task.build_model(cfg.model)
    path = out / "hubert.pt"
    save_checkpoint(path, OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), built.state_dict(),
                    num_updates=7)
    return path


def fairseq_states(checkpoint: Path, wav: np.ndarray) -> list[torch.Tensor]:
    """fairseq loading the checkpoint itself, and its ``extract_features`` at every block."""
    from fairseq import checkpoint_utils

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models, cfg, _ = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)])
    model = models[0].eval()
    x = torch.from_numpy(wav)[None]
    if cfg.task.normalize:
        x = torch.nn.functional.layer_norm(x, x.shape)
    with torch.no_grad():
        blocks = [model.extract_features(x, output_layer=i)[0] for i in range(1, len(model.encoder.layers) + 1)]
        final = model.extract_features(x)[0]
    return blocks[:-1] + [final]


@pytest.mark.parametrize("large", [False, True], ids=["base", "large"])
def test_fairseq_hubert_gives_fairseq_states(large, tmp_path):
    checkpoint = hubert_checkpoint(tmp_path / "hubert", large)
    wavs = speech()
    references = [fairseq_states(checkpoint, w) for w in wavs]
    spec = UpstreamSpec.parse(str(checkpoint))
    assert spec.family == "hubert"
    upstream = spec.load().eval()
    assert upstream.pad_sensitive is not large and upstream.normalize is large
    with torch.no_grad():
        ours, frames = upstream(*batch(wavs))
        for wav, reference in zip(wavs, references):
            alone, _ = upstream(*batch([wav]))
            # fairseq's extract_features gives block outputs: our states 1.. (0 is the blocks' input)
            assert_same(alone[1:], torch.tensor([reference[0].size(1)]), [reference])
    assert_same(ours[1:], frames, references)


def test_fairseq_hubert_ctc_reads_its_encoder(tmp_path):
    """A ``hubert_ctc`` model built by fairseq's own fine-tuning task on a pretrained one."""
    from fairseq import tasks
    from fairseq.dataclass.configs import FairseqConfig
    from fairseq.models.hubert.hubert_asr import HubertCtcConfig
    from fairseq.tasks.hubert_pretraining import HubertPretrainingConfig

    pretrained = hubert_checkpoint(tmp_path / "hubert", large=False)
    data = pretrained.parent
    (data / "dict.ltr.txt").write_text("".join(f"{c} 1\n" for c in "|abcdefgh"), encoding="utf-8")
    cfg = OmegaConf.structured(FairseqConfig())
    cfg.task = OmegaConf.structured(HubertPretrainingConfig(
        data=str(data), label_dir=str(data), labels=["ltr"], fine_tuning=True, single_target=True))
    cfg.task._name = "hubert_pretraining"
    cfg.model = OmegaConf.structured(HubertCtcConfig(w2v_path=str(pretrained)))
    cfg.model._name = "hubert_ctc"
    OmegaConf.set_struct(cfg.model, False)
    cfg.model.autoregressive = False  # fairseq's HubertEncoder reads it; HubertCtcConfig lacks it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tasks.setup_task(cfg.task).build_model(cfg.model).eval()
    cfg.model = model.cfg  # as fairseq saves it: w2v_args filled in from the pretrained checkpoint
    ctc = tmp_path / "ctc.pt"
    save_checkpoint(ctc, OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), model.state_dict(),
                    num_updates=3)
    assert UpstreamSpec.parse(str(ctc)).family == "hubert"
    wav, lengths = batch(speech())
    with torch.no_grad():
        ours, frames = UpstreamSpec.parse(str(ctc)).load().eval()(wav, lengths)
        base, _ = UpstreamSpec.parse(str(pretrained)).load().eval()(wav, lengths)
        alone = model.w2v_encoder.w2v_model.extract_features(torch.from_numpy(speech()[2])[None])[0]
    assert all(torch.equal(a, b) for a, b in zip(ours, base))
    assert (ours[-1][2, :int(frames[2])] - alone[0]).abs().max() < 1e-4


def test_checkpoints_in_torch_legacy_format_are_read(tmp_path):
    """fairseq's 2020 releases predate torch's zip format, which memory-mapping needs."""
    checkpoint = hubert_checkpoint(tmp_path / "hubert", large=False)
    legacy = tmp_path / "legacy.pt"
    torch.save(torch.load(checkpoint, weights_only=False), legacy, _use_new_zipfile_serialization=False)
    spec = UpstreamSpec.parse(str(legacy))
    assert spec.family == "hubert" and spec.load().num_states == 3


def test_finetuning_keeps_one_state_per_block_and_masks(tmp_path):
    # post-norm models: a skipped last block leaves the output equal to the state before it
    folder = hf_folder("wavlm", {}, "WavLMModel", tmp_path / "wavlm")
    checkpoint = hubert_checkpoint(tmp_path / "hubert", large=False)
    wav, lengths = batch(speech())
    for spec in (str(folder), str(checkpoint)):
        upstream = UpstreamSpec.parse(spec).load()
        with torch.no_grad():
            frozen, _ = upstream.eval()(wav, lengths)
        upstream.configure_finetuning(layerdrop=0.6, mask_prob=0.5)
        upstream.train()
        torch.manual_seed(0)
        skipped = 0
        for _ in range(8):
            states, _ = upstream(wav, lengths)
            assert len(states) == upstream.num_states
            skipped += any(torch.equal(a, b) for a, b in zip(states[1:-1], states[2:]))
            # masking replaced some frames of the blocks' input with the mask embedding
            assert not torch.allclose(states[0], frozen[0])
        assert skipped, spec
        # exported in its own format, it is the same upstream again
        exported = upstream.export(tmp_path / f"export-{upstream.family}", {"fine_tuned_from": spec})
        reloaded = UpstreamSpec.parse(str(exported)).load().eval()
        assert reloaded.family == upstream.family
        with torch.no_grad():
            assert all(torch.equal(a, b) for a, b in zip(reloaded(wav, lengths)[0], upstream.eval()(wav, lengths)[0]))


def test_fingerprint_covers_config_preprocessing_and_every_weight_shard(tmp_path):
    folder = hf_folder("hubert", {}, "HubertModel", tmp_path / "hubert")
    first = fingerprint_of(str(folder))
    config = folder / "preprocessor_config.json"
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "do_normalize": not settings["do_normalize"]}))
    assert fingerprint_of(str(folder)) != first  # the features change with the normalisation
    from transformers import HubertModel
    sharded = tmp_path / "sharded"
    HubertModel.from_pretrained(folder).save_pretrained(sharded, max_shard_size="20KB")
    shards = sorted(sharded.glob("model-*.safetensors"))
    assert len(shards) > 1
    before = fingerprint_of(str(sharded))
    from safetensors.torch import load_file, save_file
    tensors = load_file(shards[-1])
    key = next(iter(tensors))
    tensors[key] = tensors[key] + 1e-3
    save_file(tensors, shards[-1], metadata={"format": "pt"})
    assert fingerprint_of(str(sharded)) != before
    # a second family's folder with the same sizes is another model
    assert fingerprint_of(str(hf_folder("wavlm", {}, "WavLMModel", tmp_path / "wavlm"))) != first


def test_bad_upstreams_are_refused_in_one_line_and_nothing_is_cached(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tsv").write_text(f"{SPEECH.parent}\n{SPEECH.name}\t75199\n")
    cache = tmp_path / "cache"
    good = hf_folder("hubert", {}, "HubertModel", tmp_path / "good")

    def variant(name: str, **changes) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        for f in good.iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **changes}))
        return folder

    cut = variant("cut")
    weights = (cut / "model.safetensors").read_bytes()
    (cut / "model.safetensors").write_bytes(weights[:len(weights) // 2])
    narrow = hubert_checkpoint(tmp_path / "hubert", large=False)
    state = torch.load(narrow, weights_only=False)
    state["model"]["encoder.layers.0.fc1.weight"] = state["model"]["encoder.layers.0.fc1.weight"][:, :5]
    torch.save(state, narrow)
    fairseq_other = tmp_path / "data2vec.pt"
    save_checkpoint(fairseq_other, {"model": {"_name": "data2vec_audio"}, "task": {}}, {}, num_updates=0)
    cases = [
        (variant("sew", model_type="sew"), r"sew/config.json: model_type 'sew' is not supported as an "
         r"upstream; supported: wav2vec2, wav2vec2-conformer, hubert, wavlm, data2vec-audio, unispeech-sat"),
        (variant("deeper", num_hidden_layers=3), r"deeper: the weights do not match .* missing: encoder\.layers\.2\."),
        (variant("wider", intermediate_size=128), r"wider: .*shape mismatch: encoder\.layers\.0\.feed_forward"),
        (cut, r"cut: its weights cannot be read, truncated or corrupt"),
        (narrow, r"hubert.pt: weights do not match its config \(size mismatch for encoder.layers.0.fc1.weight"),
        (fairseq_other, r"data2vec.pt: a fairseq 'data2vec_audio' model; fairseq upstreams are wav2vec2, "
         r"wav2vec_ctc, hubert, hubert_ctc"),
    ]
    for path, message in cases:
        with pytest.raises(UserError, match=message) as error:
            UpstreamSpec.parse(str(path)).family and features_for(str(path), data, cache, splits=("train",),
                                                                  progress=False)
        assert "\n" not in str(error.value)
        assert not cache.exists() or not any(cache.rglob("*")), path
    from lebench.cli.downstream import UPSTREAM_HELP
    assert all(model_type in UPSTREAM_HELP for model_type in FAMILIES)  # --help names every family
    from lebench.downstream.upstreams.fairseq_checkpoint import MODELS
    assert {"wav2vec2", "hubert", "ils-ssl"} == {family for family, _ in MODELS.values()}
    assert "wav2vec2" in UPSTREAM_HELP and "HuBERT" in UPSTREAM_HELP and "ILS-SSL" in UPSTREAM_HELP
