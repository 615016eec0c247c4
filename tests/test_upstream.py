"""zi2zi_lessons.upstream: real zi2zi-pytorch checkpoints load, compute what upstream computed,
go back to upstream's layout exactly, and bad files get clear errors (never a partial load)."""

import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from zi2zi_lessons import UNetGenerator, upstream
from zi2zi_lessons.__main__ import main
from zi2zi_lessons.anatomy import count_parameters
from zi2zi_lessons.discriminator import Discriminator
from zi2zi_lessons.unet import UnetSkipConnectionBlock

FIXTURES = Path(__file__).parent / "fixtures" / "upstream"
FOLDERS = ("euphoria_classic", "max32002_fork")
TOLERANCE = 1e-5  # max |difference| / max |upstream value|
SECOND_OUTPUT = {"euphoria_classic": upstream.generate_with_bottleneck, "max32002_fork": upstream.generate_with_fork_feature}


def generator_file(folder):
    return FIXTURES / folder / "100_net_G.pth"


def discriminator_file(folder):
    return FIXTURES / folder / "100_net_D.pth"


def made_with(folder):
    return json.loads((FIXTURES / folder / "made_with.json").read_text())


def expected(folder):
    return torch.load(FIXTURES / folder / "expected_outputs.pt", weights_only=True)


def raw(path):
    return torch.load(path, map_location="cpu", weights_only=True)


# ------------------------------------------------------------------ upstream's outputs, reproduced
@pytest.mark.parametrize("folder", FOLDERS)
def test_generator_computes_what_upstream_computed(folder):
    model = upstream.load_generator(generator_file(folder))
    outputs = expected(folder)
    assert not model.training
    assert count_parameters(model) == made_with(folder)["generator_parameters"]
    with torch.no_grad():
        generated = model(outputs["images"], outputs["labels"])
        generated_too, encoded = SECOND_OUTPUT[folder](model, outputs["images"], outputs["labels"])
    assert torch.equal(generated, generated_too)
    assert upstream.relative_difference(generated, outputs["generated"]) < TOLERANCE
    assert encoded.shape == outputs["encoded"].shape
    assert upstream.relative_difference(encoded, outputs["encoded"]) < TOLERANCE


@pytest.mark.parametrize("folder", FOLDERS)
def test_discriminator_computes_what_upstream_computed(folder):
    model = upstream.load_discriminator(discriminator_file(folder))
    outputs = expected(folder)
    assert not model.training
    assert count_parameters(model) == made_with(folder)["discriminator_parameters"]
    assert model.config.image_size == made_with(folder)["image_size"]
    with torch.no_grad():
        real_fake, category = model(outputs["pairs"])
    assert upstream.relative_difference(real_fake, outputs["real_fake_logits"]) < TOLERANCE
    assert upstream.relative_difference(category, outputs["category_logits"]) < TOLERANCE


@pytest.mark.parametrize("folder", FOLDERS)
def test_configuration_is_read_off_the_weights(folder):
    arguments = made_with(folder)["generator_arguments"]
    config = upstream.generator_config(generator_file(folder))
    for name in ("ngf", "num_downs", "embedding_num", "embedding_dim", "norm"):
        assert getattr(config, name) == arguments[name], name
    if folder == "euphoria_classic":
        assert (config.upsample, config.skip, config.attention_levels) == ("transpose", "concat", ())
        assert upstream.upstream_generator_code(config).repository == upstream.CLASSIC[0]
    else:
        assert (config.upsample, config.skip, config.attention_levels) == ("pixelshuffle", "add_activated", (3, 4))
        assert config.scaled_attention
        code = upstream.upstream_generator_code(config)
        assert code.repository == upstream.FORK[0] and "use_res_skip=True" in code.call
    disc = upstream.discriminator_config(discriminator_file(folder))
    assert disc.reduce_to_one_channel and (disc.ndf, disc.norm) == (8, made_with(folder)["discriminator_arguments"]["norm"])


def test_the_fork_needs_both_options_to_match():
    """Without the activated add skip the fork's image is far off; unscaled attention also moves it."""
    model = upstream.load_generator(generator_file("max32002_fork"))
    outputs = expected("max32002_fork")
    differences = {}
    for change in ({"skip": "add"}, {"scaled_attention": False}):
        other = UNetGenerator.from_config(replace(model.config, **change)).eval()
        other.load_state_dict(model.state_dict())
        with torch.no_grad():
            differences[tuple(change)] = upstream.relative_difference(other(outputs["images"], outputs["labels"]), outputs["generated"])
    assert differences[("skip",)] > 0.05
    assert differences[("scaled_attention",)] > 10 * TOLERANCE


def test_activated_add_skip_adds_leaky_relu_of_the_input():
    torch.manual_seed(0)
    block = UnetSkipConnectionBlock(8, 16, embedding_dim=4, skip="add_activated").eval()
    plain = UnetSkipConnectionBlock(8, 16, embedding_dim=4, skip="add").eval()
    plain.load_state_dict(block.state_dict())
    x, style = torch.randn(2, 8, 4, 4), torch.randn(2, 4)
    with torch.no_grad():
        up = plain(x, style)[0] - x
        assert torch.allclose(block(x, style)[0], torch.nn.functional.leaky_relu(x, 0.2) + up, atol=1e-6)
    assert block.out_channels == plain.out_channels == 8


def test_encoded_maps_are_every_levels_map():
    model = UNetGenerator(num_downs=5, ngf=8, embedding_num=3, embedding_dim=8).eval()
    images = torch.rand(2, 1, 64, 64)
    maps = model.encoded_maps(images)
    assert [tuple(m.shape[1:]) for m in maps] == [(8, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4), (64, 2, 2)]
    assert torch.equal(maps[-1], model.encode(images))


def test_fork_feature_needs_six_levels():
    model = UNetGenerator(num_downs=5, ngf=8, embedding_num=3, embedding_dim=8)
    with pytest.raises(ValueError, match="at least 6 levels.*num_downs=5"):
        upstream.generate_with_fork_feature(model, torch.rand(1, 1, 32, 32), torch.tensor([0]))


def test_new_options_are_checked():
    with pytest.raises(ValueError, match="scaled_attention='yes' is not accepted"):
        UNetGenerator(scaled_attention="yes")
    with pytest.raises(ValueError, match="reduce_to_one_channel=1 is not accepted"):
        Discriminator(reduce_to_one_channel=1)
    with pytest.raises(ValueError, match="skip='add_relu' is not accepted.*'add_activated'"):
        UNetGenerator(skip="add_relu")


# ------------------------------------------------------------------ round trips
def trained_looking(config: dict, seed: int = 0) -> UNetGenerator:
    """A generator with random weights, non-zero gammas and batch statistics, in eval mode."""
    torch.manual_seed(seed)
    model = UNetGenerator(**config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
        model.train()
        size = 2 ** model.config.num_downs
        model(torch.rand(4, model.config.input_nc, size, size) * 2 - 1, torch.arange(4) % model.config.embedding_num)
    return model.eval()


SMALL = dict(ngf=8, embedding_num=5, embedding_dim=8)
ROUND_TRIP_CONFIGS = {
    "classic": dict(SMALL, num_downs=6),
    "fork": dict(SMALL, num_downs=6, norm="instance", upsample="pixelshuffle", skip="add_activated",
                 attention_levels=(3, 4), scaled_attention=True),
    "fork, concat, batch norm": dict(SMALL, num_downs=7, upsample="pixelshuffle", attention_levels=(3, 4), scaled_attention=True),
    "mixed skips, attention elsewhere": dict(SMALL, num_downs=5, input_nc=3, output_nc=2, attention_levels=(2, 5),
                                             scaled_attention=True, level_skips={3: "add_activated", 5: "add_activated"}),
}


@pytest.mark.parametrize("name", ROUND_TRIP_CONFIGS)
def test_package_to_upstream_layout_to_package_is_exact(name, tmp_path):
    model = trained_looking(ROUND_TRIP_CONFIGS[name])
    path = upstream.save_generator(model, tmp_path / "100_net_G.pth")
    back = upstream.load_generator(path)
    assert back.levels(None) == model.levels(None)
    for field in ("input_nc", "output_nc", "num_downs", "ngf", "embedding_num", "embedding_dim", "norm", "upsample",
                  "attention_levels", "scaled_attention"):
        assert getattr(back.config, field) == getattr(model.config, field), field
    original, loaded = model.state_dict(), back.state_dict()
    assert original.keys() == loaded.keys()
    assert all(torch.equal(original[key], loaded[key]) for key in original)
    size = 2 ** model.config.num_downs
    images, labels = torch.rand(2, model.config.input_nc, size, size) * 2 - 1, torch.tensor([0, 4])
    with torch.no_grad():
        assert torch.equal(back(images, labels), model(images, labels))


@pytest.mark.parametrize("folder", FOLDERS)
def test_upstream_file_to_package_to_upstream_layout_is_bitwise_the_same(folder, tmp_path):
    original = raw(generator_file(folder))
    written = raw(upstream.save_generator(upstream.load_generator(generator_file(folder)), tmp_path / "G.pth"))
    assert written.keys() == original.keys()
    assert all(torch.equal(written[key], original[key]) and written[key].dtype == original[key].dtype for key in original)
    original = raw(discriminator_file(folder))
    written = raw(upstream.save_discriminator(upstream.load_discriminator(discriminator_file(folder)), tmp_path / "D.pth"))
    assert written.keys() == original.keys()
    assert all(torch.equal(written[key], original[key]) for key in original)


@pytest.mark.parametrize("one_channel", (True, False))
def test_discriminator_round_trip_is_exact(one_channel, tmp_path):
    torch.manual_seed(0)
    model = Discriminator(image_size=48, ndf=4, embedding_num=3, norm="instance", reduce_to_one_channel=one_channel).eval()
    back = upstream.load_discriminator(upstream.save_discriminator(model, tmp_path / "D.pth"), image_size=48)
    assert back.config == model.config
    pairs = torch.rand(2, 2, 48, 48)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(back(pairs), model(pairs)))
    assert (upstream.upstream_discriminator_code(model.config) is not None) == one_channel


def test_discriminator_image_size_is_read_off_the_heads_or_checked():
    assert upstream.discriminator_config(discriminator_file("euphoria_classic")).image_size == 64
    assert upstream.discriminator_config(discriminator_file("euphoria_classic"), image_size=60).image_size == 60
    with pytest.raises(ValueError, match=r"image_size=128 does not fit .*8x8 map, which images of 57 to 64 pixels give"):
        upstream.load_discriminator(discriminator_file("euphoria_classic"), image_size=128)


def test_dataparallel_prefix_is_removed():
    state = {"module." + key: value for key, value in raw(generator_file("max32002_fork")).items()}
    model = upstream.load_generator(state)
    reference = upstream.load_generator(generator_file("max32002_fork"))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))


def relabel_as_cuda(path: Path, out: Path) -> Path:
    """Rewrite a torch.save zip so that its tensors say they were saved on cuda:0."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    pickle_name = next(name for name in members if name.endswith("data.pkl"))
    members[pickle_name] = members[pickle_name].replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    out.write_bytes(buffer.getvalue())
    return out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only path")
def test_a_file_saved_on_a_gpu_loads_on_the_cpu(tmp_path):
    path = relabel_as_cuda(generator_file("euphoria_classic"), tmp_path / "cuda_G.pth")
    with pytest.raises(RuntimeError, match="CUDA"):  # the file really says cuda
        torch.load(path, weights_only=True)
    model = upstream.load_generator(path)
    outputs = expected("euphoria_classic")
    with torch.no_grad():
        assert upstream.relative_difference(model(outputs["images"], outputs["labels"]), outputs["generated"]) < TOLERANCE


# ------------------------------------------------------------------ bad files: clear errors, nothing half loaded
def saved(tmp_path, obj, name="bad.pth"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def without(state, key):
    return {k: v for k, v in state.items() if k != key}


def replaced(state, key, tensor):
    return {**state, key: tensor}


G_STATE = raw(generator_file("euphoria_classic"))
FORK_STATE = raw(generator_file("max32002_fork"))
D_STATE = raw(discriminator_file("euphoria_classic"))

BAD_GENERATORS = {
    "a list": ([1, 2, 3], r"holds a list, not a state_dict"),
    "a tensor": (torch.zeros(3), r"holds a Tensor, not a state_dict"),
    "an empty dict": ({}, r"is an empty dict"),
    "a nested checkpoint": ({"state_dict": G_STATE, "epoch": 3}, r"besides tensors it holds 'state_dict' \(OrderedDict\), 'epoch' \(int\)"),
    "a discriminator": (D_STATE, r"holds a zi2zi discriminator .*open it with load_discriminator"),
    "no embedding": (without(G_STATE, "embedder.weight"), r"lacks 'embedder.weight'"),
    "no up-convolution": (without(G_STATE, "model.submodule.up.1.weight"), r"key 'model.submodule.up.1.weight' is missing"),
    "missing statistics": (without(G_STATE, "model.submodule.down.2.running_var"), r"missing model.submodule.down.2.running_var"),
    "an extra tensor": ({**G_STATE, "model.extra.weight": torch.zeros(2)}, r"unexpected model.extra.weight"),
    "a wrong embedding width": (replaced(G_STATE, "embedder.weight", torch.zeros(6, 17)), r"plus the style embedding \(17\) make 81"),
    "a wrong norm shape": (replaced(G_STATE, "model.submodule.down.2.weight", torch.zeros(15)),
                           r"wrong shapes: model.submodule.down.2.weight \(15,\) \(expected \(16,\)\)"),
    "a wrong width": (replaced(G_STATE, "model.submodule.down.1.weight", torch.zeros(12, 8, 4, 4)),
                      r"level 2's down-convolution maps 8 -> 12 channels; .* maps 8 -> 16"),
    "a 1-d embedding": (replaced(G_STATE, "embedder.weight", torch.zeros(6)), r"'embedder.weight' has shape \(6,\), a 2-d tensor"),
    "mixed prefixes": ({("module." + k if i % 2 else k): v for i, (k, v) in enumerate(G_STATE.items())}, r"mixes keys with and without .*'module.'"),
    "the lessons' layout": ({k.replace("att.query_conv", "attention.query"): v for k, v in FORK_STATE.items()}, r"zi2zi-lessons layout"),
    "too few levels": ({k: v for k, v in G_STATE.items() if k.count("submodule") < 4 or k.startswith("embedder")},
                       r"the generator has 4 levels; a zi2zi generator has at least 5"),
}


@pytest.mark.parametrize("case", BAD_GENERATORS)
def test_bad_generator_files_raise_a_clear_error_and_load_nothing(case, tmp_path, monkeypatch):
    content, message = BAD_GENERATORS[case]
    path = saved(tmp_path, content)
    loads = []
    monkeypatch.setattr(UNetGenerator, "load_state_dict", lambda self, *a, **k: loads.append(1))
    with pytest.raises(ValueError, match=message) as error:
        upstream.load_generator(path)
    assert "'" + str(path) + "'" in str(error.value) or "bad.pth" in str(error.value)
    assert not loads, "load_state_dict ran on a bad file"


def test_unreadable_files(tmp_path):
    whole = generator_file("euphoria_classic").read_bytes()
    cases = {
        "truncated.pth": (whole[: len(whole) // 2], "truncated or corrupted"),
        "empty.pth": (b"", r"is empty \(0 bytes\)"),
        "text.pth": (b"not a checkpoint\n", "not a file torch.save wrote"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=message):
            upstream.load_generator(tmp_path / name)
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pth")
    with pytest.raises(ValueError, match=r"Python objects besides tensors .*torch.nn.modules.linear.Linear"):
        upstream.load_generator(tmp_path / "module.pth")
    with pytest.raises(ValueError, match="does not exist"):
        upstream.load_generator(tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="is a directory"):
        upstream.load_discriminator(tmp_path)


BAD_DISCRIMINATORS = {
    "a generator": (G_STATE, r"holds a zi2zi generator .*open it with load_generator"),
    "no category head": (without(D_STATE, "catagory.weight"), r"lacks 'catagory.weight'"),
    "spectral norm": ({**{k.replace("model.0.weight", "model.0.weight_orig"): v for k, v in D_STATE.items()},
                       "model.0.weight": D_STATE["model.0.weight"], "model.0.weight_u": torch.zeros(8)}, r"spectrally normalised"),
    "a wrong width": (replaced(D_STATE, "model.5.weight", torch.zeros(24, 16, 5, 5)), r"make \[8, 16, 24, 64\] channels"),
    "heads of another map": (replaced(replaced(D_STATE, "binary.weight", torch.zeros(1, 50)), "catagory.weight", torch.zeros(6, 50)),
                             r"read 50 features, which is not 1 channel\(s\) of a square map"),
    "missing statistics": (without(D_STATE, "model.3.running_mean"), r"missing model.3.running_mean"),
    "an empty dict": ({}, "empty dict"),
}


@pytest.mark.parametrize("case", BAD_DISCRIMINATORS)
def test_bad_discriminator_files_raise_a_clear_error(case, tmp_path, monkeypatch):
    content, message = BAD_DISCRIMINATORS[case]
    loads = []
    monkeypatch.setattr(Discriminator, "load_state_dict", lambda self, *a, **k: loads.append(1))
    with pytest.raises(ValueError, match=message):
        upstream.load_discriminator(saved(tmp_path, content))
    assert not loads


@pytest.mark.parametrize("change, message", [
    (dict(level_skips={3: "none"}), r"level 3 has skip='none'"),
    (dict(skip="add"), r"level 2 has skip='add'"),
    (dict(attention_levels=(3,)), r"attention is unscaled"),
])
def test_save_refuses_what_the_layout_cannot_carry(change, message, tmp_path):
    model = UNetGenerator(**dict(SMALL, num_downs=5), **change)
    with pytest.raises(ValueError, match=message + r".*Nothing was written"):
        upstream.save_generator(model, tmp_path / "G.pth")
    assert not (tmp_path / "G.pth").exists()


def test_save_never_replaces_a_file_silently(tmp_path):
    model = UNetGenerator(**dict(SMALL, num_downs=5))
    path = tmp_path / "G.pth"
    path.write_bytes(b"the user's file")
    with pytest.raises(ValueError, match="exists; pass overwrite=True"):
        upstream.save_generator(model, path)
    assert path.read_bytes() == b"the user's file"
    upstream.save_generator(model, path, overwrite=True)
    assert upstream.generator_config(path).num_downs == 5
    with pytest.raises(ValueError, match="is a directory"):
        upstream.save_generator(model, tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        upstream.save_discriminator(Discriminator(image_size=32, ndf=4), tmp_path / "no" / "D.pth")
    with pytest.raises(ValueError, match="model must be a UNetGenerator, got Discriminator"):
        upstream.save_generator(Discriminator(image_size=32, ndf=4), tmp_path / "x.pth")


def test_which_upstream_code_builds_a_model():
    classic = UNetGenerator(**dict(SMALL, num_downs=6)).config
    assert "runs only on a 1x1 bottleneck: 64x64" in str(upstream.upstream_generator_code(classic))
    assert upstream.upstream_generator_code(replace(classic, attention_levels=(3, 4))) is None  # unscaled
    fork_five_levels = replace(classic, attention_levels=(3, 4), scaled_attention=True, num_downs=5)
    assert upstream.upstream_generator_code(fork_five_levels) is None  # the fork always builds >= 6 levels
    mixed = replace(classic, attention_levels=(3, 4), scaled_attention=True, level_skips={4: "add_activated"})
    assert upstream.upstream_generator_code(mixed) is None  # one use_res_skip for every level


# ------------------------------------------------------------------ python -m zi2zi_lessons inspect
def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_inspect_an_upstream_generator(capsys):
    code, out, _ = run(capsys, "inspect", str(generator_file("max32002_fork")), "--image-size", "128")
    assert code == 0
    assert "upstream generator" in out and "max32002/zi2zi-pytorch at ff8bf15" in out
    assert "skip                  add_activated" in out and "Levels at 128x128" in out
    assert "    3  16x16        16     32     16  yes        add_activated  32 -> 64" in out
    assert "+0.3500" in out and "-0.2500" in out and "total      174,456      6,522  429,572     610,646" in out


def test_checkpoints_written_before_scaled_attention_existed_still_load(tmp_path):
    from zi2zi_lessons import training

    payload = torch.load(training.REFERENCE_CHECKPOINTS["attention"], weights_only=True)
    del payload["config"]["generator"]["scaled_attention"]  # as checkpoints were written before it existed
    torch.save(payload, tmp_path / "older.pt")
    generator, _ = training.load_generator(tmp_path / "older.pt")
    assert generator.config.attention_levels and not generator.config.scaled_attention


def test_inspect_a_discriminator_and_a_lessons_checkpoint(capsys):
    code, out, _ = run(capsys, "inspect", str(discriminator_file("euphoria_classic")))
    assert code == 0 and "upstream discriminator" in out and "features.11  Conv2d       64 -> 1, 5x5 stride 1" in out
    assert "total parameters 69,888" in out
    code, out, _ = run(capsys, "inspect", str(Path(__file__).parents[1] / "data" / "tiny_attention.pt"))
    assert code == 0 and "zi2zi-lessons checkpoint" in out and "Configuration stored in the checkpoint" in out
    assert "Attention blocks" in out and "no unmodified upstream constructor builds this network" in out


def test_inspect_errors(capsys, tmp_path):
    code, _, err = run(capsys, "inspect", str(generator_file("euphoria_classic")), "--image-size", "100")
    assert code == 2 and "image height 100 does not work with num_downs=6" in err
    path = saved(tmp_path, {"weights": [1, 2]})
    code, _, err = run(capsys, "inspect", str(path))
    assert code == 2 and "besides tensors it holds 'weights' (list)" in err and "Traceback" not in err
