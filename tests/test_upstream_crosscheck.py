"""Cross-check against the upstream code itself, over every option it has (opt-in).

The fixtures (``test_upstream.py``) pin one configuration per repository. This test
builds upstream's own networks for every combination the code offers (norm, skip,
upsampling, depth, image size), gives them random weights, and checks that
``upstream.load_generator`` / ``load_discriminator`` compute the same outputs and that
``save_generator`` / ``save_discriminator`` write files upstream's
``load_state_dict(strict=True)`` accepts. It needs checkouts of the two repositories,
which the project does not ship::

    git clone https://github.com/EuphoriaYan/zi2zi-pytorch /tmp/classic
    git -C /tmp/classic checkout 0e9f3dd87e6262feef9fae63f2e9598a670e49a1
    git clone https://github.com/max32002/zi2zi-pytorch /tmp/fork
    git -C /tmp/fork checkout ff8bf15893eab1c22118c9ab61fbce00b38a7a04
    ZI2ZI_UPSTREAM_CLASSIC=/tmp/classic ZI2ZI_UPSTREAM_FORK=/tmp/fork \\
        .venv/bin/python -m pytest tests/test_upstream_crosscheck.py

Without the two variables it is skipped.
"""

import functools
import importlib.util
import itertools
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from zi2zi_lessons import upstream

CHECKOUTS = {name: os.environ.get(f"ZI2ZI_UPSTREAM_{name.upper()}") for name in ("classic", "fork")}
pytestmark = pytest.mark.skipif(not all(CHECKOUTS.values()), reason="set ZI2ZI_UPSTREAM_CLASSIC and ZI2ZI_UPSTREAM_FORK")
TOLERANCE = 1e-5


def upstream_module(name: str, file: str):
    path = Path(CHECKOUTS[name]) / "model" / file
    spec = importlib.util.spec_from_file_location(f"upstream_{name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def norm_layer(norm: str):
    # The fork's model.py builds instance norm without affine parameters or statistics.
    return nn.BatchNorm2d if norm == "batch" else functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)


def randomise(network, size: int, call) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        for name, parameter in network.named_parameters():
            parameter.copy_(0.05 * torch.randn_like(parameter) + (0.5 if name.endswith("gamma") else 0.0))
        network.train()
        call(network, size)  # batch statistics
    network.eval()


def generator_cases():
    for norm, (levels, size) in itertools.product(("batch", "instance"), ((6, 64), (7, 128))):
        yield "classic", norm, {}, levels, size
    flags = [dict(use_pixel_shuffle=ps, use_res_skip=res) for ps, res in itertools.product((True, False), repeat=2)]
    for norm, extra, (levels, size) in itertools.product(("batch", "instance"), flags, ((6, 64), (6, 128), (7, 384), (8, 256))):
        yield "fork", norm, extra, levels, size


@pytest.mark.parametrize("repository, norm, flags, levels, size", list(generator_cases()))
def test_generator_equals_upstream(repository, norm, flags, levels, size, tmp_path):
    code = upstream_module(repository, "generators.py")
    network = code.UNetGenerator(input_nc=1, output_nc=1, num_downs=levels, ngf=8, embedding_num=6, embedding_dim=16,
                                 norm_layer=norm_layer(norm), **flags)
    randomise(network, size, lambda net, s: net(torch.rand(4, 1, s, s) * 2 - 1, torch.arange(4)))
    model = upstream.load_generator(network.state_dict())
    images, labels = torch.rand(2, 1, size, size) * 2 - 1, torch.tensor([1, 4])
    with torch.no_grad():
        if repository == "classic":
            image, feature = network(images.clone(), labels)
            mine, my_feature = upstream.generate_with_bottleneck(model, images, labels)
        else:
            image, feature = network(images.clone(), labels, return_feat=True)
            mine, my_feature = upstream.generate_with_fork_feature(model, images, labels)
    assert upstream.relative_difference(mine, image) < TOLERANCE
    assert upstream.relative_difference(my_feature, feature) < TOLERANCE
    written = torch.load(upstream.save_generator(model, tmp_path / "G.pth"), weights_only=True)
    network.load_state_dict(written, strict=True)


@pytest.mark.parametrize("repository, norm, size", list(itertools.product(("classic", "fork"), ("batch", "instance"), (64, 60, 256))))
def test_discriminator_equals_upstream(repository, norm, size, tmp_path):
    code = upstream_module(repository, "discriminators.py")
    network = code.Discriminator(input_nc=2, embedding_num=6, ndf=8, norm_layer=norm_layer(norm), image_size=size)
    randomise(network, size, lambda net, s: net(torch.rand(4, 2, s, s)))
    model = upstream.load_discriminator(network.state_dict(), image_size=size)
    pairs = torch.rand(3, 2, size, size)
    with torch.no_grad():
        for theirs, mine in zip(network(pairs), model(pairs)):
            assert upstream.relative_difference(mine, theirs) < TOLERANCE
    network.load_state_dict(torch.load(upstream.save_discriminator(model, tmp_path / "D.pth"), weights_only=True), strict=True)
