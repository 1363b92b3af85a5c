"""The schedule figure: a PNG with one curve per schedule; bad input fails before drawing."""
import matplotlib.image as mpimg
import pytest

from nnopt import ConfigError
from nnopt.plot import plot_schedules, specs_from_cli


def test_several_schedules_in_one_png(tmp_path):
    out = plot_schedules([("cosine", {"warmup_steps": 10}), ("step", {"step_size": 30, "rate": 0.5}),
                          ("one_cycle", {"cycle_momentum": True})], 100, tmp_path / "fig" / "s.png",
                         title="three")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert mpimg.imread(out).shape[:2] == (600, 800)  # two panels: lr, then the driven momentum


def test_bad_schedule_raises_config_error_and_writes_nothing(tmp_path):
    with pytest.raises(ConfigError, match="schedule.rate = -1"):
        plot_schedules([("step", {"rate": -1})], 50, tmp_path / "s.png")
    with pytest.raises(ConfigError, match="schedule.name = 'cosin'.*did you mean 'cosine'"):
        plot_schedules([("cosin", {})], 50, tmp_path / "s.png")
    with pytest.raises(ConfigError, match="--steps = 0"):
        plot_schedules([("cosine", {})], 0, tmp_path / "s.png")
    assert not (tmp_path / "s.png").exists()


def test_cli_assignments_go_to_the_schedules_that_take_them():
    specs = specs_from_cli(["cosine", "step"], ["warmup_steps=10", "step.rate=0.5", "min_lr=1e-3",
                                                "cosine.warmup=exponential"])
    assert specs == [("cosine", {"warmup_steps": 10, "min_lr": 0.001, "warmup": "exponential"}),
                     ("step", {"warmup_steps": 10, "rate": 0.5})]
    with pytest.raises(ConfigError, match="has a parameter 'max_lr'"):
        specs_from_cli(["cosine"], ["max_lr=1"])
    with pytest.raises(ConfigError, match="or is named 'cyclic'"):
        specs_from_cli(["cosine"], ["cyclic.max_lr=1"])
    with pytest.raises(ConfigError, match="must look like"):
        specs_from_cli(["cosine"], ["lr"])
