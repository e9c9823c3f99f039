"""Conversion commands: fairseq <-> HuggingFace, and the layer-by-layer comparison."""
from __future__ import annotations

import argparse
from pathlib import Path

from lebench.core.errors import UserError


def add_commands(sub) -> None:
    for add in (_to_hf, _from_hf, _verify):
        add(sub)


def _verify_options(p: argparse.ArgumentParser, no_verify_help: str) -> None:
    p.add_argument("--no-verify", action="store_true", help=no_verify_help)
    p.add_argument("--audio", type=Path, help="16 kHz mono audio to verify with (default: a "
                   "French clip shipped here)")


def _print_conversion(out: Path, verification) -> None:
    print(verification.to_text() if verification else "not verified (--no-verify)")
    print(f"-> {out}")


def _to_hf(sub) -> None:
    p = sub.add_parser("to-hf", help="convert a fairseq wav2vec2, HuBERT or ILS-SSL checkpoint to a "
                       "HuggingFace folder")
    p.add_argument("checkpoint", type=Path, help="fairseq checkpoint: wav2vec2 pretraining or CTC "
                   "fine-tuned, HuBERT or ILS-SSL pretraining (-> HubertModel)")
    p.add_argument("out", type=Path, help="output folder (config, safetensors, preprocessor, model card)")
    p.add_argument("--model", choices=("pretraining", "encoder", "ctc"),
                   help="Wav2Vec2ForPreTraining, Wav2Vec2Model or Wav2Vec2ForCTC (default: the "
                        "checkpoint's kind)")
    p.add_argument("--dict", type=Path, help="dict.ltr.txt of a CTC checkpoint (default: "
                   "DATA/dict.LABELS.txt of its task config)")
    p.add_argument("--license", default="apache-2.0", help="model card licence (default: apache-2.0)")
    _verify_options(p, "skip the fairseq/transformers comparison (the card says so)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(run=run_to_hf)


def run_to_hf(a) -> None:
    from lebench.core.checkpoint import load_checkpoint, training_config
    from lebench.pretrain.hf import to_hf
    from lebench.pretrain.hf.hubert import hubert_to_hf
    from lebench.pretrain.hubert import FAMILIES
    cfg = training_config(load_checkpoint(a.checkpoint, mmap=True), a.checkpoint)
    if cfg.model.get("_name") in FAMILIES:
        if a.model or a.dict:
            raise UserError(f"{a.checkpoint}: a HuBERT-family checkpoint converts to HubertModel; "
                            "--model and --dict are for wav2vec2")
        out, verification = hubert_to_hf(a.checkpoint, a.out, a.license, verify=not a.no_verify,
                                         audio=a.audio, force=a.force)
    else:
        out, verification = to_hf(a.checkpoint, a.out, a.model, a.dict, a.license,
                                  verify=not a.no_verify, audio=a.audio, force=a.force)
    _print_conversion(out, verification)


def _from_hf(sub) -> None:
    p = sub.add_parser("from-hf", help="convert a HuggingFace wav2vec2 or HuBERT folder to a fairseq checkpoint")
    p.add_argument("hf_dir", type=Path, help="Wav2Vec2ForPreTraining, Wav2Vec2Model or HubertModel folder")
    p.add_argument("out", type=Path, help="fairseq checkpoint to write (.pt)")
    p.add_argument("--heads-from", type=Path, help="HubertModel: the fairseq checkpoint it was converted "
                   "from, whose prediction heads and config are restored (to continue pretraining)")
    _verify_options(p, "skip the fairseq/transformers comparison")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(run=run_from_hf)


def run_from_hf(a) -> None:
    import json

    from lebench.pretrain.hf import to_fairseq
    from lebench.pretrain.hf.hubert import hf_to_hubert
    config = a.hf_dir / "config.json"
    model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type") if config.is_file() else None
    if model_type == "hubert":
        out, verification = hf_to_hubert(a.hf_dir, a.out, a.heads_from, verify=not a.no_verify,
                                         audio=a.audio, force=a.force)
    elif a.heads_from:
        raise UserError("--heads-from is for HubertModel folders; a wav2vec2 folder keeps its heads")
    else:
        out, verification = to_fairseq(a.hf_dir, a.out, verify=not a.no_verify, audio=a.audio,
                                       force=a.force)
    _print_conversion(out, verification)


def _verify(sub) -> None:
    p = sub.add_parser("verify", help="compare a fairseq checkpoint and a HuggingFace folder layer by layer")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("hf_dir", type=Path)
    p.add_argument("--dict", type=Path, help="dict.ltr.txt of a CTC checkpoint")
    p.add_argument("--audio", type=Path, help="16 kHz mono audio (default: a French clip shipped here)")
    p.set_defaults(run=run_verify)


def run_verify(a) -> None:
    from lebench.pretrain.hf import verify_pair
    result = verify_pair(a.checkpoint, a.hf_dir, a.dict, a.audio)
    print(result.to_text())
    if not result.ok:
        raise UserError(f"{a.hf_dir} does not reproduce {a.checkpoint}")
