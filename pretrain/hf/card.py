"""The model card (``README.md``) of a converted model, filled from the checkpoint itself.

Everything in it is read from the checkpoint and its training config (architecture, updates,
batch, data), from the manifests folder when it is on this machine (``stats.md`` that
``lebench compose`` writes, or the train manifest's hours), and from the verification that
just ran. Nothing is typed in by hand except the licence. Data is named by its composition
or its folder's name, never by a path of the machine that trained or converted the model.
"""
from __future__ import annotations

from pathlib import Path

from lebench.core.audio import SAMPLE_RATE
from lebench.pretrain.hf.arch import conv_layers, size_name
from lebench.pretrain.hf.fairseq_checkpoint import FairseqCheckpoint
from lebench.pretrain.hf.verify import Verification

PIPELINE = {"Wav2Vec2ForCTC": "automatic-speech-recognition"}


def model_card(ckpt: FairseqCheckpoint, name: str, cls: str, params: int, license: str,
               verification: Verification | None, versions: dict[str, str]) -> str:
    m = ckpt.model
    stride = 1
    for _, _, s in conv_layers(m.conv_feature_layers):
        stride *= s
    size = size_name(m)
    extractor = "layer norm on every convolution" if m.extractor_mode == "layer_norm" \
        else "group norm on the first convolution"
    blocks = "pre-norm (layer norm first)" if m.layer_norm_first else "post-norm"
    lines = [
        "---", "language: fr", f"license: {license}", "library_name: transformers",
        f"pipeline_tag: {PIPELINE.get(cls, 'feature-extraction')}",
        "tags: [wav2vec2, speech, self-supervised-learning, french, lebench]", "---", "",
        f"# {name}", "",
        f"A wav2vec 2.0 model for French ({size} size), "
        + ("fine-tuned for speech recognition with CTC. " if ckpt.kind == "ctc" else "self-supervised. ")
        + f"Converted from the fairseq checkpoint `{ckpt.path.name}` to `{cls}` with lebench.", "",
        "## Architecture", "",
        "| | |", "|---|---|",
        "| model family | wav2vec 2.0 (transformers `model_type`: `wav2vec2`) |",
        f"| size | {size} |",
        f"| parameters | {params:,} ({params / 1e6:.1f}M, this file) |",
        f"| transformer | {m.encoder_layers} blocks of {m.encoder_embed_dim} / {m.encoder_ffn_embed_dim}, "
        f"{m.encoder_attention_heads} heads, {blocks} |",
        f"| output dimension | {m.encoder_embed_dim} |",
        f"| feature extractor | {len(conv_layers(m.conv_feature_layers))} convolutions, {extractor}; "
        f"one frame every {1000 * stride // SAMPLE_RATE} ms |",
        f"| quantizer | {m.latent_groups} codebooks of {m.latent_vars} entries, final_dim {m.final_dim} |",
        f"| input | 16 kHz mono waveform{', layer-normalised (do_normalize: true)' if ckpt.normalize else ', raw (do_normalize: false)'} |",
        "", "## Training", "",
        *_training(ckpt), "",
        "## Licence", "",
        f"The model is released under {license}. The licences of its training corpora apply "
        "to what you do with the data; they are listed above when the manifests were at hand.", "",
        "## How to load it", "", *_usage(name, cls), "",
        "## How it was verified", "", *_verification(verification, versions), "",
    ]
    return "\n".join(lines)


def _training(ckpt: FairseqCheckpoint) -> list[str]:
    cfg = ckpt.cfg
    if ckpt.provenance.get("converted_from"):
        return [f"- converted from the HuggingFace model `{ckpt.provenance['converted_from']}`, "
                "whose format does not record its training (updates, batch, data)"]
    out = [f"- updates: {ckpt.num_updates:,}"
           + (f" (scheduled: {cfg.optimization.max_update:,})" if cfg.get("optimization") else "")]
    if cfg.get("optimization") and cfg.get("dataset"):
        world = cfg.distributed_training.distributed_world_size
        update_freq = cfg.optimization.update_freq[0]
        tokens = cfg.dataset.max_tokens
        if tokens:
            seconds = tokens * world * update_freq / SAMPLE_RATE
            out.append(f"- batch: at most {tokens:,} samples x {world} GPU(s) x update_freq "
                       f"{update_freq} = {duration(seconds)} of audio per update")
        out.append(f"- learning rate: {cfg.optimization.lr[0]}, seed {cfg.common.seed}")
    task = cfg.task
    if task.get("composition"):
        out.append(f"- composition: {task.composition} (`configs/corpora/{task.composition}.yaml`)")
    if task.get("keep"):
        out.append(f"- utterances kept: {task.keep}")
    data = Path(str(task.get("data", "")))
    if ckpt.kind == "ctc":
        out.append(f"- fine-tuning data: `{data.name}`, labels `{task.get('labels', 'ltr')}`")
        pre = ckpt.cfg.model.w2v_args.task
        data = Path(str(pre.get("data", "")))
        out.append("- pretraining data:")
    out += _data(data)
    return out


def _data(data: Path) -> list[str]:
    stats, train = data / "stats.md", data / "train.tsv"
    if str(data) and stats.is_file():
        return ["", f"Training data (`{data.name}/stats.md`; durations H:MM):", "",
                stats.read_text(encoding="utf-8").strip()]
    if str(data) and train.is_file():
        with open(train, encoding="utf-8") as f:
            next(f)
            frames = [int(line.rsplit("\t", 1)[1]) for line in f if line.strip()]
        return [f"- training manifest `{data.name}/train.tsv`: {len(frames):,} utterances, "
                f"{duration(sum(frames) / SAMPLE_RATE)}"]
    return [f"- training manifests: `{data.name}` (not on the machine that converted the model, "
            "so corpora and hours are not listed)"]


def duration(seconds: float) -> str:
    """Audio durations in the unit that reads best: 12.0 s, 4.5 min, 1.60 h."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:,.2f} h"


def _usage(name: str, cls: str) -> list[str]:
    if cls == "Wav2Vec2ForCTC":
        code = ["import soundfile as sf, torch",
                "from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor", "",
                f'processor = Wav2Vec2Processor.from_pretrained("{name}")',
                f'model = Wav2Vec2ForCTC.from_pretrained("{name}").eval()',
                'wav, rate = sf.read("speech.wav", dtype="float32")  # 16 kHz mono',
                'inputs = processor(wav, sampling_rate=16000, return_tensors="pt")',
                "with torch.no_grad():",
                "    ids = model(**inputs).logits.argmax(-1)",
                "print(processor.batch_decode(ids))"]
    else:
        code = ["import soundfile as sf, torch",
                "from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model", "",
                f'extractor = Wav2Vec2FeatureExtractor.from_pretrained("{name}")',
                f'model = Wav2Vec2Model.from_pretrained("{name}").eval()  # the encoder alone',
                'wav, rate = sf.read("speech.wav", dtype="float32")  # 16 kHz mono',
                'inputs = extractor(wav, sampling_rate=16000, return_tensors="pt")',
                "with torch.no_grad():",
                "    out = model(**inputs, output_hidden_states=True)",
                "features = out.last_hidden_state  # the model's output",
                "layers = out.hidden_states        # transformer input, then every block"]
        if cls == "Wav2Vec2ForPreTraining":
            code += ["", "# with the quantizer and projections, to go on pretraining with transformers:",
                     f'# Wav2Vec2ForPreTraining.from_pretrained("{name}")']
    back = [] if cls == "Wav2Vec2ForCTC" else [
        "", f"Back to fairseq (to continue pretraining): `lebench from-hf {name} checkpoint.pt`, "
        "then `lebench continue checkpoint.pt --data DIR --save-dir DIR`."]
    return ["```python", *code, "```", *back]


def _verification(v: Verification | None, versions: dict[str, str]) -> list[str]:
    stack = ", ".join(f"{k} {val}" for k, val in versions.items())
    if v is None:
        return [f"Not verified: the conversion ran with `--no-verify` ({stack}). Run "
                "`lebench verify CHECKPOINT THIS_FOLDER` before relying on it."]
    return [f"`lebench to-hf` ran the fairseq checkpoint and this folder (loaded with "
            f"`from_pretrained`) on the same audio, `{Path(v.audio).name}` ({v.seconds:.1f} s), "
            f"in fp32, and compared every hidden state ({stack}). Conversion fails above "
            f"{v.tolerance:.0e}; the largest difference was {v.worst:.2e}.", "", v.to_markdown().strip()]
