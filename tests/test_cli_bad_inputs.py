"""The command line never loses a run: every input a user can get wrong ends in one clear
message (exit status 2, no traceback) naming the argument or file and the value, before any
training step; no saved file is replaced unless the user says so.

Each bad file is made from a good one by changing one thing.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

from zi2zi_lessons.__main__ import main
from zi2zi_lessons.files import temporary_prefix

MPL_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
SANS, SERIF, MONO = (str(MPL_FONTS / name) for name in ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf"))
TINY = ["--ngf", "8", "--embedding-dim", "8", "--ndf", "4", "--batch-size", "4", "--threads", "1"]


def run(capsys, *argv):
    """Run the command line in-process: (exit code, stdout, stderr). Any exception other
    than SystemExit fails the test: that is the traceback a user would have seen."""
    try:
        code = main([str(item) for item in argv])
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def build(path, characters="ABCDEFGHKMRSTUVW", *more):
    code = main(["build-data", "--source", SANS, "--target", SERIF, "--target", MONO, "--characters", characters,
                 "--size", "32", "--held-out-every", "4", "--output", str(path), *more])
    assert code == 0
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A data file and a 2-step resumable run on it (and its generator-only export)."""
    folder = tmp_path_factory.mktemp("good")
    data = build(folder / "data.npz")
    code = main(["train", "--data", str(data), "--steps", "2", "--output", str(folder / "run.pt"),
                 "--export", str(folder / "small.pt"), *TINY])
    assert code == 0
    return folder


def copy(workspace, tmp_path, name):
    shutil.copy(workspace / name, tmp_path / name)
    return tmp_path / name


def assert_clear(code, err, *fragments):
    assert code == 2, err
    assert "Traceback" not in err and err.count("error:") == 1, err
    for fragment in fragments:
        assert fragment in err, err


# ------------------------------------------------------------------ data files
def _rewrite_npz(source: Path, target: Path, change) -> Path:
    with np.load(source) as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    with open(target, "wb") as handle:  # np.savez(path) would append .npz to some names
        np.savez(handle, **arrays)
    return target


def _metadata(change):
    def apply(arrays):
        metadata = json.loads(str(arrays["metadata"]))
        result = change(metadata)
        arrays["metadata"] = np.array(result if isinstance(result, str) else json.dumps(metadata if result is None else result))
    return apply


def _pop(key):
    def apply(font):
        font.pop(key)
    return apply


BAD_DATA = {
    "zero bytes": (lambda good, bad: bad.write_bytes(b""), "is empty (0 bytes)"),
    "truncated": (lambda good, bad: bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2]),
                  "cannot be read (truncated"),
    "text": (lambda good, bad: bad.write_text("characters,source\n"), "cannot be read"),
    "one array": (lambda good, bad: np.save(open(bad, "wb"), np.zeros(3)), "holds one array"),
    "no metadata": (lambda good, bad: _rewrite_npz(good, bad, lambda a: a.pop("metadata")), "the archive lacks 'metadata'"),
    "extra array": (lambda good, bad: _rewrite_npz(good, bad, lambda a: a.update(labels=np.zeros(2))),
                    "the archive has unexpected 'labels'"),
    "font lacks a field": (lambda good, bad: _rewrite_npz(good, bad, _metadata(lambda m: _pop("sha256")(m["source_font"]))),
                           "'source_font' lacks 'sha256'"),
    "font has an extra field": (lambda good, bad: _rewrite_npz(good, bad, _metadata(lambda m: m["target_fonts"][1].update(weight=400))),
                                "'target_fonts'[1] has unexpected 'weight'"),
    "font field mistyped": (lambda good, bad: _rewrite_npz(good, bad, _metadata(lambda m: m["source_font"].update(face_index="0"))),
                            "'face_index' must be an integer"),
    "metadata lacks a field": (lambda good, bad: _rewrite_npz(good, bad, _metadata(lambda m: m.pop("settings") and None)),
                               "its metadata lacks 'settings'"),
    "metadata not an object": (lambda good, bad: _rewrite_npz(good, bad, _metadata(lambda m: [m])), "must be a JSON object, got list"),
    "metadata not JSON": (lambda good, bad: _rewrite_npz(good, bad, _metadata(lambda m: "{'format': 1}")), "its metadata is not JSON"),
    "other format": (lambda good, bad: _rewrite_npz(good, bad, _metadata(lambda m: m.update(format="zi2zi glyphs v0"))),
                     "has format 'zi2zi glyphs v0'"),
    "no target fonts": (lambda good, bad: _rewrite_npz(good, bad, _metadata(lambda m: m.update(target_fonts=[]))),
                        "'target_fonts' must be a non-empty list"),
    "repeated character": (lambda good, bad: _rewrite_npz(good, bad, lambda a: a["characters"].__setitem__(1, "A")),
                           "'characters' repeats 'A'"),
    "images of another shape": (lambda good, bad: _rewrite_npz(good, bad, lambda a: a.update(targets=a["targets"][:1])),
                                "targets must be (fonts, N, S, S)"),
    "float images": (lambda good, bad: _rewrite_npz(good, bad, lambda a: a.update(source=a["source"] / 255)), "must be uint8"),
    "split not bool": (lambda good, bad: _rewrite_npz(good, bad, lambda a: a.update(held_out=a["held_out"].astype(int))),
                       "held_out must be a bool array"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_a_bad_data_file_is_named_with_what_is_wrong(workspace, tmp_path, capsys, case):
    make, message = BAD_DATA[case]
    bad = tmp_path / "bad.npz"
    make(workspace / "data.npz", bad)
    code, out, err = run(capsys, "train", "--data", bad, "--steps", "3", "--output", tmp_path / "x.pt")
    assert_clear(code, err, f"data file '{bad}'", message)
    assert "training steps" not in out and not (tmp_path / "x.pt").exists()
    code, _, err = run(capsys, "evaluate", workspace / "small.pt", bad)
    assert_clear(code, err, f"data file '{bad}'", message)


def test_data_that_is_a_folder_or_an_evaluation_set(workspace, tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", tmp_path, "--steps", "3", "--output", tmp_path / "x.pt")
    assert_clear(code, err, f"data file '{tmp_path}' is a folder")
    evaluation_set = tmp_path / "eval.npz"
    main(["build-data", "--source", SANS, "--target", SERIF, "--target", MONO, "--characters", "abcdefgh",
          "--size", "32", "--held-out-every", "1", "--output", str(evaluation_set)])
    code, _, err = run(capsys, "train", "--data", evaluation_set, "--steps", "3", "--output", tmp_path / "x.pt")
    assert_clear(code, err, f"--data '{evaluation_set}': every character is held out")
    code, _, err = run(capsys, "train", "--data", workspace / "run.pt", "--steps", "3", "--output", tmp_path / "x.pt")
    assert_clear(code, err, "run.pt' is not a zi2zi-lessons glyph file")


# ------------------------------------------------------------------ checkpoints
def _rewrite_checkpoint(good: Path, bad: Path, change) -> Path:
    payload = torch.load(good, weights_only=True)
    change(payload)
    torch.save(payload, bad)
    return bad


def _config(change):
    def apply(payload):
        change(payload["config"])
    return apply


def _reshaped_moment(payload):
    state = payload["optimizer_g"]["state"][0]
    state["exp_avg"] = torch.zeros(3)


BAD_CHECKPOINTS = {
    "no config": (lambda p: p.pop("config"), "it lacks 'config'"),
    "no optimizer_g": (lambda p: p.pop("optimizer_g"), "it lacks 'optimizer_g'"),
    "no discriminator": (lambda p: p.pop("discriminator"), "it lacks 'discriminator'"),
    "unknown entry": (lambda p: p.update(ema=1), "it holds unknown entries 'ema'"),
    "config does not match the weights": (_config(lambda c: c["generator"].update(ngf=16)),
                                          "its generator weights do not match its config: 38 of 47 tensors have another shape"),
    "discriminator config does not match": (_config(lambda c: c.update(ndf=8)), "its discriminator weights do not match its config"),
    "unknown config key": (_config(lambda c: c.update(warmup=3)), "its config has unknown key(s) 'warmup'"),
    "unknown generator key": (_config(lambda c: c["generator"].update(depth=3)), "its config['generator'] has unknown key(s) 'depth'"),
    "config lacks a key": (_config(lambda c: c.pop("seed")), "its config lacks 'seed'"),
    "config value out of range": (_config(lambda c: c.update(batch_size=0)), "batch_size=0 is not accepted"),
    "negative step": (lambda p: p.update(step=-5), "its step must be an integer >= 0, got -5"),
    "step as text": (lambda p: p.update(step="2"), "its step must be an integer >= 0, got '2'"),
    "history shorter than the steps": (lambda p: p["history"]["l1"].pop(), "its history does not cover its 2 steps"),
    "optimiser moments of another shape": (_reshaped_moment, "its optimizer_g holds exp_avg of shape (3,)"),
    "random state replaced": (lambda p: p.update(torch_rng_state=torch.zeros(5, dtype=torch.uint8)),
                              "its torch_rng_state is not a random-generator state"),
    "world size zero": (lambda p: p.update(world_size=0), "its world_size must be a positive integer, got 0"),
}


@pytest.mark.parametrize("case", BAD_CHECKPOINTS)
def test_a_bad_checkpoint_is_named_with_what_is_wrong(workspace, tmp_path, capsys, case):
    change, message = BAD_CHECKPOINTS[case]
    bad = _rewrite_checkpoint(workspace / "run.pt", tmp_path / "bad.pt", change)
    before = bad.read_bytes()
    code, out, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "4",
                         "--resume", bad, "--output", bad)
    assert_clear(code, err, f"checkpoint '{bad}'", message)
    assert "training steps" not in out and bad.read_bytes() == before
    if case not in ("optimiser moments of another shape", "random state replaced", "discriminator config does not match",
                    "config lacks a key"):
        # evaluate reads the same checkpoint (only the generator part of it)
        code, _, err = run(capsys, "evaluate", bad, workspace / "data.npz")
        assert_clear(code, err, f"checkpoint '{bad}'", message)


def test_a_checkpoint_from_before_a_field_was_added_still_loads(workspace, tmp_path, capsys):
    # A generator field added to the package later takes its default (the earlier behaviour);
    # a recipe field missing when resuming is an error (above), since the run would change recipe.
    newest = [key for key in torch.load(workspace / "run.pt", weights_only=True)["config"]["generator"]][-1]
    old = _rewrite_checkpoint(workspace / "run.pt", tmp_path / "old.pt", _config(lambda c: c["generator"].pop(newest)))
    code, out, err = run(capsys, "evaluate", old, workspace / "data.npz")
    assert code == 0, err
    code, out, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "3", "--resume", old, "--output", old)
    assert code == 0 and "training steps 2 -> 3" in out, err


@pytest.mark.parametrize("case, make, message", [
    ("folder", lambda path: path.mkdir(), "is a folder, not a checkpoint file"),
    ("missing", lambda path: None, "does not exist"),
    ("zero bytes", lambda path: path.write_bytes(b""), "is empty (0 bytes)"),
    ("truncated", lambda path: path.write_bytes(b"PK\x03\x04" + b"\0" * 100), "cannot read checkpoint"),
    ("another program's", lambda path: torch.save({"state_dict": {}}, path), "is not a zi2zi-lessons checkpoint"),
])
def test_a_checkpoint_that_is_not_one(workspace, tmp_path, capsys, case, make, message):
    path = tmp_path / "given.pt"
    make(path)
    code, out, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "4",
                         "--resume", path, "--output", tmp_path / "out.pt")
    assert_clear(code, err, str(path), message)
    assert "data:" not in out  # found before the data is even loaded
    code, _, err = run(capsys, "evaluate", path, workspace / "data.npz")
    assert_clear(code, err, str(path), message)


def test_a_generator_only_checkpoint_cannot_be_resumed(workspace, tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "4",
                       "--resume", workspace / "small.pt", "--output", tmp_path / "out.pt")
    assert_clear(code, err, "small.pt' holds only the generator")


# ------------------------------------------------------------------ resuming on other data
@pytest.mark.parametrize("case, other, message", [
    ("other characters, same fonts", ["ABCDEFGHKMRSTUVX"], "characters: 16 in the run, 16 here, first different at position 15 ('W' vs 'X')"),
    ("fewer characters", ["ABCDEFGHKMRS"], "characters: 16 in the run, 12 here"),
    ("another split", ["ABCDEFGHKMRSTUVW", "--held-out-every", "3"], "the held-out split"),
    ("another drawing size", ["ABCDEFGHKMRSTUVW", "--em-fraction", "0.8"], "rendering: {'size': 32, 'em_fraction': 0.875"),
])
def test_resuming_checks_that_the_data_is_the_same(workspace, tmp_path, capsys, case, other, message):
    data = tmp_path / "other.npz"
    characters, *more = other
    if "--held-out-every" in more:
        code = main(["build-data", "--source", SANS, "--target", SERIF, "--target", MONO, "--characters", characters,
                     "--size", "32", "--output", str(data), *more])
        assert code == 0
    else:
        build(data, characters, *more)
    run_file = copy(workspace, tmp_path, "run.pt")
    code, _, err = run(capsys, "train", "--data", data, "--steps", "4", "--resume", run_file, "--output", run_file)
    assert_clear(code, err, f"checkpoint '{run_file}' was trained on other data", message)


def test_resuming_notices_other_pixels_from_the_same_fonts_and_characters(workspace, tmp_path, capsys):
    data = _rewrite_npz(workspace / "data.npz", tmp_path / "other.npz",
                        lambda arrays: arrays["targets"].__setitem__((0, 0, 0, 0), 17))
    run_file = copy(workspace, tmp_path, "run.pt")
    code, _, err = run(capsys, "train", "--data", data, "--steps", "4", "--resume", run_file, "--output", run_file)
    assert_clear(code, err, "the glyph images (same characters, fonts and settings")


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize("args, message", [
    (["--learning-rate", "0"], "argument --learning-rate: '0' must be a number between 0 and 1"),
    (["--learning-rate", "nan"], "argument --learning-rate: 'nan' must be"),
    (["--learning-rate", "1e-3x"], "argument --learning-rate: '1e-3x' is not a number"),
    (["--l1-weight", "inf"], "argument --l1-weight: 'inf' must be a finite number >= 0"),
    (["--constant-weight", "-1"], "argument --constant-weight: '-1' must be a finite number >= 0"),
    (["--steps", "-5"], "argument --steps: '-5' must be a positive integer"),
    (["--steps", "2.5"], "argument --steps: '2.5' is not an integer"),
    (["--checkpoint-every", "0"], "argument --checkpoint-every: '0' must be a positive integer"),
    (["--threads", "0"], "argument --threads: '0' must be a positive integer"),
    (["--seed", "-1"], "argument --seed: '-1' must be an integer >= 0"),
    (["--lr-halve-every", "-5"], "argument --lr-halve-every: '-5' must be an integer >= 0"),
    (["--architecture", "transformer"], "argument --architecture: invalid choice: 'transformer'"),
    (["--batch-size", "1000"], "--batch-size 1000: the data has only 24 training pairs"),
    (["--num-downs", "6"], "image height 32 does not work with num_downs=6"),
    (["--architecture", "attention", "--ngf", "1"], "SelfAttention needs at least 8"),
])
def test_bad_training_options(workspace, tmp_path, capsys, args, message):
    argv = {"--data": workspace / "data.npz", "--steps": "3", "--output": tmp_path / "x.pt", **dict(zip(args[::2], args[1::2]))}
    code, _, err = run(capsys, "train", *[item for pair in argv.items() for item in pair])
    assert_clear(code, err, message)
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.parametrize("args, message", [
    (["--em-fraction", "0"], "argument --em-fraction: '0' must be a number from 0.1 to 2"),
    (["--supersample", "9"], "argument --supersample: '9' must be an integer from 1 to 8"),
    (["--size", "7"], "argument --size: '7' must be an integer >= 8"),
    (["--source", SANS + "#1"], "holds one face (0); face 1 does not exist"),
    (["--source", SANS + "#x"], "the face after '#' must be a number"),
    (["--charset-file", "/no/such/chars.txt"], "charset file '/no/such/chars.txt' does not exist"),
])
def test_bad_build_data_options(tmp_path, capsys, args, message):
    argv = {"--source": SANS, "--target": SERIF, "--output": tmp_path / "out.npz", **dict(zip(args[::2], args[1::2]))}
    if "--charset-file" not in argv:
        argv["--characters"] = "AB"
    code, _, err = run(capsys, "build-data", *[item for pair in argv.items() for item in pair])
    assert_clear(code, err, message)
    assert not (tmp_path / "out.npz").exists()


# ------------------------------------------------------------------ nothing saved is replaced
def test_an_existing_checkpoint_is_never_replaced_unless_asked(workspace, tmp_path, capsys):
    run_file = copy(workspace, tmp_path, "run.pt")
    before = run_file.read_bytes()
    data = workspace / "data.npz"
    code, _, err = run(capsys, "train", "--data", data, "--steps", "3", "--output", run_file, *TINY)
    assert_clear(code, err, f"--output '{run_file}' already exists; give --resume {run_file} to continue that run, --overwrite")
    assert run_file.read_bytes() == before

    # resuming into another existing file does not replace it either
    other = copy(workspace, tmp_path, "small.pt")
    code, _, err = run(capsys, "train", "--data", data, "--steps", "3", "--resume", run_file, "--output", other)
    assert_clear(code, err, f"--output '{other}' already exists")
    # nor does --export
    code, _, err = run(capsys, "train", "--data", data, "--steps", "3", "--resume", run_file, "--output", run_file,
                       "--export", other)
    assert_clear(code, err, f"--export '{other}' already exists; give --overwrite")
    code, _, err = run(capsys, "train", "--data", data, "--steps", "3", "--resume", run_file, "--output", run_file,
                       "--export", run_file)
    assert_clear(code, err, "--export", "must be another file than --output")
    assert run_file.read_bytes() == before and other.read_bytes() == (workspace / "small.pt").read_bytes()

    # the user says so: --resume onto the run's own file, or --overwrite
    code, out, err = run(capsys, "train", "--data", data, "--steps", "3", "--resume", run_file, "--output", run_file)
    assert code == 0, err
    code, out, err = run(capsys, "train", "--data", data, "--steps", "1", "--output", run_file, "--overwrite", *TINY)
    assert code == 0 and "training steps 0 -> 1" in out, err


def test_resume_without_output_continues_in_the_same_file(workspace, tmp_path, capsys):
    run_file = copy(workspace, tmp_path, "run.pt")
    code, out, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "3", "--resume", run_file)
    assert code == 0 and f"training steps 2 -> 3, checkpoint {run_file}" in out, err
    code, _, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "3")
    assert_clear(code, err, "--output CHECKPOINT.pt is required")


def test_data_without_held_out_characters_trains_and_says_where_to_evaluate(tmp_path, capsys):
    data = tmp_path / "all.npz"
    assert main(["build-data", "--source", SANS, "--target", SERIF, "--characters", "ABCDEFGH", "--size", "32",
                 "--held-out-every", "0", "--output", str(data)]) == 0
    code, out, err = run(capsys, "train", "--data", data, "--steps", "1", "--output", tmp_path / "run.pt", *TINY)
    assert code == 0 and "no held-out characters in the data: evaluate on another data file" in out, err


def test_build_data_does_not_replace_a_data_file_unless_asked(workspace, tmp_path, capsys):
    data = copy(workspace, tmp_path, "data.npz")
    before = data.read_bytes()
    argv = ["build-data", "--source", SANS, "--target", SERIF, "--characters", "AB", "--size", "16", "--output", data]
    code, _, err = run(capsys, *argv)
    assert_clear(code, err, f"--output '{data}' already exists; give --overwrite")
    assert data.read_bytes() == before
    code, _, err = run(capsys, *argv, "--overwrite")
    assert code == 0, err
    assert data.read_bytes() != before


def _unwritable_folders(tmp_path):
    """Folders that exist but where no file can be created, even by root (chmod does not stop root)."""
    folders = []
    if Path("/sys/kernel").is_dir():  # sysfs refuses new files to everyone, root included
        folders.append(Path("/sys/kernel"))
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        folders.append(locked)
    return folders


def test_an_unwritable_output_folder_is_found_before_the_first_step(workspace, tmp_path, capsys):
    folders = _unwritable_folders(tmp_path)
    assert folders, "no folder to test with on this system"
    for folder in folders:
        code, out, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "3",
                             "--output", folder / "run.pt", *TINY)
        assert_clear(code, err, f"--output '{folder / 'run.pt'}': cannot write in the folder '{folder}'")
        assert "training steps" not in out
        code, _, err = run(capsys, "build-data", "--source", SANS, "--target", SERIF, "--characters", "AB",
                           "--output", folder / "x.npz")
        assert_clear(code, err, "cannot write in the folder")
    # a "folder" that is a file
    code, _, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "3",
                       "--output", workspace / "data.npz" / "run.pt", *TINY)
    assert_clear(code, err, "data.npz' is not a folder")


def test_a_full_disk_is_found_before_the_first_step(workspace, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    code, out, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "3",
                         "--output", tmp_path / "run.pt", *TINY)
    assert_clear(code, err, "0 MB free in", "a checkpoint of this model takes about")
    assert "training steps" not in out


def test_a_disk_that_fills_up_during_the_run_leaves_the_last_checkpoint_whole(workspace, tmp_path, capsys, monkeypatch):
    run_file = copy(workspace, tmp_path, "run.pt")
    before = run_file.read_bytes()

    def full_disk(payload, file, *args, **kwargs):
        with open(file, "wb") as handle:
            handle.write(b"the first bytes")
        raise OSError(28, "No space left on device", str(file))

    monkeypatch.setattr(torch, "save", full_disk)
    code, out, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "3",
                         "--resume", run_file, "--output", run_file)
    assert code == 1 and "Traceback" not in err and "error: [Errno 28] No space left on device" in err
    assert run_file.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


# ------------------------------------------------------------------ interrupted runs
def test_stale_temporary_files_of_interrupted_writes_are_removed(workspace, tmp_path, capsys):
    run_file = copy(workspace, tmp_path, "run.pt")
    dead = subprocess.Popen(["true"])  # a process id that no longer runs
    dead.wait()
    alive = subprocess.Popen(["sleep", "60"])
    try:
        stale = tmp_path / (temporary_prefix(run_file, dead.pid) + "abc123.pt")
        stale.write_bytes(b"half a checkpoint")
        keep = [
            tmp_path / (temporary_prefix(run_file, alive.pid) + "abc123.pt"),  # its writer may still be writing
            tmp_path / (temporary_prefix(run_file, dead.pid).replace("tmp-", "tmp-otherhost") + "x.pt"),
            tmp_path / (temporary_prefix(tmp_path / "other.pt", dead.pid) + "abc123.pt"),  # another file's
            tmp_path / ".run.pt.backup",
        ]
        for path in keep:
            path.write_bytes(b"not ours to remove")
        link = tmp_path / (temporary_prefix(run_file, dead.pid) + "link.pt")
        link.symlink_to(workspace / "data.npz")
        code, out, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "3",
                             "--resume", run_file, "--output", run_file)
        assert code == 0, err
        assert f"removed {stale}, left by an interrupted write of {run_file}" in out
        assert not stale.exists() and all(path.exists() for path in keep) and link.is_symlink()
    finally:
        alive.kill()
        alive.wait()


def test_a_killed_write_leaves_a_file_the_next_run_removes(workspace, tmp_path, capsys):
    run_file = copy(workspace, tmp_path, "run.pt")
    before = run_file.read_bytes()
    # A process that dies (kill -9) in the middle of writing the checkpoint.
    script = (
        "import os, signal, sys\n"
        "from zi2zi_lessons.files import write_atomically\n"
        "def write(temporary):\n"
        "    open(temporary, 'wb').write(b'half a checkpoint')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "write_atomically(sys.argv[1], write)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, str(run_file)])
    assert killed.returncode == -signal.SIGKILL
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".run.pt.tmp-")]
    assert len(leftovers) == 1 and run_file.read_bytes() == before  # the checkpoint itself is whole
    code, out, err = run(capsys, "train", "--data", workspace / "data.npz", "--steps", "3",
                         "--resume", run_file, "--output", run_file)
    assert code == 0, err
    assert f"removed {leftovers[0]}" in out and not leftovers[0].exists()


def test_ctrl_c_finishes_the_step_and_saves_the_run(workspace, tmp_path):
    output = tmp_path / "run.pt"
    process = subprocess.Popen(
        [sys.executable, "-m", "zi2zi_lessons", "train", "--data", str(workspace / "data.npz"), "--steps", "100000",
         "--output", str(output), *TINY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        assert "training steps 0 -> 100000" in process.stdout.readline() + process.stdout.readline()
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "SIGINT: stopped after step" in err
    step = int(err.split("stopped after step ")[1].split()[0])
    payload = torch.load(output, weights_only=True)
    assert payload["step"] == step > 0 and payload["resumable"]
