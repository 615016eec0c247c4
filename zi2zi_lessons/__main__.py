"""Command line: ``python -m zi2zi_lessons {build-data, train, evaluate} ...``.

    build-data   render a glyph data file from any fonts you have
    train        train a generator on a data file, with checkpoints (and resume)
    evaluate     a checkpoint's generator per target font: L1, SSIM, baselines, share beating a blank page
    inspect      what a checkpoint (upstream zi2zi-pytorch or ours) holds, read off its weights

Every argument is checked before any font is rendered or any step is taken: a bad
one ends in one line naming it, its value and what is accepted (exit status 2).
No command replaces an existing file unless told to (``--overwrite``, or
``train --resume`` onto its own checkpoint).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path

from . import files, glyphs

ARCHITECTURE_OPTIONS = ("architecture", "ngf", "num_downs", "embedding_dim", "norm")
TRAINING_OPTIONS = ("batch_size", "learning_rate", "seed", "ndf",
                    "l1_weight", "adversarial_weight", "category_weight", "constant_weight")


class UsageError(Exception):
    """A bad argument, found before any expensive work."""


def _integer(minimum: int, accepted: str, maximum: int | None = None):
    """An argparse type for integers from minimum (to maximum); `accepted` names them in the error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{text!r} must be {accepted}")
        return value
    return parse


_positive_int = _integer(1, "a positive integer")
_non_negative_int = _integer(0, "an integer >= 0")


def _float_in(low: float, high: float, accepted: str, low_open: bool = False, high_open: bool = False):
    """An argparse type for finite numbers in [low, high] (ends open as asked); `accepted` names them."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(f"{text!r} must be {accepted}")
        return value
    return parse


_non_negative_float = _float_in(0, math.inf, "a finite number >= 0", high_open=True)
_learning_rate = _float_in(0, 1, "a number between 0 and 1 (zi2zi: 0.001)", low_open=True, high_open=True)
_em_fraction = _float_in(0.1, 2.0, "a number from 0.1 to 2 (the em square as a fraction of the image side)")


def _output_file(text: str, suffix: str, option: str, may_replace: bool, replace_hint: str,
                 remove_stale: bool = True) -> Path:
    """``text`` as a path that can be written: right suffix, an existing folder we can
    write in (tried, not guessed from permission bits), and no existing file unless
    ``may_replace``. Removes what interrupted writes of it left behind (if ``remove_stale``)."""
    path = Path(text)
    if path.suffix != suffix:
        raise UsageError(f"{option} {text!r}: the file name must end in {suffix}")
    if path.is_dir():
        raise UsageError(f"{option} {text!r} is a folder; give a file name")
    if not path.parent.exists():
        raise UsageError(f"{option} {text!r}: the folder {str(path.parent)!r} does not exist")
    if not path.parent.is_dir():
        raise UsageError(f"{option} {text!r}: {str(path.parent)!r} is not a folder")
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise UsageError(f"{option} {text!r} exists and is not a regular file")
        if not may_replace:
            raise UsageError(f"{option} {text!r} already exists; {replace_hint}")
    try:
        files.check_writable_folder(path)
    except OSError as error:
        raise UsageError(f"{option} {text!r}: cannot write in the folder {str(path.parent)!r} "
                         f"({error.strerror or error})") from None
    for stale in files.remove_stale_temporaries(path) if remove_stale else ():
        print(f"removed {stale}, left by an interrupted write of {path}")
    return path


# ------------------------------------------------------------------ build-data
def _build_data(args) -> int:
    output = _output_file(args.output, ".npz", "--output", args.overwrite,
                          "give --overwrite to replace it, or another file name")
    if args.characters is not None:
        characters = glyphs.unique_characters(args.characters)
    elif args.charset_file is not None:
        characters = glyphs.read_charset_file(args.charset_file)
    else:
        characters = glyphs.charset(args.charset)
    if not characters:
        raise UsageError("the character list is empty (whitespace is ignored): give --characters, --charset-file or --charset")
    if args.limit is not None:
        characters = characters[: args.limit]
    dataset, report = glyphs.build_dataset(
        args.source, args.target, characters, size=args.size, em_fraction=args.em_fraction,
        supersample=args.supersample, held_out_every=args.held_out_every, progress=True,
    )
    print(f"source: {dataset.source_font.label} ({args.source})")
    for font_id, font in enumerate(dataset.target_fonts):
        print(f"target {font_id}: {font.label} ({args.target[font_id]})")
    print(report)
    if report.skipped and args.strict:
        print("--strict: not writing the file because characters were skipped", file=sys.stderr)
        return 1
    dataset.settings["command"] = "python -m zi2zi_lessons " + " ".join(args.argv)
    dataset.save(output)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB): {dataset.describe()}")
    return 0


# ------------------------------------------------------------------ train
def _is_main_process() -> bool:
    """Rank 0 under torchrun (which sets RANK), or a process on its own: the one that prints and writes."""
    return os.environ.get("RANK", "0") == "0"


def _say(*values, file=None) -> None:
    if _is_main_process():
        print(*values, file=file)


class _StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM during training: finish the step, save, stop.

    The first signal only sets a flag that ``check`` (called after every step) turns
    into ``Stopped``; a second one interrupts at once, as usual. Under torchrun the
    processes agree (an all-reduce of the flag) so that all stop after the same step.
    """

    class Stopped(Exception):
        pass

    def __init__(self):
        self.signal_name = None

    def _handle(self, number, frame):
        self.signal_name = signal.Signals(number).name
        signal.signal(number, signal.SIG_DFL if number == signal.SIGTERM else signal.default_int_handler)

    def check(self, trainer) -> None:
        import torch
        import torch.distributed as dist

        asked = self.signal_name is not None
        if dist.is_initialized():
            flag = torch.tensor([float(asked)], device=trainer.processes.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            asked = bool(flag.item())
        if asked:
            self.signal_name = self.signal_name or "SIGTERM"  # another process was told
            raise self.Stopped()

    def __enter__(self):
        self._previous = {number: signal.signal(number, self._handle) for number in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc_info):
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def _checkpoint_megabytes(trainer) -> float:
    """About what a resumable checkpoint of ``trainer`` takes on disk: weights and Adam's two moments."""
    tensors = [*trainer.generator.state_dict().values(), *trainer.discriminator.state_dict().values()]
    return 3 * sum(t.numel() * t.element_size() for t in tensors) / 1e6


def training_config(args: argparse.Namespace, num_fonts: int):
    """The ``TrainingConfig`` that ``train`` options ask for (the defaults where none is given)."""
    from . import training

    defaults = training.TrainingConfig()
    generator = training.tiny_generator_config(
        args.architecture or "classic",
        num_fonts=num_fonts,
        **{name: getattr(args, name) for name in ("ngf", "num_downs", "embedding_dim", "norm") if getattr(args, name) is not None},
    )
    weights = training.LossWeights(**{
        name: getattr(args, f"{name}_weight") if getattr(args, f"{name}_weight") is not None else getattr(defaults.weights, name)
        for name in ("l1", "adversarial", "category", "constant")
    })
    return training.TrainingConfig(
        generator=generator,
        weights=weights,
        **{name: getattr(args, name) for name in ("batch_size", "learning_rate", "seed", "ndf", "lr_halve_every")
           if getattr(args, name) is not None},
    )


def _train(args) -> int:
    from . import distributed

    if args.device == "cuda" and distributed.cuda_problem() is not None:
        raise UsageError(f"--device cuda: {distributed.cuda_problem()}")
    processes = distributed.start(args.device)
    try:
        return _train_on(processes, args)
    finally:
        distributed.stop()


def _train_on(processes, args) -> int:
    import shutil

    import torch

    from . import training

    main_process = processes.is_main
    if args.output is None:
        if args.resume is None:
            raise UsageError("--output CHECKPOINT.pt is required: the checkpoint the run writes")
        args.output = args.resume  # continue the run in its own file
    in_place = args.resume is not None and Path(args.output).resolve() == Path(args.resume).resolve()
    output = _output_file(args.output, ".pt", "--output", args.overwrite or in_place,
                          f"give --resume {args.output} to continue that run, --overwrite to start a new run "
                          f"in its place, or another file name", main_process)
    export = None
    if args.export is not None:
        if Path(args.export).resolve() == output.resolve():
            raise UsageError(f"--export {args.export!r}: must be another file than --output")
        export = _output_file(args.export, ".pt", "--export", args.overwrite,
                              "give --overwrite to replace it, or another file name", main_process)
    if args.resume is not None:
        given = [name for name in ARCHITECTURE_OPTIONS + TRAINING_OPTIONS if getattr(args, name) is not None]
        if given:
            options = ", ".join("--" + name.replace("_", "-") for name in given)
            raise UsageError(f"{options}: cannot be changed when resuming; the checkpoint {args.resume!r} fixes them")
        training.checkpoint_file(args.resume)  # exists, is a file: before the data is loaded
    if args.batch_size is not None and args.batch_size % processes.world_size:
        raise UsageError(f"--batch-size {args.batch_size}: {_share_problem(args.batch_size, processes.world_size)}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dataset = glyphs.load_glyphs(args.data)
    data_name = args.data or str(glyphs.DEFAULT_DATA)
    training_pairs = len(dataset.pairs("train")[0])
    if training_pairs == 0:
        raise UsageError(f"--data {data_name!r}: every character is held out (an evaluation set); "
                         f"train on a data file with training characters")

    if args.resume is not None:
        trainer = training.Trainer.load(args.resume, dataset)
        if trainer.config.batch_size % processes.world_size:
            raise UsageError(f"--resume {args.resume!r}: the run's batch size {trainer.config.batch_size}: "
                             f"{_share_problem(trainer.config.batch_size, processes.world_size)}")
    else:
        if args.batch_size is not None and args.batch_size > training_pairs:
            raise UsageError(f"--batch-size {args.batch_size}: the data has only {training_pairs} training pairs "
                             f"(characters x target fonts)")
        trainer = training.Trainer(dataset, training_config(args, dataset.num_fonts))
    if trainer.step >= args.steps:
        raise UsageError(f"--steps {args.steps}: the run is already at step {trainer.step}; give a larger total")
    needed = _checkpoint_megabytes(trainer) * (1.5 if export is not None else 1)
    free = shutil.disk_usage(output.parent).free / 1e6
    if main_process and free < needed:
        raise UsageError(f"--output {args.output!r}: {free:,.0f} MB free in {str(output.parent)!r}, and a checkpoint "
                         f"of this model takes about {needed:,.0f} MB")
    trainer.run_on(processes)

    first_step = trainer.step
    _say(f"data: {dataset.describe()}")
    if processes.world_size > 1:
        share = trainer.config.batch_size // processes.world_size
        _say(f"{processes.world_size} processes ({processes.device.type}, "
             f"{torch.distributed.get_backend()}): each takes {share} of the {trainer.config.batch_size} pairs of every batch")
    if processes.device.type == "cuda":
        _say(f"device {processes.device}: float16 autocast with gradient scaling")
    _say(f"training steps {trainer.step} -> {args.steps}, checkpoint {output}")
    try:
        with _StopRequest() as stop:
            trainer.train(args.steps - trainer.step, checkpoint=output, checkpoint_every=args.checkpoint_every,
                          callback=stop.check, callback_every=1)
    except _StopRequest.Stopped:
        if main_process:
            trainer.save(output)
        _say(f"{stop.signal_name}: stopped after step {trainer.step} and saved {output}; continue with "
             f"--resume {output} --output {output}", file=sys.stderr)
        return 128 + signal.Signals[stop.signal_name].value
    if not main_process:
        return 0
    if export is not None:
        trainer.save(export, training_state=False)
        print(f"wrote {export} (generator only)")
    print(f"{args.steps - first_step} steps in {trainer.seconds:.0f} s ({(args.steps - first_step) / trainer.seconds:.2f} steps/s)")
    if dataset.held_out.any():
        print(training.evaluate(trainer.generator, dataset))
    else:
        print("no held-out characters in the data: evaluate on another data file with "
              f"python -m zi2zi_lessons evaluate {output} DATA")
    return 0


def _share_problem(batch_size: int, world_size: int) -> str:
    from . import distributed

    try:
        distributed.share(batch_size, 0, world_size)
    except ValueError as error:
        return str(error)
    return ""


# ------------------------------------------------------------------ evaluate
def _evaluate(args) -> int:
    import json

    from . import training

    dataset = glyphs.load_glyphs(args.data)
    evaluation = training.evaluate_checkpoint(args.checkpoint, dataset, split=args.split)
    if args.json:
        payload = training.read_checkpoint(args.checkpoint)
        data = str(glyphs.DEFAULT_DATA if args.data is None else args.data)
        print(json.dumps({"checkpoint": args.checkpoint, "step": payload["step"], "config": payload["config"],
                          "data": data, **evaluation.to_json()}, ensure_ascii=False, indent=1))
        return 0
    print(f"data: {dataset.describe()}")
    print(evaluation)
    return 0


# ------------------------------------------------------------------ the parser
def build_parser() -> argparse.ArgumentParser:
    from .distributed import DEVICES
    from .training import ARCHITECTURES, TrainingConfig
    from .unet import NORMS

    parser = argparse.ArgumentParser(prog="python -m zi2zi_lessons", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build-data", help="render a glyph data file (.npz) from font files",
                                description="Render every requested character that the source and every target font "
                                            "really have; report the others. Fonts are PATH or PATH#FACE for a .ttc collection.")
    build.add_argument("--source", required=True, metavar="FONT", help="the source font: PATH or PATH#FACE")
    build.add_argument("--target", required=True, action="append", metavar="FONT",
                       help="a target font (repeat for several; font id = order given)")
    chars = build.add_mutually_exclusive_group(required=True)
    chars.add_argument("--characters", metavar="TEXT", help="the characters themselves")
    chars.add_argument("--charset-file", metavar="FILE", help="a UTF-8 text file of characters")
    chars.add_argument("--charset", choices=sorted(glyphs.CHARSETS), help="a named charset")
    build.add_argument("--limit", type=_positive_int, help="keep only the first N requested characters")
    build.add_argument("--size", type=_integer(8, "an integer >= 8 (pixels)"), default=64,
                       help="image side in pixels (default 64; 256 for the full-size zi2zi)")
    build.add_argument("--em-fraction", type=_em_fraction, default=0.875, help="em square / image side (default 0.875)")
    build.add_argument("--supersample", type=_integer(1, "an integer from 1 to 8", maximum=8), default=4, help="drawing resolution factor, 1 to 8 (default 4)")
    build.add_argument("--held-out-every", type=_non_negative_int, default=10,
                       help="hold out every N-th character (default 10; 1: all, an evaluation set; 0: none)")
    build.add_argument("--strict", action="store_true", help="fail instead of skipping characters a font lacks")
    build.add_argument("--output", required=True, metavar="FILE.npz")
    build.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    build.set_defaults(run=_build_data)

    train = commands.add_parser("train", help="train a generator on a data file",
                                description="Train the tiny zi2zi (or continue a run with --resume) until --steps "
                                            "steps in total; the checkpoint is rewritten atomically.")
    train.add_argument("--data", metavar="FILE.npz", help="glyph data (default: the shipped data/glyphs_64.npz)")
    train.add_argument("--steps", type=_positive_int, required=True, help="total steps of the run")
    train.add_argument("--output", metavar="CHECKPOINT.pt", help="resumable checkpoint to write (with --resume: default the same file)")
    train.add_argument("--resume", metavar="CHECKPOINT.pt", help="continue this run (its settings are kept)")
    train.add_argument("--export", metavar="FILE.pt", help="also write a small generator-only checkpoint at the end")
    train.add_argument("--overwrite", action="store_true",
                       help="replace an existing --output or --export (without it, an existing file is never replaced, "
                            "except --output by its own run with --resume)")
    train.add_argument("--checkpoint-every", type=_positive_int, metavar="N", help="rewrite the checkpoint every N steps")
    train.add_argument("--threads", type=_positive_int, help="torch CPU threads (default: torch's choice)")
    train.add_argument("--device", choices=DEVICES, default="auto",
                       help="auto (default): CUDA if this machine has it, else the CPU; on CUDA the forward passes "
                            "run in float16 autocast. Several processes: torchrun --nproc_per_node=N -m zi2zi_lessons train ...")
    model = train.add_argument_group("generator and discriminator (not with --resume)")
    model.add_argument("--architecture", choices=sorted(ARCHITECTURES), help="default classic")
    model.add_argument("--ngf", type=_positive_int, help="generator width (default 16)")
    model.add_argument("--num-downs", type=_positive_int, help="generator levels (default 5)")
    model.add_argument("--embedding-dim", type=_positive_int, help="style embedding width (default 32)")
    model.add_argument("--norm", choices=NORMS, help="batch (default, zi2zi's; synchronised over processes) or instance, "
                                                     "in the generator and the discriminator")
    model.add_argument("--ndf", type=_positive_int, help="discriminator width (default 16)")
    optim = train.add_argument_group("optimisation and losses (not with --resume)")
    optim.add_argument("--batch-size", type=_positive_int, help="default 16; the global batch, shared among torchrun's processes")
    optim.add_argument("--learning-rate", type=_learning_rate, help="default 0.001")
    optim.add_argument("--lr-halve-every", type=_non_negative_int, metavar="STEPS",
                       help=f"halve the learning rates every STEPS steps, never below 0.0002; 0: never "
                            f"(default {TrainingConfig().lr_halve_every}; zi2zi: every 10 epochs)")
    optim.add_argument("--seed", type=_non_negative_int, help="default 0")
    optim.add_argument("--l1-weight", type=_non_negative_float, help=f"default {TrainingConfig().weights.l1:g} (zi2zi: 100)")
    optim.add_argument("--adversarial-weight", type=_non_negative_float, help="default 1")
    optim.add_argument("--category-weight", type=_non_negative_float, help="default 1")
    optim.add_argument("--constant-weight", type=_non_negative_float, help="default 15")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser(
        "evaluate", help="L1, SSIM and the baselines of a checkpoint's generator, per target font",
        description="Per target font: the generated glyphs' L1 and SSIM, the copy-the-source and blank-page "
                    "baselines, and the share of characters whose generated glyph beats a blank page. "
                    "The unseen characters: give data/unseen_64.npz as DATA.")
    evaluate.add_argument("checkpoint", metavar="CHECKPOINT")
    evaluate.add_argument("data", nargs="?", metavar="DATA",
                          help="glyph data (default: the shipped data/glyphs_64.npz; data/unseen_64.npz: unseen characters)")
    evaluate.add_argument("--split", choices=("held_out", "train", "all"), default="held_out",
                          help="which characters of DATA (default held_out: the validation split of the shipped data, "
                               "every character of data/unseen_64.npz)")
    evaluate.add_argument("--json", action="store_true",
                          help='print one JSON object: {"checkpoint", "step", "config", "data", "split", "characters", '
                               '"fonts": [{"name", "l1", "copy_source_l1", "blank_l1", "ssim", "beats_blank_share", ...}], "overall"}')
    evaluate.set_defaults(run=_evaluate)

    from .inspection import add_inspect_command

    add_inspect_command(commands, _positive_int)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    def leave(status: int, message: str):
        # Under torchrun every process finds the same problem; rank 0 alone says it.
        parser.exit(status, f"{parser.prog} {args.command}: {message}\n" if _is_main_process() else None)

    try:
        return args.run(args)
    except (UsageError, ValueError) as error:
        leave(2, f"error: {error}")
    except OSError as error:  # a disk that fills up, a folder removed during the run: no traceback, the reason
        leave(1, f"error: {error}")
    except KeyboardInterrupt:
        leave(130, "interrupted (files already written are whole: every write is atomic)")


if __name__ == "__main__":
    sys.exit(main())
