"""Where the constants of ``pretrain/hardware.py`` come from: what each row of the seed's
model and energy tables implies, next to what ``lebench check`` estimates for it.

    .venv/bin/python bench/seed_calibration.py
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lebench.pretrain.check import check, seed_models  # noqa: E402
from lebench.pretrain.hardware import hardware  # noqa: E402


def main() -> None:
    print("| model | own GPU-h | kWh per GPU-h | g CO2 per kWh | implied MFU | seed GPU-h | "
          "check GPU-h | check kWh | seed kWh |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    mfus: dict[str, list[float]] = {}
    for name, row in seed_models().items():
        c = check(name)
        own = float(row["train_hours"]) * int(row["energy_gpus"])
        hw = hardware(row["energy_hardware"])
        audio = c.updates * c.plan.seconds
        mfu = audio * c.train_flops_per_audio_second / (float(row["gpu_hours"]) * 3600 * hw.peak_tflops * 1e12)
        mfus.setdefault(hw.name, []).append(mfu)
        print(f"| {name} | {own:,.0f} | {float(row['kwh']) / own:.3f} | "
              f"{1000 * float(row['co2_kg']) / float(row['kwh']):.1f} | {mfu:.3f} | "
              f"{int(row['gpu_hours']):,} | {c.estimate.gpu_hours:,.0f} | {c.estimate.kwh:,.0f} | "
              f"{float(row['kwh']):,.1f} |")
    for name, values in mfus.items():
        print(f"\n{name}: implied MFU median {statistics.median(values):.3f} over {len(values)} rows "
              f"(range {min(values):.3f}-{max(values):.3f})")


if __name__ == "__main__":
    main()
