"""``lebench check``: what a pretraining config will train, and what it will cost.

Resolves the config as fairseq-hydra-train does, builds the model on the meta device
(shapes only), and prints parameters, output dimension, effective batch, updates, and
estimated GPU-hours, energy and CO2 for the given hardware and GPU count
(``pretrain.hardware`` and ``pretrain.flops`` hold the formulas and constants). For a model
of the seed table, the seed's own figures are printed beside ours.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from lebench.core.errors import UserError
from lebench.core.fairseq_command import available_configs
from lebench.pretrain.batch_plan import BatchPlan, plan_batch
from lebench.pretrain.config import PRETRAIN_DIR, build_on_meta, model_config, resolve
from lebench.pretrain.fast_path import check_fast_path
from lebench.pretrain.flops import hubert_train_flops_per_audio_second, train_flops_per_audio_second
from lebench.pretrain.hardware import KG_CO2_PER_KWH, Hardware, hardware
from lebench.pretrain.ils_hubert import predict_layers

SEED_MODELS = Path(__file__).with_name("seed_models.tsv")


def seed_models() -> dict[str, dict[str, str]]:
    with open(SEED_MODELS, encoding="utf-8") as f:
        return {r["model"]: r for r in csv.DictReader((l for l in f if not l.startswith("#")),
                                                      delimiter="\t")}


def seed_configs() -> list[str]:
    """The configs of ``configs/pretrain`` that are models of the seed table, by name."""
    return [name for name in available_configs(PRETRAIN_DIR) if name in seed_models()]


@dataclass(frozen=True)
class Energy:
    gpu_hours: float
    kwh: float
    co2_kg: float


def energy(gpu_hours: float, hw: Hardware) -> Energy:
    kwh = gpu_hours * hw.kwh_per_gpu_hour
    return Energy(gpu_hours, kwh, kwh * KG_CO2_PER_KWH)


@dataclass(frozen=True)
class Check:
    name: str
    groups: dict[str, str]
    parameters: int
    output_dim: int
    updates: int
    plan: BatchPlan
    hardware: Hardware
    train_flops_per_audio_second: float
    estimate: Energy
    seed: dict[str, str] | None

    @property
    def wall_hours(self) -> float:
        return self.estimate.gpu_hours / self.plan.world_size

    def to_text(self) -> str:
        hw, est = self.hardware, self.estimate
        lines = [
            f"{self.name}: " + ", ".join(f"{k} {v}" for k, v in self.groups.items()),
            f"  parameters        {self.parameters / 1e6:,.1f}M",
            f"  output dimension  {self.output_dim}",
            f"  updates           {self.updates:,}",
            f"  batch             {self.plan.describe()}",
            f"  compute           {self.train_flops_per_audio_second / 1e9:,.1f} GFLOP per second of "
            f"audio (training); {hw.mfu:.1%} of {hw.peak_tflops:g} TFLOP/s assumed on {hw.gpu}",
            f"  estimate          {_num(est.gpu_hours)} GPU-hours ({_num(self.wall_hours)} h on "
            f"{self.plan.world_size} GPUs), {_num(est.kwh)} kWh, {_num(est.co2_kg)} kg CO2",
        ]
        if self.seed:
            s = self.seed
            own = float(s["train_hours"]) * int(s["energy_gpus"])
            again = energy(own, hardware(s["energy_hardware"]))
            lines.append(
                f"  seed table        {s['params_m']}M parameters, output {s['dim']}, "
                f"{int(s['updates']):,} updates, {s['gpus']} GPUs, {int(s['gpu_hours']):,} GPU-hours; "
                f"{float(s['kwh']):,.1f} kWh, {float(s['co2_kg']):,.1f} kg CO2 (from its "
                f"{own:,.0f} GPU-hours the formula gives {again.kwh:,.1f} kWh, {again.co2_kg:,.1f} kg)")
        return "\n".join(lines)


def _num(x: float) -> str:
    """Thousands separators for large figures, three significant digits for small ones."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def train_flops(cfg, crop_samples: int) -> float:
    """Training FLOPs per second of audio of a composed config, any family."""
    model = model_config(cfg)
    if cfg.model._name == "wav2vec2":
        return train_flops_per_audio_second(model, crop_samples)
    supervised = 1
    if "predict_layers" in cfg.model:  # ILS-SSL
        supervised = len(predict_layers(cfg.model.predict_layers, model.encoder_layers))
    return hubert_train_flops_per_audio_second(model, crop_samples, cfg.task.clusters, supervised)


def check(name: str, overrides: list[str] | tuple[str, ...] = (), gpus: int | None = None,
          hardware_name: str | None = None) -> Check:
    cfg, groups = resolve(name, overrides)
    seed = seed_models().get(name)
    hw_name = hardware_name or groups.get("hardware")
    if hw_name == "cpu" and hardware_name is None:
        hw_name = "v100"  # a CPU demo is costed as if it ran on the V100 partition
    hw = hardware(hw_name)
    check_fast_path(cfg, hw_name)
    gpus = gpus or (int(seed["gpus"]) if seed else 1)
    if cfg.task.get("batch_gpus"):
        plan = plan_batch(cfg.task.batch_gpus, cfg.dataset.max_tokens, gpus, cfg.task.get("step_batches", 1))
    else:
        plan = BatchPlan(0, cfg.dataset.max_tokens, gpus, cfg.optimization.update_freq[0],
                         cfg.dataset.max_tokens)
    model = build_on_meta(cfg)
    flops = train_flops(cfg, cfg.task.max_sample_size)
    updates = cfg.optimization.max_update
    if updates <= 0:
        raise UserError(f"{name}: optimization.max_update is {updates}; set the number of updates")
    gpu_seconds = updates * plan.seconds * flops / (hw.peak_tflops * 1e12 * hw.mfu)
    return Check(name, groups, sum(p.numel() for p in model.parameters()),
                 cfg.model.encoder_embed_dim, updates, plan, hw, flops,
                 energy(gpu_seconds / 3600, hw), seed)
