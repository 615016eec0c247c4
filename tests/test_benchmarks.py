"""The benchmark scripts run and print their tables (they time things; the tests only check
that they work and say what they measured, never how fast)."""

from pathlib import Path

import matplotlib
import numpy as np
import pytest

from repo_scripts import load_benchmark
from zi2zi_lessons import training


def test_explorer_latency_prints_every_row_and_the_target(capsys):
    benchmark = load_benchmark("explorer_latency")
    benchmark.main(1)
    out = capsys.readouterr().out
    for row in ("explorer update", "widget numbers", "widget refresh", "real build"):
        assert row in out
    assert "target: update well under 100 ms and at least 20x faster than the real build -> " in out
    with pytest.raises(SystemExit, match="rounds=0 is not accepted"):
        benchmark.main(0)


def test_train_speed_times_real_training_steps():
    benchmark = load_benchmark("train_speed")
    dataset = benchmark.random_glyphs(32, characters=8, fonts=2)
    assert dataset.source.shape == (8, 32, 32) and dataset.targets.shape == (2, 8, 32, 32)
    assert not dataset.held_out.any() and dataset.source.dtype == np.uint8
    generator = training.tiny_generator_config("classic", 2, ngf=8, embedding_dim=8)
    config = training.TrainingConfig(generator=generator, ndf=4, batch_size=2)
    rate, cpu_per_step, parameters = benchmark.steps_per_second(dataset, config, steps=1, warmup=1)
    assert rate > 0 and cpu_per_step > 0
    assert parameters == sum(p.numel() for p in training.Trainer(dataset, config).generator.parameters())


def test_train_speed_prints_the_lesson_budget_and_the_load(capsys):
    benchmark = load_benchmark("train_speed")
    benchmark.main(["--steps", "1", "--threads", "1", "--skip-default"])
    out = capsys.readouterr().out
    assert "tiny classic (lesson 06)" in out and "tiny attention (lesson 06)" in out
    assert "load average (1/5/15 min) before" in out and "load average after" in out
    assert f"lesson 06's budget: {training.LESSON_STEPS:,} steps per model" in out


def test_full_size_step_builds_the_command_lines_trainer_and_measures_it(tmp_path, capsys):
    from zi2zi_lessons.__main__ import main as command_line

    data = tmp_path / "glyphs.npz"
    sans = str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    serif = sans.replace("DejaVuSans.ttf", "DejaVuSerif.ttf")
    assert command_line(["build-data", "--source", sans, "--target", serif, "--characters", "ABCDEFGH",
                         "--size", "32", "--output", str(data)]) == 0
    benchmark = load_benchmark("full_size_step")
    # the full-size options, made small again by the options given after them
    result = benchmark.main([str(data), "--steps", "1", "--num-downs", "5", "--ngf", "8", "--embedding-dim", "8",
                             "--ndf", "4", "--batch-size", "4"])
    out = capsys.readouterr().out
    assert "32x32 glyphs, batch 4" in out and "one step:" in out and "peak resident memory:" in out
    assert result["seconds_per_step"] > 0 and result["peak_mb_after_steps"] >= result["peak_mb_before_steps"] > 0
    assert benchmark.FULL_SIZE == ["--num-downs", "8", "--ngf", "64", "--embedding-dim", "128", "--ndf", "64",
                                   "--batch-size", "16"]
