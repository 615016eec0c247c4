"""Exercise checkers: run the learner's answer against the package's reference and
print a short, specific verdict (which shape, which count, which value was off).

Every checker returns ``True`` when the answer is right, ``False`` otherwise.
"""

from __future__ import annotations

# ---------------------------------------------------------------- lesson 01: self-attention


# ---------------------------------------------------------------- lesson 02: skip block


# ---------------------------------------------------------------- lesson 03: whole generator


# ---------------------------------------------------------------- lesson 06: training
def check_copy_baseline(value, data, font_id: int, split: str = "held_out") -> bool:
    """Judge a hand-computed copy-the-source L1 for target font ``font_id``.

    The reference: mean |source - target| over the split's characters, with both
    images scaled to [-1, 1] (uint8 / 127.5 - 1), as ``training.evaluate`` reports it.
    """
    import numpy as np

    def l1(chars, font, scale):
        source = data.source[chars].astype(np.float64) / scale
        target = data.targets[font, chars].astype(np.float64) / scale
        return float(np.abs(source - target).mean())

    chars = data.indices(split)
    right = l1(chars, font_id, 127.5)
    try:
        value = float(value)
    except (TypeError, ValueError):
        print(f"expected a number, got {type(value).__name__}")
        return False
    if abs(value - right) <= 1e-4 * max(1.0, right):
        print(f"correct: the copy-the-source L1 for {data.font_labels[font_id]} is {right:.4f}")
        return True
    diagnoses = [
        (l1(chars, font_id, 1.0), "this is the L1 in 0..255 grey levels: divide the images by 127.5 (the [-1, 1] scale)"),
        (l1(chars, font_id, 255.0), "this is the L1 with images in [0, 1]: the lessons use [-1, 1], twice as wide"),
        (l1(data.indices("all"), font_id, 127.5), "this uses every character: take only the held-out ones (data.indices('held_out'))"),
        (l1(data.indices("train"), font_id, 127.5), "this uses the training characters: take the held-out ones"),
    ]
    diagnoses += [(l1(chars, other, 127.5), f"this is font {other} ({data.font_labels[other]}), not font {font_id}")
                  for other in range(data.num_fonts) if other != font_id]
    for wrong, hint in diagnoses:
        if abs(value - wrong) <= 1e-4 * max(1.0, abs(wrong)):
            print(f"not yet: {value:.4f}; {hint}")
            return False
    print(f"not yet: {value:.4f}, expected {right:.4f} (mean |source - target| over the {len(chars)} {split} characters, images in [-1, 1])")
    return False


def check_constant_loss(constant_loss) -> bool:
    """Judge ``constant_loss(generator, source, fake) -> scalar tensor``.

    The reference: the mean squared difference between the generator's bottleneck
    of the source glyphs and of the generated glyphs, ``MSE(encode(source), encode(fake))``.
    The learner's random state is left as it was.
    """
    import torch
    import torch.nn.functional as F

    from .training import tiny_generator_config
    from .unet import UNetGenerator

    state = torch.get_rng_state()
    try:
        torch.manual_seed(6)
        generator = UNetGenerator.from_config(tiny_generator_config(num_fonts=3, ngf=8, embedding_dim=8)).eval()
        source = torch.rand(4, 1, 64, 64) * 2 - 1
        fake = torch.rand(4, 1, 64, 64) * 2 - 1
        with torch.no_grad():
            code_source, code_fake = generator.encode(source), generator.encode(fake)
            right = F.mse_loss(code_fake, code_source)
            wrong = {
                "this is the L1 (mean absolute) difference of the bottlenecks: the constant loss squares it (MSE)":
                    F.l1_loss(code_fake, code_source),
                "this is the sum of the squared differences: take their mean": F.mse_loss(code_fake, code_source, reduction="sum"),
                "this compares the images, not their bottlenecks: encode both with generator.encode first":
                    F.mse_loss(fake, source),
            }
        try:
            answer = constant_loss(generator, source, fake)
        except Exception as error:  # the learner's code: report any failure as a verdict
            print(f"not yet: calling constant_loss(generator, source, fake) raised {type(error).__name__}: {error}")
            return False
    finally:
        torch.set_rng_state(state)
    if not isinstance(answer, torch.Tensor) or answer.numel() != 1:
        print(f"not yet: return one number as a tensor (got {type(answer).__name__}"
              f"{' of shape ' + str(tuple(answer.shape)) if isinstance(answer, torch.Tensor) else ''})")
        return False
    if torch.allclose(answer.detach().float(), right, rtol=1e-4, atol=1e-7):
        print(f"correct: MSE between the 2x2 bottlenecks = {right.item():.5f}")
        return True
    for hint, value in wrong.items():
        if torch.allclose(answer.detach().float(), value, rtol=1e-4, atol=1e-7):
            print(f"not yet: {hint}")
            return False
    print(f"not yet: got {answer.item():.5f}, expected {right.item():.5f} = mean((encode(fake) - encode(source)) ** 2)")
    return False
