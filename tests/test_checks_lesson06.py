"""Lesson 06's checkers against the wrong answers a learner writes that they used to accept:
a constant loss cut off from autograd, or with one encoding detached; a category loss whose
one-hot is as wide as the labels of one batch; the L1 given as a string. (The right answers and
the earlier wrong ones are tested in tests/test_training.py.)"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from zi2zi_lessons.checks import check_category_loss, check_constant_loss, check_copy_baseline
from zi2zi_lessons.glyphs import UNSEEN_DATA, load_glyphs


def verdict(capsys, checker, *args):
    passed = checker(*args)
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1 and out.startswith("✓" if passed else "✗"), out
    return passed, out


def right_constant_loss(generator, source, fake):
    return F.mse_loss(generator.encode(fake), generator.encode(source))


def under_no_grad(generator, source, fake):
    with torch.no_grad():
        return right_constant_loss(generator, source, fake)


@pytest.mark.parametrize("answer", [
    right_constant_loss,
    lambda g, s, f: F.mse_loss(g.encode(s), g.encode(f)),          # symmetric
    lambda g, s, f: ((g.encode(f) - g.encode(s)) ** 2).mean(),     # by hand
    lambda g, s, f: right_constant_loss(g, s, f).reshape(1),       # one element, shape (1,)
])
def test_the_constant_loss_in_any_right_form_passes(capsys, answer):
    passed, out = verdict(capsys, check_constant_loss, answer)
    assert passed and "0.161" in out


@pytest.mark.parametrize("answer,expected_words", [
    # each of these was accepted: the value is right
    (under_no_grad, "cut off from autograd"),
    (lambda g, s, f: right_constant_loss(g, s, f).detach(), "cut off from autograd"),
    (lambda g, s, f: torch.tensor(right_constant_loss(g, s, f).item()), "cut off from autograd"),
    (lambda g, s, f: F.mse_loss(g.encode(f), g.encode(s).detach()), "encode(source) is detached"),
    (lambda g, s, f: F.mse_loss(g.encode(f.detach()), g.encode(s)), "no gradient (or another one) reaches fake"),
])
def test_a_constant_loss_that_would_not_train_is_named(capsys, answer, expected_words):
    passed, out = verdict(capsys, check_constant_loss, answer)
    assert not passed and expected_words in out, out


def right_category_loss(logits, labels):
    return F.binary_cross_entropy_with_logits(logits, F.one_hot(labels, logits.shape[1]).float())


def test_the_category_loss_passes_with_the_same_line_as_before(capsys):
    passed, out = verdict(capsys, check_category_loss, right_category_loss)
    assert passed and out.startswith("✓ correct: 1.5169, the mean over 6 glyphs x 4 fonts")


@pytest.mark.parametrize("answer", [
    # accepted before: the one batch tried held every font, so the labels' maximum gave the width
    lambda logits, labels: F.binary_cross_entropy_with_logits(logits, F.one_hot(labels).float()),
    # right for the lesson's batches of one width only
    lambda logits, labels: F.binary_cross_entropy_with_logits(logits, F.one_hot(labels, 4).float()),
])
def test_a_one_hot_as_wide_as_one_batch_is_named(capsys, answer):
    passed, out = verdict(capsys, check_category_loss, answer)
    assert not passed and "one column per font: F.one_hot(labels, logits.shape[1])" in out, out


@pytest.fixture(scope="module")
def data():
    return load_glyphs()


def right_copy_l1(data, font_id):
    held = data.indices("held_out")
    return float(np.abs(data.source[held] / 127.5 - data.targets[font_id, held] / 127.5).mean())


@pytest.mark.parametrize("answer,expected_words", [
    (lambda l1: str(l1), "give the L1 as a number, not str"),       # accepted before: float("0.31...")
    (lambda l1: f"{l1:.4f}".encode(), "not bytes"),
    (lambda l1: True, "not bool"),
    (lambda l1: np.array([l1, l1]), "give the L1 as one number"),
    (lambda l1: None, "not written yet"),
])
def test_the_copy_baseline_must_be_a_number(capsys, data, answer, expected_words):
    passed, out = verdict(capsys, check_copy_baseline, answer(right_copy_l1(data, 1)), data, 1)
    assert not passed and expected_words in out, out


@pytest.mark.parametrize("form", [float, np.float32, torch.tensor])
def test_the_copy_baseline_in_any_numeric_form_passes(capsys, data, form):
    assert verdict(capsys, check_copy_baseline, form(right_copy_l1(data, 1)), data, 1)[0]


def uint8_copy_l1(data, font_id, scale):
    # |source - target| on the uint8 arrays themselves: the subtraction wraps around below 0
    held = data.indices("held_out")
    return float(np.abs(data.source[held] - data.targets[font_id, held]).mean()) / scale


def unseen_copy_l1(data, font_id):
    # the right formula on the other file the lesson loads: the unseen characters
    unseen = load_glyphs(UNSEEN_DATA)
    return right_copy_l1(unseen, font_id)


@pytest.mark.parametrize("answer,expected_words", [
    (lambda data: uint8_copy_l1(data, 1, 127.5), "uint8 subtraction wraps around"),
    (lambda data: uint8_copy_l1(data, 1, 1.0), "uint8 subtraction wraps around"),
    (lambda data: unseen_copy_l1(data, 1), "unseen characters"),
])
def test_the_copy_baseline_names_the_uint8_and_unseen_slips(capsys, data, answer, expected_words):
    passed, out = verdict(capsys, check_copy_baseline, answer(data), data, 1)
    assert not passed and expected_words in out, out
