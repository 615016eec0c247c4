"""Lesson 00's checkers: the right answer passes, each typical wrong answer gets its own
verdict (printed, never raised), the untouched template is "not written yet"."""

import pytest

from zi2zi_lessons import checks


def right_sizes(image_size, num_downs):
    return [image_size // 2 ** level for level in range(1, num_downs + 1)]


def inner(level):
    return min(64 * 2 ** (level - 1), 512)


def right_channels(level, skip, num_downs):
    if level == num_downs:
        return inner(level) + 128
    return 2 * inner(level) if skip == "concat" else inner(level)


def verdict(capsys, checker, answer):
    result = checker(answer)
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1, out
    return result, out


def test_the_right_map_sizes_pass(capsys):
    result, out = verdict(capsys, checks.check_encoded_sizes, right_sizes)
    assert result is True and out.startswith("✓ correct")


def not_implemented(*args):
    raise NotImplementedError("write me")


@pytest.mark.parametrize("answer, expected", [
    (lambda s, n: None, "not written yet: encoded_sizes(256, 8) returned None"),
    (lambda s, n: ..., "not written yet: encoded_sizes(256, 8) returned Ellipsis"),
    (not_implemented, "not written yet: encoded_sizes(256, 8) raised NotImplementedError"),
    (lambda s, n: [s // 2 ** (level - 1) for level in range(1, n + 1)], "the maps each level receives"),
    (lambda s, n: right_sizes(s, n)[::-1], "innermost first"),
    (lambda s, n: right_sizes(s, n) + [0], "gave 9 sides, but a generator with 8 levels encodes 8 maps"),
    (lambda s, n: [s / 2 ** level for level in range(1, n + 1)], "returned floats"),
    (lambda s, n: 1, "returned int; return a list of 8 sides"),
    (lambda s, n: [s >> level for level in range(1, n + 1)] if s != 96 else [48, 24, 12, 6, 2],
     "encoded_sizes(96, 5) gave [48, 24, 12, 6, 2], the generator encodes [48, 24, 12, 6, 3]"),
    (lambda s, n: 1 / 0, "encoded_sizes(256, 8) raised ZeroDivisionError"),
])
def test_each_wrong_map_size_answer_gets_its_verdict(capsys, answer, expected):
    result, out = verdict(capsys, checks.check_encoded_sizes, answer)
    assert result is False and out.startswith("✗") and expected in out, out


def test_the_right_up_channels_pass(capsys):
    result, out = verdict(capsys, checks.check_up_in_channels, right_channels)
    assert result is True and out.startswith("✓ correct")


@pytest.mark.parametrize("answer, expected", [
    (lambda level, skip, n: None, "not written yet: up_in_channels(1, 'concat', 8) returned None"),
    (not_implemented, "not written yet: up_in_channels(1, 'concat', 8) raised NotImplementedError"),
    (lambda level, skip, n: inner(level) if level == n else right_channels(level, skip, n),
     "up_in_channels(8, 'concat', 8) = 512: at the innermost level the font embedding (128 channels)"),
    (lambda level, skip, n: 2 * inner(level) if level == n else right_channels(level, skip, n),
     "up_in_channels(8, 'concat', 8) = 1024: the innermost level has no child"),
    (lambda level, skip, n: 2 * inner(level) if level < n else right_channels(level, skip, n),
     "up_in_channels(1, 'add', 8) = 128: with 'add' the child adds its skip"),
    (lambda level, skip, n: inner(level) if level < n else right_channels(level, skip, n),
     "up_in_channels(1, 'concat', 8) = 64: with 'concat' the child hands back its map joined to its skip"),
    (lambda level, skip, n: right_channels(level, skip, 8),
     "up_in_channels(6, 'concat', 6) = 1024: the innermost level has no child"),
    (lambda level, skip, n: float(right_channels(level, skip, n)), "returned 128.0; give a whole number"),
    (lambda level, skip, n: right_channels(level, skip, n) + (level == 3),
     "up_in_channels(3, 'concat', 8) = 513, the generator builds 512"),
])
def test_each_wrong_up_channel_answer_gets_its_verdict(capsys, answer, expected):
    result, out = verdict(capsys, checks.check_up_in_channels, answer)
    assert result is False and out.startswith("✗") and expected in out, out
