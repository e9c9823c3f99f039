"""GPU profiles for estimates: memory, peak throughput, energy per GPU-hour.

Energy and CO2 follow the seed's energy table, whose formula is not printed but is
recovered from its own rows:

    energy_kWh = GPU-hours x kwh_per_gpu_hour          CO2_kg = energy_kWh x 0.052

- ``0.052`` kg CO2 per kWh (French grid): every row of the seed's table gives 51.9-53.8 g.
- ``kwh_per_gpu_hour = 0.300`` for V100 and A100: the LeBenchmark 2.0 rows (14K-light,
  14K-large on V100; 14K-xlarge on A100) give 0.300, 0.300 and 0.302. The seven older rows,
  on the same V100s, give 0.195, 0.167 or 0.333: no single constant reproduces them
  (``bench/README.md``, "Energy").
- H100: the seed has no row; its board TDP (0.7 kW) is used, uncalibrated.

Peak throughput is dense FP16/BF16 tensor-core TFLOP/s from NVIDIA's datasheets. ``mfu``
is the share of it a pretraining step reaches, with FLOPs counted by ``pretrain.flops``:
for V100 the median over the seed's nine V100 rows (their GPU-hours, updates and our
recipes' batches imply 0.014-0.138), for A100 the seed's one A100 row (14K-xlarge), for
H100 the median of the four sizes measured on one, 0.025-0.080 (``bench/README.md``).
"""
from __future__ import annotations

from dataclasses import dataclass

from lebench.core.errors import UserError

KG_CO2_PER_KWH = 0.052


@dataclass(frozen=True)
class Hardware:
    name: str
    gpu: str
    memory_gib: float
    peak_tflops: float
    mfu: float
    kwh_per_gpu_hour: float
    gpus_per_node: int


HARDWARE = {h.name: h for h in (
    Hardware("v100", "Tesla V100-SXM2-32GB", 32, 125, 0.089, 0.300, 4),
    Hardware("a100", "A100-SXM4-80GB", 80, 312, 0.042, 0.300, 8),
    Hardware("h100", "H100-SXM5-80GB", 80, 989, 0.043, 0.700, 4),
)}


def hardware(name: str) -> Hardware:
    if name not in HARDWARE:
        raise UserError(f"unknown hardware {name!r}; known: {', '.join(HARDWARE)}")
    return HARDWARE[name]
