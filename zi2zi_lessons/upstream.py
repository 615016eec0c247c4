"""Real zi2zi-pytorch checkpoints in and out of the package.

Two PyTorch ports of zi2zi write the checkpoints people have:

* the classic port, https://github.com/EuphoriaYan/zi2zi-pytorch: concatenated skips,
  transposed convolutions, no attention;
* the attention fork, https://github.com/max32002/zi2zi-pytorch: PixelShuffle, added
  skips and SAGAN attention on the levels whose encoded maps have 4 ngf and 8 ngf
  channels (levels 3 and 4).

Their files are bare ``state_dict``s: no configuration. Everything is read off the
weights, nanoGPT's ``from_pretrained`` way: build the equal model, load it strictly,
and prove the outputs equal (``tests/test_upstream.py`` does, against outputs the
upstream code computed)::

    upstream file ──read_state_dict──▶ tensors (CPU, no "module." prefix)
          │                               │ generator_config(): channels, levels, norm,
          │                               │ upsampling, each level's skip, attention
          ▼                               ▼
    save_generator ◀── UNetGenerator ◀── rename att.* -> attention.*, check every key
                                          and shape, load_state_dict(strict=True)

Where upstream computes differently from the package's defaults, the loaded model
uses the options that reproduce it (both off by default in the package):

* the fork's attention divides its energy by ``sqrt(C // 8)``: ``scaled_attention``;
* both ports build the down path's ``LeakyReLU(0.2)`` in place, so it overwrites the
  block's input before the skip reads it. With concatenation that changes nothing
  (the parent's up path starts with ReLU, and ``ReLU(LeakyReLU(x)) == ReLU(x)``);
  the fork's add skip adds ``LeakyReLU(x)``, not ``x``: skip mode "add_activated".

A bare file cannot say which of "add", "add_activated" and "none" a non-concatenating
level used (none of them has weights); upstream only has its add skip, so a level
whose up-convolution shows no concatenation reads as "add_activated".
``save_generator`` refuses a model the file could not carry back exactly.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch
import torch.nn.functional as F

from .discriminator import Discriminator, DiscriminatorConfig
from .environment import REPOSITORY_ROOT
from .glyphs import write_atomically
from .unet import GeneratorConfig, UNetGenerator

__all__ = [
    "CLASSIC",
    "FORK",
    "EXAMPLE_CHECKPOINTS",
    "UpstreamCode",
    "read_state_dict",
    "generator_config",
    "load_generator",
    "save_generator",
    "generator_state_dict",
    "discriminator_config",
    "load_discriminator",
    "save_discriminator",
    "discriminator_state_dict",
    "upstream_generator_code",
    "upstream_discriminator_code",
    "generate_with_bottleneck",
    "generate_with_fork_feature",
    "relative_difference",
]

#: The commits whose code the fixtures in ``tests/fixtures/upstream/`` were written by.
CLASSIC = ("EuphoriaYan/zi2zi-pytorch", "0e9f3dd87e6262feef9fae63f2e9598a670e49a1")
FORK = ("max32002/zi2zi-pytorch", "ff8bf15893eab1c22118c9ab61fbce00b38a7a04")
#: Small checkpoints written by that code, with the outputs it computed (see the README there).
EXAMPLE_CHECKPOINTS = REPOSITORY_ROOT / "tests" / "fixtures" / "upstream"

# The fork names its attention's parts differently; everything else has the package's names.
_ATTENTION_PARTS = {"query_conv": "query", "key_conv": "key", "value_conv": "value"}
_DISCRIMINATOR_HEADS = {"binary": "real_fake", "catagory": "category"}  # upstream's spelling, sic


# ------------------------------------------------------------------ reading a file
def _name(source) -> str:
    return repr(str(source)) if isinstance(source, (str, os.PathLike)) else "the state_dict"


def _listed(keys, limit: int = 6) -> str:
    keys = list(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def read_state_dict(source) -> dict[str, torch.Tensor]:
    """The tensors of an upstream checkpoint, on the CPU, without a ``module.`` prefix.

    ``source`` is a path or an already loaded mapping. Files are read with
    ``weights_only=True`` (nothing in them runs) and ``map_location="cpu"`` (files
    written on a GPU hold CUDA tensors). A model saved inside ``DataParallel`` has
    every key prefixed ``module.``; the prefix is removed. Anything that is not a
    non-empty mapping of names to tensors raises ``ValueError`` saying what it is.
    """
    name = _name(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            raise ValueError(f"checkpoint {name} {what}: give the path of a .pth file")
        if path.stat().st_size == 0:
            raise ValueError(f"checkpoint {name} is empty (0 bytes)")
        try:
            source = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several types for files it cannot read
            raise ValueError(f"cannot read checkpoint {name}: {_why_unreadable(error)}") from None
    if not isinstance(source, Mapping):
        raise ValueError(f"{name} holds a {type(source).__name__}, not a state_dict (a dict of parameter names to tensors)")
    if not source:
        raise ValueError(f"{name} is an empty dict: a state_dict holds the network's tensors")
    not_tensors = {key: type(value).__name__ for key, value in source.items() if not isinstance(value, torch.Tensor)}
    if not_tensors:
        found = _listed(f"{key!r} ({kind})" for key, kind in not_tensors.items())
        raise ValueError(
            f"{name} is not a bare state_dict: besides tensors it holds {found}. Upstream checkpoints "
            f"are bare state_dicts; if the weights are nested (e.g. checkpoint['state_dict']), pass that dict"
        )
    keys = [str(key) for key in source]
    prefixed = [key.startswith("module.") for key in keys]
    if any(prefixed) and not all(prefixed):
        raise ValueError(
            f"{name} mixes keys with and without the DataParallel prefix 'module.' "
            f"({_listed(k for k, p in zip(keys, prefixed) if not p)} have none)"
        )
    strip = len("module.") if all(prefixed) else 0
    return {key[strip:]: tensor.detach().to("cpu") for key, tensor in zip(keys, source.values())}


def _why_unreadable(error: Exception) -> str:
    message = str(error)
    if "WeightsUnpickler error: Unsupported global" in message:
        reason = message.split("WeightsUnpickler error:", 1)[1].strip().split(". ")[0]
        return (f"it holds Python objects besides tensors ({reason}), e.g. a whole pickled model; upstream "
                f"checkpoints are bare state_dicts, torch.save(net.state_dict(), path)")
    if "zip archive" in message or "central directory" in message:
        return f"the file is truncated or corrupted ({message.split('. ')[0]})"
    return "it is not a file torch.save wrote"


def _describe_found(state: Mapping[str, torch.Tensor]) -> str:
    return f"{len(state)} tensors ({_listed(state)})"


def _looks_like_discriminator(state) -> bool:
    return any(key.split(".")[0] in (*_DISCRIMINATOR_HEADS, *_DISCRIMINATOR_HEADS.values()) for key in state)


# ------------------------------------------------------------------ the generator: reading the configuration
def _level_prefix(level: int) -> str:
    return "model." + "submodule." * (level - 1)


def _require(state, key: str, name: str, dims: int) -> torch.Tensor:
    if key not in state:
        raise ValueError(f"{name} is not a complete zi2zi generator: the key {key!r} is missing")
    tensor = state[key]
    if tensor.dim() != dims:
        raise ValueError(f"{name}: {key!r} has shape {tuple(tensor.shape)}, a {dims}-d tensor was expected")
    return tensor


@dataclass(frozen=True)
class _UpConv:
    kind: str  # "transpose" or "pixelshuffle"
    in_channels: int
    out_channels: int  # after PixelShuffle


def _up_conv(state, level: int, name: str) -> _UpConv:
    key = _level_prefix(level) + "up.1.weight"
    weight = _require(state, key, name, 4)
    kernel = tuple(weight.shape[2:])
    if kernel == (4, 4):  # ConvTranspose2d weights are (in, out, k, k)
        return _UpConv("transpose", weight.shape[0], weight.shape[1])
    if kernel == (3, 3) and weight.shape[0] % 4 == 0:  # Conv2d (4 * out, in, 3, 3), then PixelShuffle(2)
        return _UpConv("pixelshuffle", weight.shape[1], weight.shape[0] // 4)
    raise ValueError(
        f"{name}: level {level}'s up-convolution {key!r} has shape {tuple(weight.shape)}; zi2zi's is a 4x4 "
        f"transposed convolution or a 3x3 convolution to 4x the channels (PixelShuffle)"
    )


def generator_config(source) -> GeneratorConfig:
    """The ``GeneratorConfig`` of the upstream generator whose weights ``source`` holds.

    Read off the tensors: ``input_nc`` and ``ngf`` (level 1's down-convolution),
    ``output_nc`` and the upsampling (level 1's up-convolution: 4x4 transposed, or
    3x3 to four times the channels for PixelShuffle), ``num_downs`` (how deep the
    ``submodule`` chain goes), the embedding (``embedder.weight``), the norm (batch
    norm stores running statistics, instance norm nothing), each level's skip (the
    parent's up-convolution reads twice the child's width when the child
    concatenates) and the attention levels (the fork's ``att.*`` keys; its attention
    is scaled). Dropout leaves no weights (and is off in eval mode): ``use_dropout``
    is False.
    """
    name = _name(source)
    state = read_state_dict(source)
    return _generator_config(state, name)


def _generator_config(state: Mapping[str, torch.Tensor], name: str) -> GeneratorConfig:
    if _looks_like_discriminator(state):
        raise ValueError(
            f"{name} holds a zi2zi discriminator ({_describe_found(state)}), not a generator: "
            f"open it with load_discriminator"
        )
    if any(".attention." in key for key in state):
        raise ValueError(
            f"{name} is in the zi2zi-lessons layout (keys '...attention.query.weight'), not upstream's "
            f"('...att.query_conv.weight'): load it into the UNetGenerator it came from, or write it "
            f"with save_generator first"
        )
    if "model.down.0.weight" not in state or "embedder.weight" not in state:
        missing = [key for key in ("model.down.0.weight", "embedder.weight") if key not in state]
        raise ValueError(
            f"{name} is not a zi2zi generator: it lacks {', '.join(map(repr, missing))}; found {_describe_found(state)}"
        )
    embedding = _require(state, "embedder.weight", name, 2)
    embedding_num, embedding_dim = embedding.shape
    first_down = _require(state, "model.down.0.weight", name, 4)
    ngf, input_nc = first_down.shape[0], first_down.shape[1]

    num_downs = 1
    while any(key.startswith(_level_prefix(num_downs + 1) + "down.") for key in state):
        num_downs += 1
    if num_downs < 5:
        raise ValueError(f"{name}: the generator has {num_downs} levels; a zi2zi generator has at least 5")

    # The channel rule, as both ports hard-code it: level L encodes ngf * 2**min(L-1, 3).
    def inner(level):
        return ngf * 2 ** min(level - 1, 3)

    for level in range(2, num_downs + 1):
        weight = _require(state, _level_prefix(level) + "down.1.weight", name, 4)
        expected = (inner(level), inner(level - 1))
        if tuple(weight.shape[:2]) != expected:
            raise ValueError(
                f"{name}: level {level}'s down-convolution maps {weight.shape[1]} -> {weight.shape[0]} channels; "
                f"a zi2zi generator with ngf={ngf} (read off level 1) maps {expected[1]} -> {expected[0]}"
            )

    up_convs = {level: _up_conv(state, level, name) for level in range(1, num_downs + 1)}
    kinds = {up.kind for up in up_convs.values()}
    if len(kinds) != 1:
        raise ValueError(f"{name}: the levels mix upsamplings ({', '.join(f'level {l}: {u.kind}' for l, u in up_convs.items())})")
    output_nc = up_convs[1].out_channels
    for level in range(2, num_downs + 1):
        if up_convs[level].out_channels != inner(level - 1):
            raise ValueError(
                f"{name}: level {level}'s up-convolution makes {up_convs[level].out_channels} channels, "
                f"the zi2zi rule gives {inner(level - 1)}"
            )

    # Each level's skip, from what its parent's up-convolution reads.
    skips = {}
    for level in range(2, num_downs + 1):
        width, reads = inner(level - 1), up_convs[level - 1].in_channels
        if reads == 2 * width:
            skips[level] = "concat"
        elif reads == width:
            skips[level] = "add_activated"
        else:
            raise ValueError(
                f"{name}: level {level - 1}'s up-convolution reads {reads} channels; its child hands back "
                f"{2 * width} (concatenated skip) or {width} (added skip)"
            )
    innermost_reads = up_convs[num_downs].in_channels
    if innermost_reads != inner(num_downs) + embedding_dim:
        raise ValueError(
            f"{name}: the innermost up-convolution reads {innermost_reads} channels, but the encoded map "
            f"({inner(num_downs)}) plus the style embedding ({embedding_dim}) make {inner(num_downs) + embedding_dim}"
        )

    attention_levels = tuple(level for level in range(1, num_downs + 1) if _level_prefix(level) + "att.gamma" in state)
    norm = "batch" if any(key.endswith(".running_mean") for key in state) else "instance"
    common = "concat" if list(skips.values()).count("concat") * 2 >= len(skips) else "add_activated"
    return GeneratorConfig(
        input_nc=input_nc,
        output_nc=output_nc,
        num_downs=num_downs,
        ngf=ngf,
        embedding_num=embedding_num,
        embedding_dim=embedding_dim,
        norm=norm,
        upsample=kinds.pop(),
        skip=common,
        attention_levels=attention_levels,
        level_skips={level: mode for level, mode in skips.items() if mode != common},
        scaled_attention=bool(attention_levels),
    )


def _to_package_key(key: str) -> str:
    key = re.sub(r"(^|\.)att\.(query|key|value)_conv\.", r"\1attention.\2.", key)
    return re.sub(r"(^|\.)att\.gamma$", r"\1attention.gamma", key)


def _to_upstream_key(key: str) -> str:
    key = re.sub(r"(^|\.)attention\.(query|key|value)\.", r"\1att.\2_conv.", key)
    return re.sub(r"(^|\.)attention\.gamma$", r"\1att.gamma", key)


def _check_same_layout(state: Mapping[str, torch.Tensor], model: torch.nn.Module, name: str, upstream_key) -> None:
    """Raise unless ``state`` has exactly the model's keys with the model's shapes."""
    expected = model.state_dict()
    missing = [upstream_key(key) for key in expected if key not in state]
    unexpected = [upstream_key(key) for key in state if key not in expected]
    wrong = [
        f"{upstream_key(key)} {tuple(state[key].shape)} (expected {tuple(tensor.shape)})"
        for key, tensor in expected.items() if key in state and state[key].shape != tensor.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected {_listed(unexpected)}")
    if wrong:
        problems.append(f"wrong shapes: {_listed(wrong, 4)}")
    if problems:
        raise ValueError(f"{name} does not match the network its weights describe: " + "; ".join(problems))


def load_generator(source) -> UNetGenerator:
    """The package's ``UNetGenerator`` equal to the upstream generator in ``source``.

    ``source``: a path to an upstream ``*_net_G.pth`` or its loaded state_dict. The
    configuration is read off the weights (``generator_config``), the model built,
    every key and shape checked, and the weights loaded strictly: a file that is not
    a zi2zi generator raises ``ValueError`` saying what it holds, and no model is
    returned half loaded. The model comes back in eval mode: ``model(images, labels)``
    is upstream's generated image, ``generate_with_bottleneck`` and
    ``generate_with_fork_feature`` give upstream's second outputs.
    """
    name = _name(source)
    state = read_state_dict(source)
    config = _generator_config(state, name)
    model = UNetGenerator.from_config(config)
    renamed = {_to_package_key(key): tensor for key, tensor in state.items()}
    _check_same_layout(renamed, model, name, _to_upstream_key)
    model.load_state_dict(renamed, strict=True)
    return model.eval()


def generator_state_dict(model: UNetGenerator) -> dict[str, torch.Tensor]:
    """``model``'s tensors under upstream's names (CPU copies); see ``save_generator``."""
    _check_round_trip(model)
    return {_to_upstream_key(key): tensor.detach().to("cpu").clone() for key, tensor in model.state_dict().items()}


def _check_round_trip(model: UNetGenerator) -> None:
    """Raise unless reading upstream's layout back gives ``model``'s computation."""
    if not isinstance(model, UNetGenerator):
        raise ValueError(f"model must be a UNetGenerator, got {type(model).__name__}")
    config = model.config
    problems = []
    for level in range(2, config.num_downs + 1):
        skip = config.level_skip(level)
        if skip not in ("concat", "add_activated"):
            problems.append(
                f"level {level} has skip={skip!r}, which leaves no trace in the weights and would read back as "
                f"upstream's add skip ('add_activated')"
            )
    if config.attention_levels and not config.scaled_attention:
        problems.append("its attention is unscaled (SAGAN); upstream's attention keys are the fork's, which scales the energy")
    if problems:
        raise ValueError(
            "upstream's layout cannot carry this generator exactly: " + "; ".join(problems)
            + ". Nothing was written."
        )


def save_generator(model: UNetGenerator, path, overwrite: bool = False) -> Path:
    """Write ``model`` as upstream writes a generator: a bare state_dict, upstream's key names.

    The file loads with upstream's ``load_state_dict(strict=True)`` into the upstream
    network ``upstream_generator_code(model.config)`` names (when it names one), and
    back into an equal ``UNetGenerator`` with ``load_generator``. A model the file
    cannot carry exactly (a skip mode other than "concat" or "add_activated",
    unscaled attention) raises ``ValueError`` before anything is written. An existing
    file is only replaced with ``overwrite=True``.
    """
    state = generator_state_dict(model)
    return _write(state, path, overwrite)


def _write(state: dict, path, overwrite: bool) -> Path:
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a directory; give a file name such as 100_net_G.pth")
    if not path.parent.is_dir():
        raise ValueError(f"path {str(path)!r}: the folder {str(path.parent)!r} does not exist")
    if path.exists() and not overwrite:
        raise ValueError(f"path {str(path)!r} exists; pass overwrite=True to replace it")
    write_atomically(path, lambda temporary: torch.save(state, temporary))
    return path


# ------------------------------------------------------------------ which upstream code builds it
@dataclass(frozen=True)
class UpstreamCode:
    """The upstream constructor call that builds a network equal to a package model."""

    repository: str
    commit: str
    call: str
    note: str = ""

    def __str__(self) -> str:
        text = f"{self.repository} at {self.commit[:7]}: {self.call}"
        return f"{text} ({self.note})" if self.note else text


def upstream_generator_code(config: GeneratorConfig) -> UpstreamCode | None:
    """Which unmodified upstream ``UNetGenerator(...)`` builds this generator, or None.

    The classic port builds concatenating, transposed-convolution generators without
    attention (it only runs when the bottleneck is 1x1: image side ``2**num_downs``).
    The fork at ff8bf15 builds attention on levels 3 and 4, scaled, whatever its
    ``self_attention`` flag, and at least 6 levels; all its skips concatenate or all
    add (``use_res_skip``).
    """
    norm = "nn.BatchNorm2d" if config.norm == "batch" else "nn.InstanceNorm2d"
    skips = {config.level_skip(level) for level in range(2, config.num_downs + 1)}
    common = (f"input_nc={config.input_nc}, output_nc={config.output_nc}, num_downs={config.num_downs}, "
              f"ngf={config.ngf}, embedding_num={config.embedding_num}, embedding_dim={config.embedding_dim}, "
              f"norm_layer={norm}")
    if skips == {"concat"} and config.upsample == "transpose" and not config.attention_levels:
        side = 2 ** config.num_downs
        return UpstreamCode(*CLASSIC, f"UNetGenerator({common})",
                            f"its innermost block runs only on a 1x1 bottleneck: {side}x{side} images")
    if (config.attention_levels == (3, 4) and config.scaled_attention and config.num_downs >= 6
            and len(skips) == 1 and skips <= {"concat", "add_activated"}):
        flags = (f"use_pixel_shuffle={config.upsample == 'pixelshuffle'}, "
                 f"use_res_skip={skips == {'add_activated'}}")
        return UpstreamCode(*FORK, f"UNetGenerator({common}, {flags})",
                            "attention on levels 3 and 4 whatever self_attention says")
    return None


def upstream_discriminator_code(config: DiscriminatorConfig) -> UpstreamCode | None:
    """The upstream ``Discriminator(...)`` call (both ports) that builds this one, or None."""
    if not config.reduce_to_one_channel or config.num_strided != 3:
        return None
    norm = "nn.BatchNorm2d" if config.norm == "batch" else "nn.InstanceNorm2d"
    return UpstreamCode(
        *CLASSIC,
        f"Discriminator(input_nc={config.input_nc}, embedding_num={config.embedding_num}, ndf={config.ndf}, "
        f"norm_layer={norm}, image_size={config.image_size})",
        f"the same call builds it in {FORK[0]} at {FORK[1][:7]}",
    )


# ------------------------------------------------------------------ the discriminator
def _to_package_discriminator_key(key: str) -> str:
    head, _, rest = key.partition(".")
    if head == "model":
        return "features." + rest
    return _DISCRIMINATOR_HEADS.get(head, head) + "." + rest


def _to_upstream_discriminator_key(key: str) -> str:
    head, _, rest = key.partition(".")
    if head == "features":
        return "model." + rest
    heads = {package: upstream for upstream, package in _DISCRIMINATOR_HEADS.items()}
    return heads.get(head, head) + "." + rest


def _feature_side(image_size: int, num_strided: int) -> int:
    side = image_size
    for _ in range(num_strided):
        side = math.ceil(side / 2)
    return side


def discriminator_config(source, image_size: int | None = None) -> DiscriminatorConfig:
    """The ``DiscriminatorConfig`` of the upstream discriminator in ``source``.

    The convolutions give ``input_nc``, ``ndf``, the stride-2 count and the extra
    one-channel convolution; batch norm stores running statistics. The heads read
    ``ceil(S / 8)**2`` numbers per channel, which fixes the map side but not quite
    the image side S: every S from ``8 * side - 7`` to ``8 * side`` fits. Without
    ``image_size`` the multiple of 8 is taken (a zi2zi generator only takes sides
    divisible by ``2**num_downs``); give ``image_size`` for another, and it is
    checked against the heads.
    """
    name = _name(source)
    return _discriminator_config(read_state_dict(source), name, image_size)


def _discriminator_config(state, name: str, image_size: int | None) -> DiscriminatorConfig:
    if any(key.startswith("embedder.") or key.startswith("model.down.") for key in state):
        raise ValueError(f"{name} holds a zi2zi generator ({_describe_found(state)}), not a discriminator: open it with load_generator")
    if any(key.startswith(("features.", "real_fake.", "category.")) for key in state):
        raise ValueError(
            f"{name} is in the zi2zi-lessons layout (features.*, real_fake.*, category.*), not upstream's "
            f"(model.*, binary.*, catagory.*): load it into the Discriminator it came from"
        )
    missing = [key for key in ("binary.weight", "catagory.weight", "model.0.weight") if key not in state]
    if missing:
        raise ValueError(f"{name} is not a zi2zi discriminator: it lacks {', '.join(map(repr, missing))}; found {_describe_found(state)}")
    if any(key.endswith(("weight_orig", "weight_u", "weight_v")) for key in state):
        raise ValueError(f"{name} holds spectrally normalised layers (weight_orig, weight_u, weight_v), which the package does not build")
    convs = sorted(
        (int(key.split(".")[1]), state[key]) for key in state
        if re.fullmatch(r"model\.\d+\.weight", key) and state[key].dim() == 4
    )
    weights = [weight for _, weight in convs]
    if len(weights) < 3 or any(tuple(w.shape[2:]) != (5, 5) for w in weights):
        shapes = ", ".join(str(tuple(w.shape)) for w in weights)
        raise ValueError(f"{name}: zi2zi's discriminator has at least three 5x5 convolutions, found {len(weights)} ({shapes})")
    reduce_to_one_channel = weights[-1].shape[0] == 1
    main = weights[:-1] if reduce_to_one_channel else weights
    input_nc, ndf = main[0].shape[1], main[0].shape[0]
    num_strided = len(main) - 1
    expected_widths = [ndf * min(2 ** n, 8) for n in range(num_strided)] + [8 * ndf]
    if [w.shape[0] for w in main] != expected_widths:
        raise ValueError(
            f"{name}: the convolutions make {[w.shape[0] for w in main]} channels; a zi2zi discriminator with "
            f"ndf={ndf} makes {expected_widths}"
        )
    norm = "batch" if any(key.endswith(".running_mean") for key in state) else "instance"
    binary, category = state["binary.weight"], state["catagory.weight"]
    if binary.dim() != 2 or category.dim() != 2 or binary.shape[0] != 1 or binary.shape[1] != category.shape[1]:
        raise ValueError(
            f"{name}: the heads binary {tuple(binary.shape)} and catagory {tuple(category.shape)} are not "
            f"two linear layers reading the same features (binary has one output)"
        )
    head_channels = 1 if reduce_to_one_channel else 8 * ndf
    features = binary.shape[1]
    side = math.isqrt(features // head_channels)
    if features % head_channels or side * side * head_channels != features:
        raise ValueError(
            f"{name}: the heads read {features} features, which is not {head_channels} channel(s) of a square map"
        )
    step = 2 ** num_strided
    if image_size is None:
        image_size = side * step
    elif _feature_side(image_size, num_strided) != side:
        raise ValueError(
            f"image_size={image_size!r} does not fit {name}: its heads read a {side}x{side} map, which images of "
            f"{max(1, step * (side - 1) + 1)} to {step * side} pixels give"
        )
    return DiscriminatorConfig(image_size=image_size, input_nc=input_nc, embedding_num=category.shape[0], ndf=ndf,
                               norm=norm, num_strided=num_strided, reduce_to_one_channel=reduce_to_one_channel)


def load_discriminator(source, image_size: int | None = None) -> Discriminator:
    """The package's ``Discriminator`` equal to the upstream one in ``source`` (eval mode).

    ``image_size``: see ``discriminator_config``. Errors as ``load_generator``.
    """
    name = _name(source)
    state = read_state_dict(source)
    config = _discriminator_config(state, name, image_size)
    model = Discriminator.from_config(config)
    renamed = {_to_package_discriminator_key(key): tensor for key, tensor in state.items()}
    _check_same_layout(renamed, model, name, _to_upstream_discriminator_key)
    model.load_state_dict(renamed, strict=True)
    return model.eval()


def discriminator_state_dict(model: Discriminator) -> dict[str, torch.Tensor]:
    """``model``'s tensors under upstream's names (CPU copies)."""
    if not isinstance(model, Discriminator):
        raise ValueError(f"model must be a Discriminator, got {type(model).__name__}")
    return {_to_upstream_discriminator_key(key): tensor.detach().to("cpu").clone() for key, tensor in model.state_dict().items()}


def save_discriminator(model: Discriminator, path, overwrite: bool = False) -> Path:
    """Write ``model`` as upstream writes a discriminator (bare state_dict, ``model.*``,
    ``binary``, ``catagory``). Upstream's code builds it when
    ``upstream_discriminator_code(model.config)`` names a call (the one-channel head);
    ``load_discriminator`` reads any back exactly. An existing file is only replaced
    with ``overwrite=True``."""
    return _write(discriminator_state_dict(model), path, overwrite)


# ------------------------------------------------------------------ upstream's second outputs
def generate_with_bottleneck(model: UNetGenerator, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(generated, bottleneck)`` as the classic port's forward returns them: the
    innermost encoded map flattened to ``(B, C * h * w)`` (its constant loss compares these)."""
    generated, bottleneck = model.forward_with_encoding(images, labels)
    return generated, bottleneck.flatten(1)


def generate_with_fork_feature(model: UNetGenerator, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(generated, feature)`` as the fork's ``forward(..., return_feat=True)`` returns them.

    The feature concatenates the bottleneck and level 5's encoded map (the block the
    fork's builder marks ``capture_second``: the first 8 ngf level below level 4,
    whatever the depth), shrunk to the bottleneck's size by nearest-neighbour
    sampling. Level 5's map passes through ``LeakyReLU(0.2)`` first: upstream keeps a
    reference to it, and level 6's in-place LeakyReLU overwrites it.
    """
    if model.config.num_downs < 6:
        raise ValueError(
            f"the fork's feature needs at least 6 levels (level 5's map and a level 6 below it); "
            f"this generator has num_downs={model.config.num_downs}"
        )
    generated, bottleneck = model.forward_with_encoding(images, labels)
    level_5 = model.encoded_maps(images)[4]
    level_6 = list(model.blocks())[5]
    level_5 = level_6.down[0](level_5)
    if level_5.shape[2:] != bottleneck.shape[2:]:
        level_5 = F.interpolate(level_5, size=bottleneck.shape[2:], mode="nearest")
    return generated, torch.cat([bottleneck, level_5], dim=1)


def relative_difference(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """``max |actual - expected| / max |expected|``: how the fixtures' equality is measured."""
    if actual.shape != expected.shape:
        raise ValueError(f"shapes differ: {tuple(actual.shape)} vs {tuple(expected.shape)}")
    scale = expected.abs().max()
    return float((actual - expected).abs().max() / scale) if scale > 0 else float((actual - expected).abs().max())
