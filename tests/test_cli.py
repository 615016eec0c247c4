"""``python -m zi2zi_lessons build-data | train | evaluate``: results, and clear errors first."""

import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

from zi2zi_lessons.__main__ import main
from zi2zi_lessons.glyphs import load_glyphs

MPL_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
SANS, SERIF, MONO = (str(MPL_FONTS / name) for name in ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf"))


def run(capsys, *argv):
    """Run the command line in-process: (exit code, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def latin_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "latin.npz"
    code = main(["build-data", "--source", SANS, "--target", SERIF, "--target", MONO,
                 "--characters", "ABCDEFGHKMRSTUVW中", "--size", "32", "--held-out-every", "4", "--output", str(path)])
    assert code == 0
    return path


def test_build_data_writes_a_file_and_reports_what_it_skipped(latin_data, tmp_path, capsys):
    dataset = load_glyphs(latin_data)
    assert dataset.characters == "ABCDEFGHKMRSTUVW" and dataset.image_size == 32
    assert dataset.settings["command"].startswith("python -m zi2zi_lessons build-data --source")
    code, out, _ = run(capsys, "build-data", "--source", SANS, "--target", SERIF, "--characters", "AB中",
                       "--size", "32", "--output", str(tmp_path / "x.npz"))
    assert code == 0
    assert "kept 2 of 3 requested characters" in out and "中 (U+4E2D)" in out and "not in the font's character map" in out


def test_build_data_from_a_charset_file(tmp_path, capsys):
    charset = tmp_path / "chars.txt"
    charset.write_text("X Y\nZ\n", encoding="utf-8")
    code, out, _ = run(capsys, "build-data", "--source", SANS, "--target", MONO, "--charset-file", str(charset),
                       "--size", "16", "--output", str(tmp_path / "xyz.npz"))
    assert code == 0 and load_glyphs(tmp_path / "xyz.npz").characters == "XYZ"


@pytest.mark.parametrize("args, message", [
    (["--characters", "  "], "the character list is empty"),
    (["--characters", "中文"], "no character is rendered by every font"),
    (["--characters", "AB", "--source", "/no/such/font.ttf"], "font file '/no/such/font.ttf' does not exist"),
    (["--characters", "AB", "--output", "/no/such/folder/x.npz"], "the folder '/no/such/folder' does not exist"),
    (["--characters", "AB", "--output", "x.png"], "must end in .npz"),
    (["--characters", "AB", "--size", "0"], "argument --size: '0' must be an integer >= 8"),
])
def test_build_data_errors_are_clear(tmp_path, capsys, args, message):
    argv = {"--source": SANS, "--target": SERIF, "--output": str(tmp_path / "out.npz")}
    for flag, value in zip(args[::2], args[1::2]):
        argv[flag] = value
    code, out, err = run(capsys, "build-data", *[item for pair in argv.items() for item in pair])
    assert code == 2 and message in err
    assert not (tmp_path / "out.npz").exists()


def test_a_font_file_that_is_not_a_font_fails_before_rendering(tmp_path, capsys):
    bad = tmp_path / "bad.ttf"
    bad.write_text("hello")
    code, _, err = run(capsys, "build-data", "--source", SANS, "--target", str(bad), "--characters", "AB",
                       "--output", str(tmp_path / "out.npz"))
    assert code == 2 and "cannot read font file" in err and "bad.ttf" in err


def test_strict_refuses_to_skip(tmp_path, capsys):
    code, _, err = run(capsys, "build-data", "--source", SANS, "--target", SERIF, "--characters", "A中", "--strict",
                       "--size", "16", "--output", str(tmp_path / "s.npz"))
    assert code == 1 and "--strict" in err and not (tmp_path / "s.npz").exists()


def test_train_resume_and_evaluate(latin_data, tmp_path, capsys):
    checkpoint = tmp_path / "run.pt"
    small = tmp_path / "small.pt"
    common = ["--data", str(latin_data), "--output", str(checkpoint), "--threads", "1"]
    code, out, err = run(capsys, "train", *common, "--steps", "2", "--ngf", "8", "--embedding-dim", "8",
                         "--ndf", "4", "--batch-size", "4", "--export", str(small))
    assert code == 0, err
    assert "training steps 0 -> 2" in out and "copy source" in out and small.is_file()

    code, out, err = run(capsys, "train", *common, "--steps", "3", "--resume", str(checkpoint))
    assert code == 0, err
    assert "training steps 2 -> 3" in out

    code, out, err = run(capsys, "train", *common, "--steps", "3", "--resume", str(checkpoint))
    assert code == 2 and "already at step 3" in err

    code, out, err = run(capsys, "train", *common, "--steps", "5", "--resume", str(checkpoint), "--ngf", "16")
    assert code == 2 and "--ngf: cannot be changed when resuming" in err

    code, out, err = run(capsys, "evaluate", str(small), str(latin_data))
    assert code == 0, err
    assert "L1 on 4 held-out characters" in out and "DejaVu Sans Mono" in out and "overall" in out

    code, out, err = run(capsys, "evaluate", str(tmp_path / "missing.pt"), str(latin_data))
    assert code == 2 and "does not exist" in err


def test_train_refuses_bad_arguments_before_loading_anything(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--steps", "0", "--output", str(tmp_path / "x.pt"))
    assert code == 2 and "'0' must be a positive integer" in err
    code, _, err = run(capsys, "train", "--steps", "5", "--output", str(tmp_path / "x.ckpt"))
    assert code == 2 and "must end in .pt" in err
    code, _, err = run(capsys, "train", "--steps", "5", "--output", str(tmp_path / "x.pt"), "--data", str(tmp_path / "no.npz"))
    assert code == 2 and "does not exist" in err


def test_the_module_runs_as_a_program():
    result = subprocess.run([sys.executable, "-m", "zi2zi_lessons", "--help"], capture_output=True, text=True, check=True)
    assert "build-data" in result.stdout and "evaluate" in result.stdout


def test_the_learning_rate_halving_is_the_lessons_unless_the_option_says_otherwise():
    from zi2zi_lessons import training
    from zi2zi_lessons.__main__ import build_parser, training_config

    parser = build_parser()
    default = training_config(parser.parse_args(["train", "--steps", "1"]), num_fonts=3)
    assert default.lr_halve_every == training.TrainingConfig().lr_halve_every == 700
    never = training_config(parser.parse_args(["train", "--steps", "1", "--lr-halve-every", "0"]), num_fonts=3)
    assert never.lr_halve_every == 0 and never.learning_rate_at(5000) == never.learning_rate
    assert training.zi2zi_recipe().lr_halve_every == 0  # zi2zi halves every 10 epochs: never within the budget
