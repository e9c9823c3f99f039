"""The pretraining configs compose through fairseq's own Hydra entry point."""
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from fairseq.dataclass.initialize import hydra_init
from lebench import CONFIG_DIR
from lebench.errors import UserError
from lebench.fairseq_run import config_path

PRETRAIN = CONFIG_DIR / "pretrain"


def compose_pretrain(name: str, overrides=()) -> dict:
    GlobalHydra.instance().clear()
    hydra_init(name)
    with initialize_config_dir(config_dir=str(PRETRAIN), version_base=None):
        cfg = compose(config_name=name, overrides=["task.data=/data", *overrides])
    return OmegaConf.to_container(cfg)


def set_keys(tree: dict, prefix="") -> set[str]:
    out = set()
    for k, v in tree.items():
        out |= set_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k}
    return out


def test_demo_is_a_scaled_down_member_of_the_family():
    demo, base = compose_pretrain("demo"), compose_pretrain("1K-base")
    assert demo["task"]["_name"] == base["task"]["_name"] == "lebench_pretraining"
    assert demo["model"]["_name"] == base["model"]["_name"] == "wav2vec2"
    assert (demo["model"]["encoder_layers"], base["model"]["encoder_layers"]) == (2, 12)
    assert (demo["model"]["encoder_embed_dim"], base["model"]["encoder_embed_dim"]) == (64, 768)
    assert base["optimization"]["max_update"] == 200_000
    assert base["criterion"]["loss_weights"] == demo["criterion"]["loss_weights"] == [0.1, 10]
    assert demo["common"]["cpu"] is True and base["common"]["fp16"] is True


@pytest.mark.parametrize("group_file", sorted(p for p in PRETRAIN.rglob("*.yaml")
                                              if p.parent != PRETRAIN and p.parent.name != "family"))
def test_group_files_only_change_family_keys(group_file: Path):
    family = set_keys(yaml.safe_load((PRETRAIN / "family" / "wav2vec2.yaml").read_text()))
    tree = yaml.safe_load(group_file.read_text())
    package = group_file.read_text().splitlines()[0].split("@package")[-1].strip()
    keys = set_keys(tree, "" if package == "_global_" else package + ".")
    arch_keys = set_keys(yaml.safe_load((PRETRAIN / "arch" / "base.yaml").read_text()), "model.")
    assert keys <= family | arch_keys, keys - family - arch_keys


def test_command_line_overrides_win():
    assert compose_pretrain("demo", ["optimization.max_update=7"])["optimization"]["max_update"] == 7


def test_unknown_config_name_lists_the_real_ones():
    with pytest.raises(UserError, match=r"'dmeo' not found.*available: 1K-base, demo"):
        config_path("pretrain", "dmeo")
