"""fairseq <-> HuggingFace conversion of wav2vec2 models, verified by default.

Every output is built under a temporary name beside its destination and renamed into place
only once it is complete and verified: a failed or interrupted conversion leaves nothing that
looks like a model.
"""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Iterator

import torch

from lebench.core.errors import UserError
from lebench.core.files import staged
from lebench.pretrain.config import build_model, wav2vec2_config
from lebench.pretrain.hf.arch import fairseq_model_fields, hf_config_kwargs
from lebench.pretrain.hf.card import model_card
from lebench.pretrain.hf.fairseq_checkpoint import (
    FairseqCheckpoint,
    load_fairseq_model,
    read_checkpoint,
    read_dictionary,
    write_checkpoint,
)
from lebench.pretrain.hf.hf_dir import empty_model, load_hf_model, read_hf_dir, write_hf_dir
from lebench.pretrain.hf.verify import Verification, compare
from lebench.pretrain.hf.weights import (
    HF_PREFIX,
    add_identity_projection,
    check_against,
    drop_identity_projection,
    fairseq_head_prefixes,
    fairseq_to_hf,
    hf_to_fairseq,
)

TARGETS = {"pretraining": "Wav2Vec2ForPreTraining", "encoder": "Wav2Vec2Model", "ctc": "Wav2Vec2ForCTC"}
ALLOWED = {"pretraining": ("pretraining", "encoder"), "ctc": ("ctc", "encoder")}


def to_hf(checkpoint: str | Path, out: str | Path, target: str | None = None,
          dictionary: str | Path | None = None, license: str = "apache-2.0", verify: bool = True,
          audio: str | Path | None = None, force: bool = False) -> tuple[Path, Verification | None]:
    """Convert a fairseq checkpoint to a HuggingFace folder ``out``.

    ``target``: ``pretraining`` (``Wav2Vec2ForPreTraining``, the default for a pretraining
    checkpoint), ``encoder`` (``Wav2Vec2Model``) or ``ctc`` (``Wav2Vec2ForCTC``, the default
    for a CTC fine-tuned checkpoint, which also gets its tokenizer files).
    """
    from transformers import Wav2Vec2Config

    ckpt = read_checkpoint(checkpoint)
    target = target or ckpt.kind
    if target not in ALLOWED[ckpt.kind]:
        raise UserError(f"{ckpt.path}: a {ckpt.kind} checkpoint converts to "
                        f"{' or '.join(ALLOWED[ckpt.kind])}, not {target!r}")
    cls = TARGETS[target]
    vocabulary = read_dictionary(ckpt, dictionary) if ckpt.kind == "ctc" else None
    kwargs = hf_config_kwargs(ckpt.model, str(ckpt.path))
    if ckpt.kind == "ctc":
        kwargs.update(vocab_size=len(vocabulary), pad_token_id=0, bos_token_id=1, eos_token_id=2,
                      final_dropout=ckpt.cfg.model.get("final_dropout", 0.0),
                      ctc_loss_reduction="sum", ctc_zero_infinity=True)
    config = Wav2Vec2Config(**kwargs)
    state, untaken = fairseq_to_hf(ckpt.state, ckpt.kind, cls, ckpt.extractor_norm)
    add_identity_projection(state, cls, config.hidden_size)
    if ckpt.kind == "ctc" and cls == "Wav2Vec2ForCTC":
        state["lm_head.bias"] = _fold_blank_weight(ckpt, state["lm_head.bias"])
    check_against(state, empty_model(config, cls).state_dict(), untaken, str(ckpt.path),
                  "the checkpoint's weights do not fit its own config; was it edited?")
    out = Path(out)
    with _staged(out, force, directory=True) as tmp:
        params = write_hf_dir(tmp, config, cls, state, ckpt.normalize, vocabulary)
        del state
        ckpt.state = {}  # on disk now; verification loads both sides as users will
        verification = _verified(_compare_files(ckpt.path, tmp, cls, ckpt, vocabulary, audio)) \
            if verify else None
        card = model_card(ckpt, out.name, cls, params, license, verification, _versions())
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return out, verification


def to_fairseq(hf_dir: str | Path, out: str | Path, verify: bool = True,
               audio: str | Path | None = None, force: bool = False) -> tuple[Path, Verification | None]:
    """Convert a ``Wav2Vec2ForPreTraining`` / ``Wav2Vec2Model`` folder to a fairseq checkpoint.

    A ``Wav2Vec2Model`` has no quantizer nor projections; they are initialised as fairseq
    initialises them, so pretraining can continue (and train them). The encoder is exact.
    """
    hf = read_hf_dir(hf_dir)
    if hf.cls not in ("Wav2Vec2ForPreTraining", "Wav2Vec2Model"):
        raise UserError(f"{hf.path}: a {hf.cls} model; from-hf converts pretrained models "
                        "(Wav2Vec2ForPreTraining or Wav2Vec2Model)")
    fields = fairseq_model_fields(hf.config, str(hf.path))
    extractor_norm = hf.config.feat_extract_norm
    # Without a preprocessor_config.json, follow LeBenchmark: the layer-norm family normalises.
    normalize = hf.normalize if hf.normalize is not None else extractor_norm == "layer"
    state, untaken = hf_to_fairseq(hf.state, hf.cls, extractor_norm)
    fresh = []
    if hf.cls == "Wav2Vec2Model":
        heads = _fresh_heads(fields)
        fresh = sorted({k.split(".")[0] for k in heads})
        state.update(heads)
    expected = _fairseq_expected(fields)
    if "post_extract_proj.weight" not in expected and "post_extract_proj.weight" in state:
        drop_identity_projection(state, str(hf.path))
    check_against(state, expected, untaken, str(hf.path),
                  "config.json does not describe these weights; fix config.json")
    out = Path(out)
    provenance = {"converted_from": str(hf.path), "hf_class": hf.cls, "fresh_modules": fresh}
    with _staged(out, force, directory=False) as tmp:
        written = write_checkpoint(tmp, fields, normalize, state, provenance)
        del state, expected
        hf.state = {}  # on disk now; verification loads both sides as users will
        verification = _verified(_compare_files(tmp, hf.path, hf.cls, written, None, audio)) \
            if verify else None
    return out, verification


def verify_pair(checkpoint: str | Path, hf_dir: str | Path, dictionary: str | Path | None = None,
                audio: str | Path | None = None) -> Verification:
    """Compare an existing fairseq checkpoint with an existing HuggingFace folder."""
    ckpt = read_checkpoint(checkpoint)
    cls = read_hf_dir(hf_dir).cls  # checks the folder strictly; its weights are not kept
    if cls not in HF_PREFIX:
        raise UserError(f"{hf_dir}: a {cls} model; only {', '.join(HF_PREFIX)} compare with fairseq")
    vocabulary = read_dictionary(ckpt, dictionary) if ckpt.kind == "ctc" else None
    ckpt.state = {}
    return _compare_files(ckpt.path, Path(hf_dir), cls, ckpt, vocabulary, audio)


def _compare_files(fairseq_path: Path, hf_path: Path, cls: str, ckpt: FairseqCheckpoint,
                   vocabulary: list[str] | None, audio) -> Verification:
    """Both models loaded from disk as their users load them, then compared."""
    with tempfile.TemporaryDirectory() as scratch:
        fairseq_model = load_fairseq_model(fairseq_path, Path(scratch), vocabulary, ckpt.labels)
        return compare(fairseq_model, load_hf_model(hf_path, cls), ckpt.kind, ckpt.normalize, audio)


def _verified(result: Verification) -> Verification:
    if not result.ok:
        raise UserError("the converted model does not reproduce the original; nothing was "
                        "written.\n" + result.to_text())
    return result


def _fold_blank_weight(ckpt: FairseqCheckpoint, bias: torch.Tensor) -> torch.Tensor:
    """fairseq can add a constant to the blank logit at inference; HF cannot: fold it into
    the output bias, which is the same computation."""
    weight = float(ckpt.cfg.model.get("blank_weight", 0) or 0)
    if weight == 0:
        return bias
    if ckpt.cfg.model.get("blank_mode", "add") != "add":
        raise UserError(f"{ckpt.path}: model.blank_mode {ckpt.cfg.model.blank_mode!r} sets the "
                        "blank logit to a constant, which transformers cannot express")
    bias = bias.clone()
    bias[0] += weight
    return bias


def _fairseq_expected(fields: dict) -> dict[str, torch.Tensor]:
    return build_model(wav2vec2_config(fields), "meta").state_dict()


def _fresh_heads(fields: dict) -> dict[str, torch.Tensor]:
    """Quantizer and projections as fairseq initialises them (seed 0, reproducible)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_model(wav2vec2_config(fields), "cpu")
    return {k: v for k, v in model.state_dict().items() if k.startswith(fairseq_head_prefixes("pretraining"))}


@contextlib.contextmanager
def _staged(out: Path, force: bool, directory: bool) -> Iterator[Path]:
    """A temporary path beside ``out``, renamed to ``out`` only if the block succeeds."""
    if out.exists() and not force:
        raise UserError(f"{out} exists; choose another output or pass --force to replace it")
    with staged(out, directory) as tmp:
        yield tmp


def _versions() -> dict[str, str]:
    import fairseq
    import transformers

    return {"fairseq": fairseq.__version__, "transformers": transformers.__version__,
            "torch": torch.__version__}


