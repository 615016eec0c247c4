"""``python -m zi2zi_lessons evaluate``: the table and ``--json``, against the Evaluation they print."""

import json
from pathlib import Path

import matplotlib
import pytest

from zi2zi_lessons import glyphs, training
from zi2zi_lessons.__main__ import main

MPL_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONTS = [MPL_FONTS / name for name in ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf")]


@pytest.fixture(scope="module")
def run_and_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    dataset, _ = glyphs.build_dataset(FONTS[0], FONTS[1:], "ABCDEFGHKMRS", size=64, held_out_every=4)
    dataset.save(folder / "latin.npz")
    unseen, _ = glyphs.build_dataset(FONTS[0], FONTS[1:], "abcdefg", size=64, held_out_every=1)
    unseen.save(folder / "unseen.npz")
    config = training.TrainingConfig(
        generator=training.tiny_generator_config("classic", num_fonts=2, ngf=8, embedding_dim=8), ndf=4, batch_size=4)
    trainer = training.Trainer(dataset, config)
    trainer.train(2, progress=False)
    trainer.save(folder / "run.pt", training_state=False)
    return folder


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_evaluate_prints_every_number_per_font(run_and_data, capsys):
    code, out, err = run(capsys, "evaluate", run_and_data / "run.pt", run_and_data / "unseen.npz")
    assert code == 0, err
    # the file has no training characters: they are "unseen", not the validation split's "held-out"
    assert "L1 on 7 unseen characters" in out and "held-out" not in out
    assert "data: 7 unseen characters (none for training)" in out
    for column in ("copy source", "blank page", "beats blank", "SSIM", "reduction"):
        assert column in out
    assert "DejaVu Serif" in out and "DejaVu Sans Mono" in out


def test_evaluate_json_is_one_object_with_the_evaluation_in_it(run_and_data, capsys):
    code, out, err = run(capsys, "evaluate", run_and_data / "run.pt", run_and_data / "unseen.npz", "--json")
    assert code == 0, err
    payload = json.loads(out)  # the whole output is one JSON object
    expected = training.evaluate_checkpoint(run_and_data / "run.pt", glyphs.load_glyphs(run_and_data / "unseen.npz"))
    assert payload["checkpoint"] == str(run_and_data / "run.pt") and payload["data"] == str(run_and_data / "unseen.npz")
    assert payload["characters"] == 7 and payload["step"] == 2 and payload["config"]["ndf"] == 4
    assert [font["name"] for font in payload["fonts"]] == ["DejaVu Serif", "DejaVu Sans Mono"]
    for f, font in enumerate(payload["fonts"]):
        assert font["l1"] == pytest.approx(expected.generated_l1[f])
        assert font["copy_source_l1"] == pytest.approx(expected.copy_source_l1[f])
        assert font["blank_l1"] == pytest.approx(expected.blank_l1[f])
        assert font["ssim"] == pytest.approx(expected.ssim[f])
        assert font["beats_blank_share"] == pytest.approx(expected.beats_blank_share[f])


def test_evaluate_json_on_a_missing_checkpoint_is_a_clear_error(run_and_data, capsys):
    code, out, err = run(capsys, "evaluate", run_and_data / "none.pt", "--json")
    assert code == 2 and out == "" and "does not exist" in err
