"""Solutions to the exercises of 06_train_a_tiny_zi2zi.ipynb.

Run from the notebooks folder: ``python solutions/lesson_06_train_a_tiny_zi2zi.py`` (exercise 3 trains
three models for ``STEPS`` steps each: minutes on a CPU; pass a smaller number as the first argument
to try it quickly).
"""

import sys

import numpy as np
import torch
import torch.nn.functional as F

from zi2zi_lessons import glyphs, training
from zi2zi_lessons.checks import check_constant_loss, check_copy_baseline


# Exercise 1: the copy-the-source L1 of LXGW WenKai (font id 1) on the held-out characters.
def copy_l1(data, font_id):
    held_out = data.indices("held_out")
    source = data.source[held_out] / 127.5 - 1          # uint8 0..255 -> [-1, 1]
    target = data.targets[font_id, held_out] / 127.5 - 1
    return np.abs(source - target).mean()


# Exercise 2: zi2zi's constant loss, the MSE between the bottlenecks of the source and the fake.
def constant_loss(generator, source, fake):
    return F.mse_loss(generator.encode(fake), generator.encode(source))


# Exercise 3: the same run with zi2zi's L1 weight, and without the discriminator's pull.
def compare_weights(data, steps):
    generator = training.tiny_generator_config("classic", data.num_fonts)
    results = {}
    for name, weights in {
        "lesson (l1=300)": training.LossWeights(l1=300.0),
        "zi2zi (l1=100)": training.LossWeights(l1=100.0),
        "no discriminator pull (l1=300, adversarial=0, category=0)": training.LossWeights(l1=300.0, adversarial=0, category=0),
    }.items():
        trainer = training.Trainer(data, training.TrainingConfig(generator=generator, weights=weights))
        trainer.train(steps)
        results[name] = training.evaluate(trainer.generator, data)
    for name, evaluation in results.items():
        print(f"{name}: held-out L1 per font {', '.join(f'{v:.4f}' for v in evaluation.generated_l1)}; "
              f"reduction vs copying {', '.join(f'{r:.1%}' for r in evaluation.reduction)}")
    return results


if __name__ == "__main__":
    data = glyphs.load_glyphs()
    assert check_copy_baseline(copy_l1(data, 1), data, font_id=1)
    assert check_constant_loss(constant_loss)
    torch.manual_seed(0)
    compare_weights(data, int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
