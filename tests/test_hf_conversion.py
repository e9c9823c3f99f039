"""fairseq <-> HuggingFace conversion: every architecture family, CTC, round trips, bad input.

Models are small (few blocks, random init) but built from the real configs, plus the demo
checkpoint that fairseq-hydra-train really trained. transformers loads every output from the
folder alone; the network is switched off.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from lebench.cli import main
from lebench.core.errors import UserError
from lebench.pretrain.hf import to_fairseq, to_hf, verify_pair
from lebench.pretrain.hf.verify import TOLERANCE
from tests.checkpoints import LETTERS, ctc_checkpoint, pretraining_checkpoint

# config, blocks, expected normalisation: one model per architecture family of the seed table
FAMILIES = {"base": ("1K-base", 2, False), "large": ("7K-large", 2, True),
            "xlarge": ("14K-xlarge", 1, True), "light": ("14K-light", 2, False)}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def _no_leftovers(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if ".partial" in p.name]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_converts_verifies_loads_and_round_trips(family, tmp_path):
    from fairseq import checkpoint_utils
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2ForPreTraining, Wav2Vec2Model

    config, layers, normalize = FAMILIES[family]
    ckpt = pretraining_checkpoint(config, tmp_path / "fairseq.pt", layers)
    out, verification = to_hf(ckpt, tmp_path / "hf")

    assert verification.ok and verification.worst <= TOLERANCE
    names = [name for name, _ in verification.rows]
    assert names[: layers + 1] == ["transformer input"] + [f"layer {i}" for i in range(1, layers + 1)]
    assert {"encoder output (last_hidden_state)", "quantized targets (project_q)"} <= set(names)
    assert {p.name for p in out.iterdir()} == {"config.json", "model.safetensors",
                                              "preprocessor_config.json", "README.md"}
    model, info = Wav2Vec2ForPreTraining.from_pretrained(out, output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    assert model.config.do_stable_layer_norm == (family in ("large", "xlarge"))
    extractor = Wav2Vec2FeatureExtractor.from_pretrained(out)
    assert extractor.do_normalize is normalize
    assert extractor.return_attention_mask is (family in ("large", "xlarge"))
    card = (out / "README.md").read_text()
    params = sum(p.numel() for p in model.parameters())
    assert f"{params:,}" in card and "updates: 123" in card and "license: apache-2.0" in card
    assert f"largest difference was {verification.worst:.2e}" in card
    encoder = Wav2Vec2Model.from_pretrained(out)  # the encoder alone, from the same folder
    assert torch.equal(encoder.encoder.layers[0].attention.q_proj.weight,
                       model.wav2vec2.encoder.layers[0].attention.q_proj.weight)

    back, verification_back = to_fairseq(out, tmp_path / "back.pt")
    assert verification_back.ok
    original, returned = _weights(ckpt), _weights(back)
    assert original.keys() == returned.keys()
    assert all(torch.equal(original[k], returned[k]) for k in original), "round trip changed a weight"
    models, cfg, _ = checkpoint_utils.load_model_ensemble_and_task([str(back)])
    assert cfg.task.normalize is normalize and len(models[0].encoder.layers) == layers


def test_demo_checkpoint_to_hf_and_back_continues_pretraining(demo_checkpoint, demo_manifests, tmp_path):
    """A model that exists only in HuggingFace format can be pretrained further with fairseq."""
    from lebench.pretrain.continued import continue_pretraining, size_of

    out, _ = to_hf(demo_checkpoint, tmp_path / "demo-hf", license="cc-by-4.0")
    card = (out / "README.md").read_text()
    frames = [int(line.split("\t")[1]) for line in (demo_manifests / "train.tsv").read_text().splitlines()[1:]]
    # the data by its folder's name and in minutes; no path of this machine in a card to publish
    assert f"`{demo_manifests.name}/train.tsv`: {len(frames):,} utterances, " \
           f"{sum(frames) / 16000 / 60:.1f} min" in card
    assert str(demo_manifests.parent) not in card and str(tmp_path) not in card
    batch = re.search(r"= ([\d.]+) (s|min|h) of audio per update", card)
    assert batch and float(batch.group(1)) > 0 and batch.group(2) == "s"  # 12 s, not "0.00 h"
    assert "license: cc-by-4.0" in card and "updates: 20 (scheduled: 20)" in card
    back, _ = to_fairseq(out, tmp_path / "from-hf.pt")
    original, returned = _weights(demo_checkpoint), _weights(back)
    assert original.keys() == returned.keys()  # the identity projection HF needs is gone again
    assert all(torch.equal(original[k], returned[k]) for k in original)
    assert size_of(back) == "demo"
    last = continue_pretraining(back, demo_manifests, tmp_path / "continued",
                                overrides=["optimization.max_update=2"], quiet=True)
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert state["optimizer_history"][-1]["num_updates"] == 2


def test_encoder_only_export_and_import_with_fresh_heads(demo_checkpoint, tmp_path):
    from transformers import Wav2Vec2Model

    out, verification = to_hf(demo_checkpoint, tmp_path / "enc", target="encoder")
    assert json.loads((out / "config.json").read_text())["architectures"] == ["Wav2Vec2Model"]
    assert not any("projected" in name for name, _ in verification.rows)
    Wav2Vec2Model.from_pretrained(out)
    back, verification_back = to_fairseq(out, tmp_path / "enc.pt")
    assert verification_back.ok
    state = torch.load(back, map_location="cpu", weights_only=False)
    assert state["lebench"]["fresh_modules"] == ["final_proj", "project_q", "quantizer"]
    original = _weights(demo_checkpoint)
    encoder_keys = [k for k in original if not k.startswith(("quantizer", "project_q", "final_proj"))]
    assert all(torch.equal(original[k], state["model"][k]) for k in encoder_keys)


@pytest.mark.parametrize("blank_weight", [0.0, 1.5])
def test_ctc_checkpoint_to_hf_with_its_vocabulary(demo_checkpoint, tmp_path, blank_weight):
    from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor

    ckpt = ctc_checkpoint(demo_checkpoint, tmp_path / "data", tmp_path / "ctc.pt", blank_weight)
    out, verification = to_hf(ckpt, tmp_path / "ctc-hf")
    assert verification.rows[-1][0] == "CTC logits (proj / lm_head)" and verification.ok
    processor = Wav2Vec2Processor.from_pretrained(out)
    vocab = processor.tokenizer.get_vocab()
    # HF's blank is the pad token at fairseq's blank index 0; fairseq's <pad> (1) becomes <s>.
    assert (vocab["<pad>"], vocab["<s>"], vocab["</s>"], vocab["<unk>"], vocab["|"]) == (0, 1, 2, 3, 4)
    assert processor.batch_decode([[5, 5, 0, 6, 4, 7]]) == ["es a"]
    model = Wav2Vec2ForCTC.from_pretrained(out)
    assert model.config.pad_token_id == 0 and model.config.vocab_size == len(vocab)
    assert "automatic-speech-recognition" in (out / "README.md").read_text()


def test_ctc_checkpoint_without_its_dictionary(demo_checkpoint, tmp_path):
    ckpt = ctc_checkpoint(demo_checkpoint, tmp_path / "data", tmp_path / "ctc.pt")
    moved = tmp_path / "elsewhere.txt"
    shutil.move(tmp_path / "data" / "dict.ltr.txt", moved)
    with pytest.raises(UserError, match=r"dict\.ltr\.txt is missing.*--dict"):
        to_hf(ckpt, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    out, _ = to_hf(ckpt, tmp_path / "out", dictionary=moved)
    assert (out / "vocab.json").is_file()
    short = tmp_path / "short.txt"
    short.write_text("a 1\nb 1\n")
    with pytest.raises(UserError, match=f"6 symbols, but ctc.pt has {len(LETTERS) + 4} outputs"):
        to_hf(ckpt, tmp_path / "out2", dictionary=short)


def test_verify_catches_a_changed_weight(demo_checkpoint, tmp_path):
    out, _ = to_hf(demo_checkpoint, tmp_path / "hf")
    weights = load_file(out / "model.safetensors")
    weights["wav2vec2.encoder.layers.1.feed_forward.output_dense.bias"][0] += 1e-2
    save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
    result = verify_pair(demo_checkpoint, out)
    rows = dict(result.rows)
    assert not result.ok
    assert rows["transformer input"] == 0 and rows["layer 1"] == 0 and rows["layer 2"] > TOLERANCE
    assert main(["verify", str(demo_checkpoint), str(out)]) == 2


def test_a_conversion_that_does_not_verify_writes_nothing(demo_checkpoint, tmp_path, monkeypatch):
    import lebench.pretrain.hf.convert as convert

    real = convert.fairseq_to_hf

    def swapped_q_and_k(*args):  # the kind of mapping slip a converter can make
        state, untaken = real(*args)
        q, k = "wav2vec2.encoder.layers.0.attention.q_proj.weight", "wav2vec2.encoder.layers.0.attention.k_proj.weight"
        state[q], state[k] = state[k], state[q]
        return state, untaken

    monkeypatch.setattr(convert, "fairseq_to_hf", swapped_q_and_k)
    with pytest.raises(UserError, match=r"does not reproduce the original(.|\n)*layer 1 .*> tolerance"):
        to_hf(demo_checkpoint, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()
    _no_leftovers(tmp_path)


def test_not_wav2vec2_checkpoints(tmp_path):
    from fairseq.data import Dictionary
    from fairseq.models.hubert.hubert import HubertConfig, HubertModel
    from fairseq.tasks.hubert_pretraining import HubertPretrainingConfig
    from omegaconf import OmegaConf

    cfg = HubertConfig(label_rate=50.0, encoder_layers=1, encoder_embed_dim=64, encoder_ffn_embed_dim=128,
                       encoder_attention_heads=2, conv_feature_layers="[(64,10,5)]+[(64,3,2)]*2",
                       final_dim=32, conv_pos=16, conv_pos_groups=4)
    task = HubertPretrainingConfig(data=str(tmp_path), labels=["km"], label_rate=50.0)
    hubert = HubertModel(cfg, task, [Dictionary()])
    model_cfg = {**OmegaConf.to_container(OmegaConf.structured(cfg), enum_to_str=True), "_name": "hubert"}
    torch.save({"cfg": {"model": model_cfg, "task": {"_name": "hubert_pretraining"}},
                "model": hubert.state_dict()}, tmp_path / "hubert.pt")
    with pytest.raises(UserError, match="hubert.pt: a fairseq 'hubert' model, not wav2vec2"):
        to_hf(tmp_path / "hubert.pt", tmp_path / "out")
    embed = torch.nn.Embedding(100, 16)
    torch.save({"cfg": {"model": {"_name": "transformer_lm"}, "task": {"_name": "language_modeling"}},
                "model": {"decoder.embed_tokens.weight": embed.weight.data}}, tmp_path / "lm.pt")
    with pytest.raises(UserError, match="'transformer_lm' model, not wav2vec2"):
        to_hf(tmp_path / "lm.pt", tmp_path / "out")
    torch.save({"weights": embed.state_dict()}, tmp_path / "plain.pt")
    with pytest.raises(UserError, match="not a fairseq checkpoint"):
        to_hf(tmp_path / "plain.pt", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_checkpoint(demo_checkpoint, tmp_path):
    data = demo_checkpoint.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="cut.pt: cannot be read .* truncated or corrupt"):
        to_hf(tmp_path / "cut.pt", tmp_path / "out")
    assert main(["to-hf", str(tmp_path / "cut.pt"), str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_hf_folders_that_do_not_convert(demo_checkpoint, tmp_path):
    good, _ = to_hf(demo_checkpoint, tmp_path / "good")
    config = json.loads((good / "config.json").read_text())

    def variant(name: str, **changes) -> Path:
        folder = tmp_path / name
        shutil.copytree(good, folder)
        (folder / "config.json").write_text(json.dumps({**config, **changes}))
        return folder

    for folder, message in [
        (variant("deeper", num_hidden_layers=3), r"16 missing: wav2vec2.encoder.layers.2.*config.json does not describe"),
        (variant("wider", intermediate_size=128), r"shape mismatch: .*intermediate_dense.weight \(256, 64\) \(expected \(128, 64\)\)"),
        (variant("hubert", model_type="hubert"), r"model_type 'hubert' is not supported by the fairseq conversion; supported: wav2vec2"),
    ]:
        with pytest.raises(UserError, match=message):
            to_fairseq(folder, tmp_path / "out.pt")
    with pytest.raises(UserError, match="no config.json"):
        to_fairseq(tmp_path, tmp_path / "out.pt")
    cut = variant("cut")
    blob = (cut / "model.safetensors").read_bytes()
    (cut / "model.safetensors").write_bytes(blob[: len(blob) // 3])
    with pytest.raises(UserError, match="weights cannot be read, truncated or corrupt"):
        to_fairseq(cut, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()
    _no_leftovers(tmp_path)


def test_existing_output_needs_force(demo_checkpoint, tmp_path, capsys):
    out = tmp_path / "hf"
    assert main(["to-hf", str(demo_checkpoint), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tolerance 1e-04: ok" in printed and f"-> {out}" in printed
    assert main(["to-hf", str(demo_checkpoint), str(out)]) == 2
    assert "exists; choose another output or pass --force" in capsys.readouterr().err
    assert main(["to-hf", str(demo_checkpoint), str(out), "--force", "--no-verify"]) == 0
    assert "Not verified" in (out / "README.md").read_text()
    assert main(["from-hf", str(out), str(tmp_path / "back.pt")]) == 0
    assert main(["verify", str(tmp_path / "back.pt"), str(out)]) == 0
    assert main(["to-hf", str(tmp_path / "back.pt"), str(tmp_path / "again")]) == 0
    assert "does not record its training" in (tmp_path / "again" / "README.md").read_text()


def test_verify_with_own_audio(demo_checkpoint, tmp_path):
    from tests.conftest import write_tone

    out, _ = to_hf(demo_checkpoint, tmp_path / "hf", audio=write_tone(tmp_path / "tone.wav"))
    assert "`tone.wav` (1.5 s)" in (out / "README.md").read_text()
    with pytest.raises(UserError, match=r"22050 Hz, 1 channel\(s\); the models take 16 kHz mono"):
        verify_pair(demo_checkpoint, out, audio=write_tone(tmp_path / "cd.wav", rate=22050))
