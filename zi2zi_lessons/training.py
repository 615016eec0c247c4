"""Training zi2zi: the four losses, the training step, checkpoints, evaluation, quick mode.

One training step (as zi2zi does it: one discriminator update, then two generator updates)::

    source, target, font ids ── generator ──▶ fake, bottleneck(source)
                                              encode(fake) ──▶ bottleneck(fake)

    discriminator update: D(source|target) should say real and name the font;
                          D(source|fake)   should say fake and name the font
    generator update (x2): D(source|fake) should say real and name the font     (adversarial, category)
                          fake should equal target pixel for pixel              (L1)
                          bottleneck(fake) should equal bottleneck(source)      (constant)

The second generator update generates the batch again with the weights the first
one left (zi2zi's "optimize G again"). The font is named by a sigmoid cross-entropy
on one-hot labels, as zi2zi does (``category_loss="sigmoid"``). Where the package's
recipe differs from zi2zi's, the difference is a named field of ``TrainingConfig``
(lesson 06 measures each). The loss weights are named fields of ``LossWeights``.

``Trainer`` owns the two networks and their optimisers; its batch order (and the
augmentation of each batch) is a pure function of the seed and the step number,
and a checkpoint holds the weights, the optimiser states and torch's random
state, so training resumed from a checkpoint takes exactly the steps an
uninterrupted run would have taken.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .discriminator import Discriminator
from .distributed import Processes, synchronise_batch_norm
from .files import write_atomically
from .glyphs import DATA_DIR, GlyphDataset, to_tensor, to_uint8
from .unet import GeneratorConfig, UNetGenerator

__all__ = [
    "LossWeights",
    "TrainingConfig",
    "ARCHITECTURES",
    "tiny_generator_config",
    "zi2zi_recipe",
    "normal_init",
    "enlarge_and_crop",
    "CATEGORY_LOSSES",
    "INITS",
    "quick_mode",
    "Trainer",
    "Evaluation",
    "evaluate",
    "evaluate_checkpoint",
    "baselines",
    "per_character_l1",
    "baseline_ssim",
    "ssim",
    "generate_split",
    "generate",
    "load_generator",
    "read_checkpoint",
    "checkpoint_file",
    "CHECKPOINT_FORMAT",
    "REFERENCE_CHECKPOINTS",
    "LESSON_STEPS",
]

CHECKPOINT_FORMAT = "zi2zi-lessons checkpoint v1"
# Lesson 06's reference runs (generator only), trained with the default TrainingConfig;
# data/README.md has the commands that made them.
REFERENCE_CHECKPOINTS = {name: DATA_DIR / f"tiny_{name}.pt" for name in ("classic", "attention")}
HISTORY_KEYS = ("discriminator", "generator", "l1", "adversarial", "category", "constant")
# Lesson 06's budget: steps per model that take at most 5 minutes on 2 idle CPU cores
# (benchmarks/train_speed.py measures it); the reference runs train this many steps.
LESSON_STEPS = 2000


def quick_mode(flag: bool | None = None) -> bool:
    """The notebook's quick mode: ``flag`` if given, else True when the ``CI`` variable is set."""
    if flag is not None:
        return bool(flag)
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


# ------------------------------------------------------------------ configuration
@dataclass(frozen=True)
class LossWeights:
    """How much each zi2zi loss counts (zi2zi's defaults).

    Args:
        l1: mean absolute pixel difference between generated and real target
            (images in [-1, 1]); the term that makes glyphs right pixel by pixel.
        adversarial: the generator's "make the discriminator say real" term (BCE).
        category: font-category cross-entropy: the discriminator learns to name the
            target font of real and fake pairs, the generator to have its fakes named
            as the font it was asked for (keeps the styles apart).
        constant: mean squared difference between the bottleneck of the source and
            the bottleneck of the generated glyph (the generated glyph should encode
            like the character it came from).
    """

    l1: float = 100.0
    adversarial: float = 1.0
    category: float = 1.0
    constant: float = 15.0

    def __post_init__(self):
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"loss weight {item.name}={value!r} is not accepted: give a finite number >= 0")


# The two tiny 64x64 architectures of lesson 06: five levels (64 -> 2x2 bottleneck),
# narrow (ngf 16) and a small style embedding, one entry per target font.
ARCHITECTURES = {
    "classic": dict(skip="concat", upsample="transpose"),
    "attention": dict(skip="add", upsample="pixelshuffle", attention_levels=(3, 4)),
}


def tiny_generator_config(architecture: str = "classic", num_fonts: int = 3, **overrides) -> GeneratorConfig:
    """The small 64x64 generator of lesson 06 in one of ``ARCHITECTURES``."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture={architecture!r} is not accepted: use one of {', '.join(map(repr, ARCHITECTURES))}")
    settings = dict(num_downs=5, ngf=16, embedding_num=num_fonts, embedding_dim=32, **ARCHITECTURES[architecture])
    settings.update(overrides)
    return GeneratorConfig(**settings)


# Choices of the recipe where the package can differ from zi2zi (zi2zi's first).
CATEGORY_LOSSES = ("sigmoid", "softmax")
INITS = ("normal", "pytorch")
# What a checkpoint written before a field existed was trained with.
_BEFORE_THE_FIELD = {"generator_updates": 1, "category_loss": "softmax", "init": "pytorch", "augment": 0.0,
                     "lr_halve_every": 0}
# zi2zi never lets its halving schedule take the learning rate below this.
MINIMUM_HALVED_LEARNING_RATE = 2e-4


@dataclass(frozen=True)
class TrainingConfig:
    """A training run: the generator, the discriminator width, the optimiser, the losses.

    Args:
        generator: the generator's configuration (its ``embedding_num`` must cover
            the data's target fonts).
        ndf: filters of the discriminator's first convolution.
        batch_size: (character, font) pairs per step.
        learning_rate, beta1, beta2: Adam, for both networks (zi2zi: 1e-3, 0.5, 0.999).
        seed: decides the initial weights, the batch order, the augmentation and dropout.
        weights: the ``LossWeights``.
        generator_updates: generator updates per discriminator update (zi2zi: 2).
        category_loss: how the discriminator's font head is scored: ``"sigmoid"``
            (zi2zi: a sigmoid cross-entropy per font against one-hot labels, averaged
            over fonts and batch) or ``"softmax"`` (the usual multi-class cross-entropy).
        init: ``"normal"`` (zi2zi and its PyTorch port: convolution and linear weights
            from N(0, 0.02), biases 0, batch-norm scales from N(1, 0.02)) or
            ``"pytorch"`` (torch's default initialisation).
        augment: zi2zi enlarges each (source, target) pair by a random factor in
            ``[1, 1 + augment]`` and crops it back to size at a random place (the same
            for both images); zi2zi uses 0.2, 0 turns it off.
        lr_halve_every: halve both learning rates every this many steps, never below
            0.0002 (zi2zi halves every 10 epochs, thousands of steps; 0: never).

    The defaults are lesson 06's recipe for 64x64 glyphs on a CPU: zi2zi's, with three
    changes chosen on the validation split for a budget of ``LESSON_STEPS`` steps
    (``benchmarks/recipe_choices.py``): the L1 weight is 3000 instead of 100, there is
    no augmentation instead of zi2zi's 20%, and zi2zi's learning-rate halving comes every
    700 steps (about one epoch of the shipped data) instead of every 10 epochs, which would
    never act within the budget (about 3 epochs). ``zi2zi_recipe()`` makes none of them.
    """

    generator: GeneratorConfig = field(default_factory=tiny_generator_config)
    ndf: int = 16
    batch_size: int = 16
    learning_rate: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    weights: LossWeights = field(default_factory=lambda: LossWeights(l1=3000.0))
    generator_updates: int = 2
    category_loss: str = "sigmoid"
    init: str = "normal"
    augment: float = 0.0
    lr_halve_every: int = 700

    def __post_init__(self):
        if not isinstance(self.generator, GeneratorConfig):
            raise ValueError(f"generator must be a GeneratorConfig, got {type(self.generator).__name__}")
        if not isinstance(self.weights, LossWeights):
            raise ValueError(f"weights must be a LossWeights, got {type(self.weights).__name__}")
        for name in ("ndf", "batch_size", "generator_updates"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name}={value!r} is not accepted: it must be a positive integer")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r} is not accepted: it must be an integer >= 0")
        if not isinstance(self.learning_rate, (int, float)) or not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate={self.learning_rate!r} is not accepted: give a number between 0 and 1")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"{name}={value!r} is not accepted: give a number in [0, 1)")
        for name, accepted in (("category_loss", CATEGORY_LOSSES), ("init", INITS)):
            if getattr(self, name) not in accepted:
                raise ValueError(f"{name}={getattr(self, name)!r} is not accepted: use one of {', '.join(map(repr, accepted))}")
        if isinstance(self.lr_halve_every, bool) or not isinstance(self.lr_halve_every, int) or self.lr_halve_every < 0:
            raise ValueError(f"lr_halve_every={self.lr_halve_every!r} is not accepted: give a number of steps >= 0 (0: never)")
        if isinstance(self.augment, bool) or not isinstance(self.augment, (int, float)) or not 0 <= self.augment <= 1:
            raise ValueError(f"augment={self.augment!r} is not accepted: give the largest enlargement, a number in [0, 1] (zi2zi: 0.2)")

    def learning_rate_at(self, step: int) -> float:
        """The learning rate of ``step`` (zi2zi's halving schedule, if ``lr_halve_every``)."""
        if not self.lr_halve_every:
            return self.learning_rate
        halved = self.learning_rate / 2 ** (step // self.lr_halve_every)
        return max(halved, min(self.learning_rate, MINIMUM_HALVED_LEARNING_RATE))

    def as_dict(self) -> dict:
        """Plain values only (what a ``weights_only`` checkpoint can hold)."""
        values = asdict(self)
        values["generator"]["attention_levels"] = list(self.generator.attention_levels)
        return values

    @classmethod
    def from_dict(cls, values: dict, resuming: bool = False) -> "TrainingConfig":
        """The inverse of ``as_dict``; ``ValueError`` names a key that is unknown or missing.

        A key this version does not know is an error. A missing key takes its default
        (fields added to the package later default to the earlier behaviour), except
        when ``resuming``: a run must continue with the recipe (the optimiser, the losses,
        the batch) it started with, so every recipe key must be there.
        """
        # A checkpoint older than one of the recipe's fields lacks it: it was trained
        # without it, so it gets the value runs had before the field existed.
        if isinstance(values, dict):
            values = {**_BEFORE_THE_FIELD, **values}
        recipe = _field_names(cls) if resuming else ("generator",)
        _check_keys(values, _field_names(cls), "its config", required=recipe)
        _check_keys(values["generator"], _field_names(GeneratorConfig), "its config['generator']", required=())
        if "weights" in values:
            _check_keys(values["weights"], _field_names(LossWeights), "its config['weights']",
                        required=_field_names(LossWeights) if resuming else ())
        values = dict(values)
        generator = dict(values.pop("generator"))
        if "attention_levels" in generator:
            if not isinstance(generator["attention_levels"], (list, tuple)):
                raise ValueError(f"its config['generator']['attention_levels'] must be a list, got {generator['attention_levels']!r}")
            generator["attention_levels"] = tuple(generator["attention_levels"])
        if isinstance(generator.get("level_skips"), list):
            generator["level_skips"] = tuple(tuple(pair) if isinstance(pair, list) else pair for pair in generator["level_skips"])
        if "weights" in values:
            values["weights"] = LossWeights(**values["weights"])
        return cls(generator=GeneratorConfig(**generator), **values)


def zi2zi_recipe(**overrides) -> TrainingConfig:
    """zi2zi's own recipe on the tiny generator: L1 weight 100, no change from zi2zi at all
    (``augment=0.2``, two generator updates, sigmoid category loss, normal init; its halving
    every 10 epochs would not act within lesson 06's budget, so ``lr_halve_every=0``)."""
    settings = dict(weights=LossWeights(), augment=0.2, lr_halve_every=0)
    settings.update(overrides)
    return TrainingConfig(**settings)


def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(item.name for item in fields(kind))


def _check_keys(values, expected: tuple[str, ...], what: str, required: tuple[str, ...] | None = None) -> None:
    """``ValueError`` unless ``values`` is a dict with keys among ``expected``, including all of
    ``required`` (default: all of ``expected``)."""
    if not isinstance(values, dict):
        raise ValueError(f"{what} must be a dict, got {type(values).__name__}")
    unknown = [key for key in values if key not in expected]
    missing = [key for key in (expected if required is None else required) if key not in values]
    if unknown:
        raise ValueError(f"{what} has unknown key(s) {', '.join(map(repr, unknown))} (known: {', '.join(expected)})")
    if missing:
        raise ValueError(f"{what} lacks {', '.join(map(repr, missing))} (written by another version of zi2zi-lessons?)")


# ------------------------------------------------------------------ checkpoints
# What every checkpoint holds, and what a resumable one adds (``Trainer.save``).
CHECKPOINT_ENTRIES = ("format", "config", "data", "step", "history", "generator", "resumable")
RESUMABLE_ENTRIES = ("discriminator", "optimizer_g", "optimizer_d", "torch_rng_state", "training_data", "world_size")
CUDA_ENTRIES = ("grad_scalers", "cuda_rng_state")  # only in a run saved on CUDA (mixed precision)


def checkpoint_file(path: str | os.PathLike) -> Path:
    """``path`` if it is a non-empty file, else ``ValueError`` saying what it is instead (cheap: nothing is read)."""
    path = Path(path)
    where = f"checkpoint {str(path)!r}"
    if path.is_dir():
        raise ValueError(f"{where} is a folder, not a checkpoint file")
    if not path.exists():
        raise ValueError(f"{where} does not exist")
    if not path.is_file():
        raise ValueError(f"{where} is not a regular file")
    if path.stat().st_size == 0:
        raise ValueError(f"{where} is empty (0 bytes)")
    return path


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint with ``weights_only=True`` and check that it is a whole one of ours.

    Every problem (not a file, empty, truncated, not ours, an entry missing, unknown or
    of the wrong kind, a configuration that cannot be built) raises ``ValueError``
    naming the file. Whether the weights fit the configuration is checked when they
    are loaded (``load_generator``, ``Trainer.load``).
    """
    path = checkpoint_file(path)
    where = f"checkpoint {str(path)!r}"
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a file that is not a checkpoint
        raise ValueError(f"cannot read {where} (truncated, or not a checkpoint): {type(error).__name__}: {error}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{str(path)!r} is not a zi2zi-lessons checkpoint (format {CHECKPOINT_FORMAT!r})")
    try:
        _check_entries(payload)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    return payload


def _check_entries(payload: dict) -> None:
    resumable = payload.get("resumable")
    if not isinstance(resumable, bool):
        raise ValueError(f"its 'resumable' must be True or False, got {resumable!r}")
    required = CHECKPOINT_ENTRIES + (RESUMABLE_ENTRIES if resumable else ())
    allowed = CHECKPOINT_ENTRIES + RESUMABLE_ENTRIES + CUDA_ENTRIES
    missing = [key for key in required if key not in payload]
    unknown = [key for key in payload if key not in allowed]
    if missing:
        kind = "a resumable checkpoint" if resumable else "a checkpoint"
        raise ValueError(f"it lacks {', '.join(map(repr, missing))}, which {kind} holds (damaged, or written by another version)")
    if unknown:
        raise ValueError(f"it holds unknown entries {', '.join(map(repr, unknown))}")
    step = payload["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"its step must be an integer >= 0, got {step!r}")
    history = payload["history"]
    if not isinstance(history, dict) or not all(isinstance(values, list) for values in history.values()):
        raise ValueError("its history must be a dict of lists")
    lengths = {key: len(values) for key, values in history.items() if len(values) != step}
    if lengths:
        raise ValueError(f"its history does not cover its {step} steps (lengths {lengths})")
    for key in ("generator",) + (("discriminator",) if resumable else ()):
        state = payload[key]
        if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
            raise ValueError(f"its {key!r} must be a state dict (names -> tensors)")
    if "world_size" in payload:
        size = payload["world_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"its world_size must be a positive integer, got {size!r}")
    if not isinstance(payload["data"], dict):
        raise ValueError("its 'data' must be a dict")
    if "training_data" in payload:
        _check_keys(payload["training_data"], IDENTITY_KEYS, "its 'training_data'")
    TrainingConfig.from_dict(payload["config"])  # raises ValueError if it cannot be built


IDENTITY_KEYS = ("characters", "held_out", "source_font", "target_fonts", "rendering", "pixels_sha256")


def _load_weights(module: torch.nn.Module, state: dict, where: str, what: str) -> None:
    """``module.load_state_dict(state)``; ``ValueError`` if the weights do not fit the module's configuration."""
    expected = module.state_dict()
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    reshaped = [name for name in expected if name in state and state[name].shape != expected[name].shape]
    problems = []
    if reshaped:
        first = reshaped[0]
        problems.append(f"{len(reshaped)} of {len(expected)} tensors have another shape (first: {first} is "
                        f"{tuple(state[first].shape)} in the file, {tuple(expected[first].shape)} for the config)")
    for kind, names in (("missing", missing), ("unexpected", unexpected)):
        if names:
            problems.append(f"{len(names)} {kind} (first: {names[0]})")
    if problems:
        raise ValueError(f"{where}: its {what} weights do not match its config: " + "; ".join(problems))
    module.load_state_dict(state)


def _load_optimizer(optimizer: torch.optim.Optimizer, state: dict, where: str, what: str) -> None:
    """``optimizer.load_state_dict(state)`` after checking that every moment has its parameter's shape."""
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, TypeError, RuntimeError) as error:
        raise ValueError(f"{where}: its {what} does not match its config ({error})") from None
    for number, parameter in enumerate(p for group in optimizer.param_groups for p in group["params"]):
        for name, moment in optimizer.state.get(parameter, {}).items():
            if isinstance(moment, torch.Tensor) and moment.dim() > 0 and moment.shape != parameter.shape:
                raise ValueError(f"{where}: its {what} holds {name} of shape {tuple(moment.shape)} for parameter "
                                 f"{number} of shape {tuple(parameter.shape)}: it does not match its config")


def load_generator(path: str | os.PathLike) -> tuple[UNetGenerator, dict]:
    """The trained generator of a checkpoint (in eval mode, float32) and the checkpoint itself."""
    payload = read_checkpoint(path)
    config = TrainingConfig.from_dict(payload["config"])
    generator = UNetGenerator.from_config(config.generator)
    _load_weights(generator, payload["generator"], f"checkpoint {str(path)!r}", "generator")
    generator.eval()
    return generator, payload


def _check_compatible(data: dict, dataset: GlyphDataset, what: str) -> None:
    mine = dataset.fingerprint()
    differences = [f"{key}: {data.get(key)!r} vs {mine[key]!r}" for key in mine if data.get(key) != mine[key]]
    if differences:
        raise ValueError(f"{what} was trained on other data than this data set (" + "; ".join(differences) + ")")


def _check_same_training_data(saved: dict, dataset: GlyphDataset, what: str) -> None:
    """``ValueError`` naming how ``dataset`` differs from the data a run was trained on (``GlyphDataset.identity``)."""
    mine = dataset.identity()
    differences = []
    if saved["characters"] != mine["characters"]:
        old, new = saved["characters"], mine["characters"]
        position = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
        differences.append(f"characters: {len(old):,} in the run, {len(new):,} here, first different at position "
                           f"{position} ({old[position:position + 1]!r} vs {new[position:position + 1]!r})")
    elif saved["held_out"] != mine["held_out"]:
        differences.append(f"the held-out split: {len(saved['held_out']):,} held-out characters in the run, "
                           f"{len(mine['held_out']):,} here, not the same ones")
    for key in ("source_font", "target_fonts", "rendering"):
        if saved[key] != mine[key]:
            differences.append(f"{key}: {saved[key]!r} in the run, {mine[key]!r} here")
    if not differences and saved["pixels_sha256"] != mine["pixels_sha256"]:
        differences.append("the glyph images (same characters, fonts and settings: drawn by another Pillow or FreeType?)")
    if differences:
        raise ValueError(f"{what} was trained on other data than this data set; it differs in " + "; ".join(differences)
                         + ". Resume on the data the run started with, or start a new run.")


# ------------------------------------------------------------------ training
@torch.no_grad()
def normal_init(network: torch.nn.Module) -> torch.nn.Module:
    """zi2zi's initialisation (its PyTorch port's ``init_net``): convolution and linear
    weights from N(0, 0.02), their biases 0, batch-norm scales from N(1, 0.02) and
    shifts 0. Embeddings and attention's ``gamma`` keep their own initial values."""
    for module in network.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
            torch.nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.normal_(module.weight, 1.0, 0.02)
            torch.nn.init.zeros_(module.bias)
    return network


def enlarge_and_crop(source: torch.Tensor, target: torch.Tensor, augment: float,
                     randomness: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """zi2zi's augmentation: enlarge each pair by a factor in ``[1, 1 + augment]``, crop a
    random window of the original size; source and target of a pair move together.

    ``affine_grid`` samples the enlarged image's window directly (bilinear), so
    nothing outside the image is ever read.
    """
    batch = source.shape[0]
    factor = 1 + augment * torch.rand(batch, generator=randomness)
    room = 1 - 1 / factor                                   # how far the window can move, either way
    shift = (torch.rand(batch, 2, generator=randomness) * 2 - 1) * room[:, None]
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / factor
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(source.shape), align_corners=False)
    pairs = F.grid_sample(torch.cat([source, target], 1), grid, mode="bilinear", padding_mode="border",
                          align_corners=False)
    return pairs[:, :1], pairs[:, 1:]


class NotebookLine:
    """A file for tqdm that shows only its latest line, in one notebook output updated in place.

    tqdm redraws its bar by writing ``"\r" + bar``; a notebook would store every redraw as
    another piece of stream output (hundreds of lines in a saved notebook, each shown by
    viewers that ignore ``\r``). Here each redraw replaces the text of one display instead.
    Not a widget, so a saved notebook shows the final bar without a widget manager.
    """

    encoding = "utf-8"  # tqdm draws its bar with block characters only on a UTF-8 file

    def __init__(self):
        from IPython.display import display

        self._line = ""
        self._handle = display({"text/plain": self._line}, raw=True, display_id=True)

    def write(self, text: str) -> int:
        pieces = [piece for piece in re.split(r"[\r\n]", text) if piece.strip()]
        if pieces:
            self._line = pieces[-1]
        return len(text)

    def flush(self) -> None:
        self._handle.update({"text/plain": self._line}, raw=True)


def _progress_file():
    """Where progress bars go: a ``NotebookLine`` inside a Jupyter kernel, else stderr."""
    try:
        from IPython import get_ipython
    except ImportError:
        return sys.stderr
    shell = get_ipython()
    return NotebookLine() if shell is not None and hasattr(shell, "kernel") else sys.stderr


class _Method(torch.nn.Module):
    """Calls one method of a network as its ``forward``: ``_Method(net)("encode", x)`` is ``net.encode(x)``.

    ``DistributedDataParallel`` averages gradients only for what goes through its
    ``forward``; this lets the generator's ``forward_with_encoding`` and ``encode`` do so.
    """

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network

    def forward(self, method: str, *args):
        return getattr(self.network, method)(*args)


class Trainer:
    """Trains a generator and a discriminator on the training characters of a data set.

    ``trainer.train(steps)`` runs steps with a progress bar; ``trainer.save(path)``
    writes a checkpoint and ``Trainer.load(path, dataset)`` continues it exactly.
    ``trainer.history`` holds one value per step for each of ``HISTORY_KEYS``
    (losses before weighting; "generator" and "discriminator" are the weighted totals).
    """

    def __init__(self, dataset: GlyphDataset, config: TrainingConfig | None = None):
        config = TrainingConfig(generator=tiny_generator_config(num_fonts=dataset.num_fonts)) if config is None else config
        if not isinstance(dataset, GlyphDataset):
            raise ValueError(f"dataset must be a GlyphDataset (glyphs.load_glyphs()), got {type(dataset).__name__}")
        if config.generator.embedding_num < dataset.num_fonts:
            raise ValueError(
                f"the generator's embedding_num={config.generator.embedding_num} cannot label the data's "
                f"{dataset.num_fonts} target fonts: use embedding_num >= {dataset.num_fonts}"
            )
        config.generator.check_image_size(dataset.image_size, dataset.image_size)
        if config.generator.input_nc != 1 or config.generator.output_nc != 1:
            raise ValueError("glyphs are grayscale: the generator needs input_nc=1 and output_nc=1")
        self.pair_characters, self.pair_fonts = dataset.pairs("train")
        if len(self.pair_characters) < config.batch_size:
            raise ValueError(
                f"batch_size={config.batch_size} is larger than the {len(self.pair_characters)} training pairs of the data"
            )

        self.dataset = dataset
        self.config = config
        torch.manual_seed(config.seed)
        self.generator = UNetGenerator.from_config(config.generator)
        self.discriminator = Discriminator(
            image_size=dataset.image_size, embedding_num=config.generator.embedding_num, ndf=config.ndf,
            norm=config.generator.norm,
        )
        if config.init == "normal":
            normal_init(self.generator)
            normal_init(self.discriminator)
        betas = (config.beta1, config.beta2)
        self.optimizer_g = torch.optim.Adam(self.generator.parameters(), lr=config.learning_rate, betas=betas)
        self.optimizer_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.learning_rate, betas=betas)
        self.step = 0
        self.history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
        self.seconds = 0.0  # time spent in train_step, summed (not restored: machine-dependent)
        self._data_identity = None
        self._cuda_state = {}  # what Trainer.load read for a run saved on CUDA
        self.run_on(Processes())

    @property
    def data_identity(self) -> dict:
        """``dataset.identity()``, computed once (it hashes every glyph)."""
        if self._data_identity is None:
            self._data_identity = self.dataset.identity()
        return self._data_identity

    # -- data order: a pure function of (seed, step)
    @property
    def batches_per_epoch(self) -> int:
        return len(self.pair_characters) // self.config.batch_size

    def batch_pairs(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """``(char_indices, font_ids)`` of the batch of ``step``: a slice of that epoch's permutation."""
        epoch, position = divmod(step, self.batches_per_epoch)
        order = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
        permutation = torch.randperm(len(self.pair_characters), generator=order).numpy()
        chosen = permutation[position * self.config.batch_size : (position + 1) * self.config.batch_size]
        return self.pair_characters[chosen], self.pair_fonts[chosen]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(source, target, labels)`` of ``step``, augmented as ``config.augment`` says."""
        source, target, labels = self.dataset.batch(*self.batch_pairs(step))
        if self.config.augment:
            randomness = torch.Generator().manual_seed(self.config.seed * 1_000_003 + step + 7_919)
            source, target = enlarge_and_crop(source, target, self.config.augment, randomness)
        return source, target, labels

    def _category_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.config.category_loss == "sigmoid":
            one_hot = F.one_hot(labels, logits.shape[1]).to(logits.dtype)
            return F.binary_cross_entropy_with_logits(logits, one_hot)
        return F.cross_entropy(logits, labels)

    # -- where the steps run: a device, and the processes that share each batch (distributed.py)
    def run_on(self, processes: Processes) -> "Trainer":
        """Train on ``processes.device``, each of ``processes.world_size`` processes taking its share of every batch.

        With several processes the networks' batch norms are synchronised over them and
        the networks are wrapped in ``DistributedDataParallel``; on CUDA the forward
        passes run in float16 autocast with a gradient scaler per optimiser. Returns
        the trainer. ``Trainer(...)`` starts on the CPU in one process.
        """
        from torch.nn.parallel import DistributedDataParallel

        processes.share(self.config.batch_size)  # raises unless the batch divides evenly
        device = processes.device
        if processes.world_size > 1:
            self.generator = synchronise_batch_norm(self.generator, device)
            self.discriminator = synchronise_batch_norm(self.discriminator, device)
        self.generator.to(device)
        self.discriminator.to(device)
        for optimizer in (self.optimizer_g, self.optimizer_d):
            for state in optimizer.state.values():
                for name, value in state.items():
                    if isinstance(value, torch.Tensor) and name != "step":
                        state[name] = value.to(device)
        self.processes = processes
        self.world_size = processes.world_size
        self._networks = {"generator": _Method(self.generator), "discriminator": _Method(self.discriminator)}
        if processes.world_size > 1:
            # Batch norm is synchronised, so every process holds the same buffers: no need to broadcast them.
            device_ids = [device.index] if device.type == "cuda" else None  # one GPU per process
            self._networks = {name: DistributedDataParallel(network, device_ids=device_ids, forward_sync_buffers=False)
                              for name, network in self._networks.items()}
        self._scalers = {}
        if device.type == "cuda":
            saved = self._cuda_state  # a resumed CUDA run continues its scales and random stream
            for name, optimizer in (("generator", self.optimizer_g), ("discriminator", self.optimizer_d)):
                self._scalers[id(optimizer)] = torch.amp.GradScaler("cuda")
                if "grad_scalers" in saved:
                    self._scalers[id(optimizer)].load_state_dict(saved["grad_scalers"][name])
            if "cuda_rng_state" in saved:
                torch.cuda.set_rng_state(saved["cuda_rng_state"], device)
        return self

    def local_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """This process's share of the batch of ``step`` (all of it in one process), on its device."""
        batch = self.batch(step)  # the whole batch, augmented, then this process's share of it
        mine = self.processes.share(len(batch[2]))
        return tuple(tensor[mine].to(self.processes.device) for tensor in batch)

    def _autocast(self):
        if self._scalers:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def _generate(self, source: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``generator.forward_with_encoding``, through DDP when distributed (outputs in float32)."""
        with self._autocast():
            fake, code = self._networks["generator"]("forward_with_encoding", source, labels)
        return fake.float(), code.float()

    def _encode(self, images: torch.Tensor) -> torch.Tensor:
        with self._autocast():
            code = self._networks["generator"]("encode", images)
        return code.float()

    def _discriminate(self, pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The discriminator, through DDP only while it is trained: with its weights frozen
        (the generator's update) there are no gradients of its own to average."""
        trained = any(parameter.requires_grad for parameter in self.discriminator.parameters())
        network = self._networks["discriminator"] if trained else _Method(self.discriminator)
        with self._autocast():
            logits, categories = network("forward", pairs)
        return logits.float(), categories.float()

    def _mean_over_processes(self, losses: dict[str, float]) -> dict[str, float]:
        """The losses of the whole batch: each process computed them on its share (equal shares)."""
        if self.processes.world_size == 1:
            return losses
        values = torch.tensor(list(losses.values()), dtype=torch.float64, device=self.processes.device)
        torch.distributed.all_reduce(values)
        return dict(zip(losses, (values / self.processes.world_size).tolist()))

    def _update(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Backward and one optimiser step (scaled on CUDA, against float16 underflow)."""
        optimizer.zero_grad(set_to_none=True)
        scaler = self._scalers.get(id(optimizer))
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

    # -- one step
    def train_step(self) -> dict[str, float]:
        """One discriminator update, then ``config.generator_updates`` generator updates.

        Returns this step's losses; the generator's are those of its last update.
        """
        started = time.perf_counter()
        weights = self.config.weights
        self.generator.train()
        self.discriminator.train()
        source, target, labels = self.local_batch(self.step)
        for optimizer in (self.optimizer_g, self.optimizer_d):
            for group in optimizer.param_groups:
                group["lr"] = self.config.learning_rate_at(self.step)

        fake, source_code = self._generate(source, labels)

        # Discriminator: real pairs are real, generated pairs are fake, both of their font.
        real_logit, real_category = self._discriminate(torch.cat([source, target], 1))
        fake_logit, fake_category = self._discriminate(torch.cat([source, fake.detach()], 1))
        d_real_fake = F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit)) + \
            F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
        d_category = (self._category_loss(real_category, labels) + self._category_loss(fake_category, labels)) / 2
        d_loss = d_real_fake + weights.category * d_category
        self._update(d_loss, self.optimizer_d)

        # Generator: fool the (updated) discriminator, in the right font, pixel-exact,
        # with a bottleneck that does not change when the glyph is restyled. From the
        # second update on, the batch is generated again by the updated generator.
        for parameter in self.discriminator.parameters():
            parameter.requires_grad_(False)
        try:
            for update in range(self.config.generator_updates):
                if update:
                    fake, source_code = self._generate(source, labels)
                fake_logit, fake_category = self._discriminate(torch.cat([source, fake], 1))
                adversarial = F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
                category = self._category_loss(fake_category, labels)
                l1 = F.l1_loss(fake, target)
                constant = F.mse_loss(self._encode(fake), source_code)
                g_loss = (weights.adversarial * adversarial + weights.category * category
                          + weights.l1 * l1 + weights.constant * constant)
                self._update(g_loss, self.optimizer_g)
        finally:
            for parameter in self.discriminator.parameters():
                parameter.requires_grad_(True)

        losses = {
            "discriminator": d_loss.item(),
            "generator": g_loss.item(),
            "l1": l1.item(),
            "adversarial": adversarial.item(),
            "category": category.item(),
            "constant": constant.item(),
        }
        losses = self._mean_over_processes(losses)
        for key, value in losses.items():
            self.history[key].append(value)
        self.step += 1
        self.seconds += time.perf_counter() - started
        return losses

    def train(
        self,
        steps: int,
        progress: bool = True,
        callback: Callable[["Trainer"], None] | None = None,
        callback_every: int = 50,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
    ) -> dict[str, list[float]]:
        """Run ``steps`` more steps.

        Args:
            progress: show a tqdm progress bar with the latest losses: on stderr, or
                in a notebook as one output line updated in place (``NotebookLine``).
            callback: called as ``callback(trainer)`` every ``callback_every`` steps and
                after the last one (e.g. ``plots.LiveLossCurves()``).
            checkpoint: path written (atomically) every ``checkpoint_every`` steps, if
                given, and after the last step.
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps={steps!r} is not accepted: give an integer >= 0")
        if isinstance(callback_every, bool) or not isinstance(callback_every, int) or callback_every <= 0:
            raise ValueError(f"callback_every={callback_every!r} is not accepted: give a positive integer")
        if checkpoint_every is not None and (not isinstance(checkpoint_every, int) or checkpoint_every <= 0):
            raise ValueError(f"checkpoint_every={checkpoint_every!r} is not accepted: give a positive integer or None")
        if checkpoint_every is not None and checkpoint is None:
            raise ValueError("checkpoint_every needs checkpoint=PATH")
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc="training", unit="step", mininterval=1.0, file=_progress_file(),
                       disable=not self.processes.is_main)
        try:
            for done in range(1, steps + 1):
                losses = self.train_step()
                if bar is not None:
                    bar.update(1)
                    if done % 10 == 0 or done == steps:
                        bar.set_postfix(l1=f"{losses['l1']:.3f}", d=f"{losses['discriminator']:.2f}", refresh=False)
                if callback is not None and (done % callback_every == 0 or done == steps):
                    callback(self)
                if checkpoint_every is not None and done % checkpoint_every == 0 and done != steps and self.processes.is_main:
                    self.save(checkpoint)
        finally:
            if bar is not None:
                bar.close()
        if checkpoint is not None and self.processes.is_main:
            self.save(checkpoint)
        return self.history

    # -- checkpoints
    def save(self, path: str | os.PathLike, training_state: bool = True) -> Path:
        """Write a checkpoint atomically (temporary file, then rename).

        ``training_state=False`` keeps only what evaluation needs (the generator,
        its weights rounded to float16, the configuration, the history): a file
        about a quarter of the size, which cannot be resumed.
        """
        path = Path(path)
        generator = self.generator.state_dict()
        if not training_state:
            generator = {name: t.half() if t.is_floating_point() else t for name, t in generator.items()}
        payload = {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.as_dict(),
            "data": self.dataset.fingerprint(),
            "step": self.step,
            "history": {key: list(values) for key, values in self.history.items()},
            "generator": generator,
            "resumable": training_state,
            "training_data": self.data_identity,
            "world_size": self.world_size,
        }
        if training_state:
            payload.update(
                discriminator=self.discriminator.state_dict(),
                optimizer_g=self.optimizer_g.state_dict(),
                optimizer_d=self.optimizer_d.state_dict(),
                torch_rng_state=torch.get_rng_state(),
            )
            if self._scalers:
                payload["grad_scalers"] = {name: self._scalers[id(optimizer)].state_dict()
                                           for name, optimizer in (("generator", self.optimizer_g), ("discriminator", self.optimizer_d))}
                payload["cuda_rng_state"] = torch.cuda.get_rng_state(self.processes.device)
        write_atomically(path, lambda temporary: torch.save(payload, temporary))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, dataset: GlyphDataset) -> "Trainer":
        """Continue the run saved at ``path`` on ``dataset`` (the same data it was trained on)."""
        payload = read_checkpoint(path)
        where = f"checkpoint {str(path)!r}"
        if not payload["resumable"]:
            raise ValueError(f"{where} holds only the generator (saved with training_state=False): it cannot be resumed")
        if sorted(payload["history"]) != sorted(HISTORY_KEYS):
            raise ValueError(f"{where}: its history records {sorted(payload['history'])}, this version records "
                             f"{list(HISTORY_KEYS)}: it was written by another version of zi2zi-lessons")
        _check_same_training_data(payload["training_data"], dataset, where)
        try:
            config = TrainingConfig.from_dict(payload["config"], resuming=True)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        trainer = cls(dataset, config)
        _load_weights(trainer.generator, payload["generator"], where, "generator")
        _load_weights(trainer.discriminator, payload["discriminator"], where, "discriminator")
        _load_optimizer(trainer.optimizer_g, payload["optimizer_g"], where, "optimizer_g")
        _load_optimizer(trainer.optimizer_d, payload["optimizer_d"], where, "optimizer_d")
        rng_state = payload["torch_rng_state"]
        if not (isinstance(rng_state, torch.Tensor) and rng_state.dtype == torch.uint8
                and rng_state.shape == torch.get_rng_state().shape):
            raise ValueError(f"{where}: its torch_rng_state is not a random-generator state")
        torch.set_rng_state(rng_state)
        trainer._cuda_state = {key: payload[key] for key in CUDA_ENTRIES if key in payload}  # for run_on
        trainer.step = payload["step"]
        trainer.history = {key: list(values) for key, values in payload["history"].items()}
        return trainer


# ------------------------------------------------------------------ using a trained generator
@torch.no_grad()
def generate(generator: UNetGenerator, dataset: GlyphDataset, char_indices, font_id: int,
             batch_size: int | None = None) -> np.ndarray:
    """Generated glyphs (uint8, (n, S, S)) of these characters in target font ``font_id``.

    The generator runs in eval mode (BatchNorm uses its running statistics); its
    previous mode is restored afterwards. Glyphs go through it ``batch_size`` at a
    time; the default keeps the pixels per batch of 256 glyphs of 64x64 (16 of
    256x256: 256 of them at once took 12 GB for the full-size generator).
    """
    if batch_size is None:
        batch_size = max(1, 256 * 64 * 64 // dataset.image_size ** 2)
    if not 0 <= font_id < dataset.num_fonts:
        raise ValueError(f"font_id={font_id!r} is not accepted: the data has target fonts 0..{dataset.num_fonts - 1}")
    char_indices = np.asarray(char_indices, dtype=np.int64)
    was_training = generator.training
    generator.eval()
    try:
        out = []
        for start in range(0, len(char_indices), batch_size):
            chunk = char_indices[start : start + batch_size]
            source, _, labels = dataset.batch(chunk, np.full(len(chunk), font_id))
            device = next(generator.parameters(), source).device  # the generator's (CUDA after training there)
            out.append(to_uint8(generator(source.to(device), labels.to(device))))
    finally:
        generator.train(was_training)
    size = dataset.image_size
    return np.concatenate(out) if out else np.zeros((0, size, size), dtype=np.uint8)


@dataclass(frozen=True)
class Evaluation:
    """How close the generated glyphs come to the real ones, per target font, beside two
    answers that learn nothing.

    L1 is the mean absolute pixel difference with images in [-1, 1] (as the network
    sees them; 2.0 is black against white), of the generated glyphs as uint8 images.
    Baselines: "copy source" answers with the source glyph itself; "blank page"
    answers with an empty white image (it shows how much of the L1 is just ink: a
    model that hedges towards white can beat copying without drawing anything right,
    so look at the glyphs too). ``reduction`` is ``1 - generated / copy``.
    ``beats_blank_share`` is the share of characters whose generated glyph is closer
    (in L1) to the real one than a blank page is. ``ssim`` is the mean structural
    similarity (torchmetrics' SSIM: Gaussian window 11, sigma 1.5, data range 2)
    between generated and real glyphs, 1.0 for identical images; ``copy_source_ssim``
    and ``blank_ssim`` the same for the two baselines (a blank page scores well on
    SSIM where a glyph is mostly paper: read SSIM beside its baselines too).
    ``described`` is how the printed table names the characters (``GlyphDataset.split_name``:
    "unseen" for a file with no training characters, "held-out" for the validation split).
    """

    split: str
    characters: int
    fonts: tuple[str, ...]
    generated_l1: tuple[float, ...]
    copy_source_l1: tuple[float, ...]
    blank_l1: tuple[float, ...]
    ssim: tuple[float, ...]
    copy_source_ssim: tuple[float, ...]
    blank_ssim: tuple[float, ...]
    beats_blank_share: tuple[float, ...]
    described: str | None = None  # None: the split's name

    @property
    def reduction(self) -> tuple[float, ...]:
        return tuple(1 - g / c for g, c in zip(self.generated_l1, self.copy_source_l1))

    @property
    def overall_generated_l1(self) -> float:
        return float(np.mean(self.generated_l1))

    @property
    def overall_copy_source_l1(self) -> float:
        return float(np.mean(self.copy_source_l1))

    @property
    def overall_reduction(self) -> float:
        return 1 - self.overall_generated_l1 / self.overall_copy_source_l1

    @property
    def overall_blank_l1(self) -> float:
        return float(np.mean(self.blank_l1))

    def to_json(self) -> dict:
        """Plain values: ``{"split", "characters", "fonts": [{"name", "l1", "copy_source_l1",
        "blank_l1", "reduction", "ssim", "copy_source_ssim", "blank_ssim", "beats_blank_share"}, ...],
        "overall": {...}}``."""
        fonts = [
            {"name": name, "l1": l1, "copy_source_l1": copy, "blank_l1": blank, "reduction": reduction,
             "ssim": ssim, "copy_source_ssim": copy_ssim, "blank_ssim": blank_ssim, "beats_blank_share": share}
            for name, l1, copy, blank, reduction, ssim, copy_ssim, blank_ssim, share in zip(
                self.fonts, self.generated_l1, self.copy_source_l1, self.blank_l1, self.reduction,
                self.ssim, self.copy_source_ssim, self.blank_ssim, self.beats_blank_share)
        ]
        overall = {"l1": self.overall_generated_l1, "copy_source_l1": self.overall_copy_source_l1,
                   "blank_l1": self.overall_blank_l1, "reduction": self.overall_reduction,
                   "ssim": float(np.mean(self.ssim)), "beats_blank_share": float(np.mean(self.beats_blank_share))}
        return {"split": self.split, "characters": self.characters, "fonts": fonts, "overall": overall}

    def __str__(self) -> str:
        width = max(len(name) for name in (*self.fonts, "target font"))
        lines = [
            f"L1 on {self.characters:,} {self.described or self.split.replace('_', '-')} characters"
            f" (images in [-1, 1]; lower is better);"
            f" SSIM (1 = identical)",
            f"{'target font':<{width}}  {'L1':>6}  {'copy source':>11}  {'reduction':>9}  {'blank page':>10}"
            f"  {'beats blank':>11}  {'SSIM':>5}  {'copy SSIM':>9}  {'blank SSIM':>10}",
        ]
        for name, l1, copy, reduction, blank, share, ssim, copy_ssim, blank_ssim in zip(
                self.fonts, self.generated_l1, self.copy_source_l1, self.reduction, self.blank_l1,
                self.beats_blank_share, self.ssim, self.copy_source_ssim, self.blank_ssim):
            lines.append(f"{name:<{width}}  {l1:>6.4f}  {copy:>11.4f}  {reduction:>9.1%}  {blank:>10.4f}"
                         f"  {share:>11.1%}  {ssim:>5.3f}  {copy_ssim:>9.3f}  {blank_ssim:>10.3f}")
        lines.append(f"{'overall':<{width}}  {self.overall_generated_l1:>6.4f}  {self.overall_copy_source_l1:>11.4f}"
                     f"  {self.overall_reduction:>9.1%}  {self.overall_blank_l1:>10.4f}"
                     f"  {np.mean(self.beats_blank_share):>11.1%}  {np.mean(self.ssim):>5.3f}"
                     f"  {np.mean(self.copy_source_ssim):>9.3f}  {np.mean(self.blank_ssim):>10.3f}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def _split_characters(dataset: GlyphDataset, split: str) -> np.ndarray:
    chars = dataset.indices(split)
    if len(chars) == 0:
        raise ValueError(f"the data has no {split!r} characters to evaluate on")
    return chars


def _scaled(images: np.ndarray) -> np.ndarray:
    """uint8 glyphs -> float32 in [0, 2]: the [-1, 1] scale shifted (differences are the same)."""
    return images.astype(np.float32) / 127.5


def baselines(dataset: GlyphDataset, split: str = "held_out") -> dict[str, tuple[float, ...]]:
    """L1 per target font of the two answers that learn nothing: ``{"copy source": ..., "blank page": ...}``."""
    per_character = per_character_l1(dataset, split)
    return {name: tuple(float(v) for v in values.mean(axis=1)) for name, values in per_character.items()}


def per_character_l1(dataset: GlyphDataset, split: str = "held_out", generated: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """L1 of every character, ``(fonts, characters)`` arrays: ``"copy source"``, ``"blank page"``
    and, given ``generated`` glyphs ``(fonts, characters, S, S)`` uint8, ``"generated"``."""
    chars = _split_characters(dataset, split)
    source = _scaled(dataset.source[chars])
    result = {"copy source": [], "blank page": []}
    if generated is not None:
        if generated.shape != (dataset.num_fonts, len(chars), dataset.image_size, dataset.image_size):
            raise ValueError(f"generated must be (fonts, characters, S, S) = "
                             f"{(dataset.num_fonts, len(chars), dataset.image_size, dataset.image_size)}, got {generated.shape}")
        result["generated"] = []
    for font_id in range(dataset.num_fonts):
        target = _scaled(dataset.targets[font_id, chars])
        result["copy source"].append(np.abs(source - target).mean(axis=(1, 2)))
        result["blank page"].append(np.abs(2.0 - target).mean(axis=(1, 2)))
        if generated is not None:
            result["generated"].append(np.abs(_scaled(generated[font_id]) - target).mean(axis=(1, 2)))
    return {name: np.stack(values) for name, values in result.items()}


def ssim(images: np.ndarray, references: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Structural similarity of each uint8 glyph with its reference, ``(n,)`` (torchmetrics).

    ``batch_size`` glyphs at a time; the default keeps the pixels of 512 glyphs of 64x64
    (32 of 256x256: torchmetrics takes about 11 MB per 256x256 glyph).
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    if images.shape != references.shape or images.ndim != 3:
        raise ValueError(f"images and references must both be (n, S, S), got {images.shape} and {references.shape}")
    if batch_size is None:
        batch_size = max(1, 512 * 64 * 64 // (images.shape[1] * images.shape[2]))
    values = []
    for start in range(0, len(images), batch_size):
        chunk = slice(start, start + batch_size)
        values.append(structural_similarity_index_measure(
            to_tensor(images[chunk]), to_tensor(references[chunk]), data_range=2.0, reduction="none"))
    return torch.cat(values).numpy() if values else np.zeros(0, dtype=np.float32)


def baseline_ssim(dataset: GlyphDataset, split: str = "held_out") -> dict[str, tuple[float, ...]]:
    """SSIM per target font of the two answers that learn nothing: ``{"copy source": ..., "blank page": ...}``.

    They do not depend on any model, so they are computed once per data set and split
    (kept on the data set object) and every later ``evaluate`` reuses them.
    """
    cache = dataset.__dict__.setdefault("_baseline_ssim", {})
    if split not in cache:
        chars = _split_characters(dataset, split)
        targets = dataset.targets[:, chars]
        cache[split] = {
            "copy source": tuple(float(ssim(dataset.source[chars], targets[f]).mean()) for f in range(dataset.num_fonts)),
            "blank page": tuple(float(ssim(np.full_like(targets[f], 255), targets[f]).mean()) for f in range(dataset.num_fonts)),
        }
    return cache[split]


def generate_split(generator: UNetGenerator, dataset: GlyphDataset, split: str = "held_out") -> np.ndarray:
    """Generated glyphs of a split in every target font: ``(fonts, characters, S, S)`` uint8."""
    chars = _split_characters(dataset, split)
    return np.stack([generate(generator, dataset, chars, font_id) for font_id in range(dataset.num_fonts)])


def evaluate(generator: UNetGenerator, dataset: GlyphDataset, split: str = "held_out") -> Evaluation:
    """L1, SSIM and the share that beats a blank page, per target font, over a split
    (default: the held-out characters; of a file with no training characters, such as
    ``data/unseen_64.npz``, every character: the unseen ones), with the baselines."""
    chars = _split_characters(dataset, split)
    generated = generate_split(generator, dataset, split)
    l1 = per_character_l1(dataset, split, generated)
    targets = dataset.targets[:, chars]
    return Evaluation(
        split=split,
        characters=len(chars),
        fonts=dataset.font_labels,
        generated_l1=tuple(float(v) for v in l1["generated"].mean(axis=1)),
        copy_source_l1=tuple(float(v) for v in l1["copy source"].mean(axis=1)),
        blank_l1=tuple(float(v) for v in l1["blank page"].mean(axis=1)),
        ssim=tuple(float(ssim(generated[f], targets[f]).mean()) for f in range(dataset.num_fonts)),
        copy_source_ssim=baseline_ssim(dataset, split)["copy source"],
        blank_ssim=baseline_ssim(dataset, split)["blank page"],
        beats_blank_share=tuple(float(v) for v in (l1["generated"] < l1["blank page"]).mean(axis=1)),
        described=dataset.split_name(split),
    )


def evaluate_checkpoint(path: str | os.PathLike, dataset: GlyphDataset, split: str = "held_out") -> Evaluation:
    """``evaluate`` the generator of a checkpoint, after checking it fits the data."""
    generator, payload = load_generator(path)
    _check_compatible(payload["data"], dataset, f"checkpoint {str(path)!r}")
    return evaluate(generator, dataset, split)
