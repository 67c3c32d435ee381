"""Experiment definitions: TOML both ways, checks that refuse bad input, points and trials."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.experiments.spec import (
    AshaSpec,
    ExperimentSpec,
    Point,
    Range,
    SearchSpec,
    coerce,
    dump_toml,
)


def full_spec() -> ExperimentSpec:
    spec = ExperimentSpec(
        "aug-sweep", model="dl-dilated-4k", seeds=[0, 1, 2], objective="val_loss",
        description='quotes " and | pipes', base={"val_split": "10000", "ema": "true"},
        variants={"A": {"label_smoothing": 0.05}, "B": {"augment": "0.3"}},
        search=SearchSpec("grid", {"lr": [0.01, "0.02"]}), asha=AshaSpec(2, 3))
    spec.validate()
    return spec


def test_toml_round_trip_keeps_every_field_and_types() -> None:
    spec = full_spec()
    again = ExperimentSpec.from_toml(spec.to_toml())
    assert again == spec
    assert again.base == {"val_split": 10000, "ema": True}  # coerced to TrainConfig's types
    assert again.search.space["lr"] == [0.01, 0.02]
    ranged = ExperimentSpec("r", search=SearchSpec("tpe", {"lr": Range(1e-3, 0.1, True),
                                                         "epochs": Range(5, 15)}, n_trials=4))
    ranged.validate()
    assert ExperimentSpec.from_toml(ranged.to_toml()) == ranged


def test_grid_points_cross_variants_with_values_in_order() -> None:
    points = full_spec().grid_points()
    assert [p.label for p in points] == ["A · lr=0.01", "A · lr=0.02", "B · lr=0.01",
                                         "B · lr=0.02"]
    assert [p.index for p in points] == [0, 1, 2, 3]
    spec = full_spec()
    overrides = spec.overrides(points[3], seed=2)
    assert overrides == {"model": "dl-dilated-4k", "val_split": 10000, "ema": True,
                         "augment": 0.3, "lr": 0.02, "seed": 2}
    assert ExperimentSpec("plain").grid_points() == [Point(0, "", {})]


def test_trial_config_applies_the_writeup_recipe_then_the_experiment() -> None:
    spec = ExperimentSpec("eva", model="eva5-s4", writeup_recipe=True, base={"device": "cpu"})
    spec.validate()
    config = spec.trial_config(spec.grid_points()[0], seed=3)
    assert (config.epochs, config.schedule, config.step_size, config.seed) == (19, "step", 9, 3)
    spec.base["epochs"] = 4
    assert spec.trial_config(spec.grid_points()[0], seed=0).epochs == 4


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "x", "colour": 1}, "Unknown experiment key"),
    ({"name": "bad name!"}, "experiment name"),
    ({"name": "x", "seeds": [0, 0]}, "repeat"),
    ({"name": "x", "seeds": []}, "Give 1 to 100 seeds"),
    ({"name": "x", "objective": "test_acc"}, "never the test set"),
    ({"name": "x", "base": {"lr": "fast"}}, "lr = 'fast' is not a float"),
    ({"name": "x", "base": {"seed": 1}}, "not a training setting"),
    ({"name": "x", "base": {"epochs": 2.5}}, "not an int"),
    ({"name": "x", "search": {"space": {"lr": {"low": 0.1, "high": 0.2}}}}, "needs a list"),
    ({"name": "x", "search": {"kind": "tpe", "space": {"lr": [0.1]}}}, "n_trials"),
    ({"name": "x", "search": {"kind": "random", "n_trials": 2,
                              "space": {"lr": {"low": 0.2, "high": 0.1}}}}, "low < high"),
    ({"name": "x", "search": {"kind": "random", "n_trials": 2,
                              "space": {"optimizer": {"low": 1, "high": 2}}}}, "numeric"),
    ({"name": "x", "variants": {"A": {}}, "search": {"kind": "random", "n_trials": 1,
                                                     "space": {"lr": [0.1]}}}, "Variants go"),
    ({"name": "x", "search": {"kind": "bayes"}}, "search kind"),
    ({"name": "x", "search": {"space": {"lr": []}}}, "at least one value"),
    ({"seeds": [0]}, "lacks 'name'"),
])
def test_bad_definitions_are_refused_with_a_message(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ExperimentSpec.from_dict(data)


def test_invalid_toml_says_so() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        ExperimentSpec.from_toml("name = \n")


def test_coerce_reads_flag_text_as_the_settings_type() -> None:
    assert coerce("ema", "off") is False and coerce("nesterov", "yes") is True
    assert coerce("epochs", "12") == 12 and coerce("lr", "2e-2") == 0.02
    assert coerce("optimizer", "adam") == "adam"
    with pytest.raises(ConfigError):
        coerce("ema", "maybe")


def test_toml_writer_escapes_strings() -> None:
    import tomllib

    text = dump_toml({"a": 'say "hi"\n\\', "t": {"n": [1, 2.5, True]}})
    assert tomllib.loads(text) == {"a": 'say "hi"\n\\', "t": {"n": [1, 2.5, True]}}


def test_the_help_texts_toml_example_is_a_valid_definition() -> None:
    import textwrap

    from core.cli.experiment import TOML_EXAMPLE

    spec = ExperimentSpec.from_toml(textwrap.dedent(TOML_EXAMPLE.split("\n", 1)[1]))
    assert [p.label for p in spec.grid_points()] == ["A · lr=0.01", "A · lr=0.02",
                                                     "B · lr=0.01", "B · lr=0.02"]
