"""Editor configs: typed, validated with ConfigError naming the field, per-family defaults, JSON round trip."""

from __future__ import annotations

import dataclasses

import pytest

from prefedit.config import config_from_dict, config_to_dict
from prefedit.editing import AlphaEditConfig, FtLConfig, FtMConfig, GraceConfig, LoraEditConfig, MemitConfig, get_editor
from prefedit.errors import ConfigError

from test_editors_support import EDITOR_NAMES

BAD = [
    (MemitConfig, {"layers": (0.7, 0.5)}, "layers"),
    (MemitConfig, {"mom2_weight": -1.0}, "mom2_weight"),
    (AlphaEditConfig, {"nullspace_energy": 2.0}, "nullspace_energy"),
    (FtMConfig, {"norm_constraint": 0.0}, "norm_constraint"),
    (FtLConfig, {"steps": 0}, "steps"),
    (LoraEditConfig, {"components": ("q_proj",)}, "components"),
    (LoraEditConfig, {"rank": 0}, "rank"),
    (GraceConfig, {"radius": -0.1}, "radius"),
    (GraceConfig, {"warm_start": -1}, "warm_start"),
    (GraceConfig, {"guard_ratio": 1.5}, "guard_ratio"),
]


@pytest.mark.parametrize(("cls", "kwargs", "field"), BAD)
def test_bad_values_raise_config_error_naming_the_field(cls, kwargs, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        cls(**kwargs)


@pytest.mark.parametrize("name", EDITOR_NAMES)
def test_configs_are_frozen_documented_and_round_trip(tiny, name: str) -> None:
    ed = get_editor(name)
    config = ed.default_config(tiny("llama"))
    assert isinstance(config, ed.config_class) and config.type == name
    assert dataclasses.fields(config) and all(f.metadata.get("help") for f in dataclasses.fields(config))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.type = "other"  # type: ignore[misc]
    assert config_from_dict(type(config), config_to_dict(config)) == config


def test_layers_are_relative_to_depth(tiny) -> None:
    lm = tiny("llama")  # 2 layers
    assert MemitConfig(layers=(0.0, 0.9)).layer_indices(lm) == [0, 1]
    assert MemitConfig(layers=(1, 1)).layer_indices(lm) == [1]
    assert LoraEditConfig().layer_indices(lm) == [0, 1]
    assert GraceConfig(layer=0.8).layer_index(lm) == 1
