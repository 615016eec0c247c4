"""Rendering glyphs, charsets, building and loading glyph data files.

Most tests use the DejaVu fonts that ship with matplotlib (no CJK in them: a natural
test of the missing-character path). The tests that check the shipped data against
the Debian CJK fonts it was rendered from skip when those fonts are absent.
"""

import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

from zi2zi_lessons import glyphs
from zi2zi_lessons.glyphs import FontError, FontSpec, GlyphRenderer, build_dataset

MPL_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
SANS = MPL_FONTS / "DejaVuSans.ttf"
SERIF = MPL_FONTS / "DejaVuSerif.ttf"
MONO = MPL_FONTS / "DejaVuSansMono.ttf"


# ------------------------------------------------------------------ charsets
def test_gb2312_level1_is_the_3755_common_hanzi_in_code_order():
    chars = glyphs.gb2312_level1()
    assert len(chars) == 3755 == len(set(chars))
    assert chars[:3] == "啊阿埃" and chars[-1] == "座"
    assert all("\u4e00" <= ch <= "\u9fff" for ch in chars)
    assert glyphs.charset("gb2312-1") == chars
    with pytest.raises(ValueError, match="charset='gb' is not known"):
        glyphs.charset("gb")


def test_gb2312_level2_is_the_3008_other_hanzi_and_the_unseen_set_every_third():
    level2 = glyphs.gb2312_level2()
    assert len(level2) == 3008 == len(set(level2))
    assert level2[:3] == "亍丌兀" and level2[-1] == "齄"
    assert not set(level2) & set(glyphs.gb2312_level1())
    unseen = glyphs.charset("gb2312-2-unseen")
    assert len(unseen) == 1003 and unseen == level2[::3] and glyphs.charset("gb2312-2") == level2


def test_charset_file_ignores_whitespace_and_repeats(tmp_path):
    path = tmp_path / "chars.txt"
    path.write_text("永 和\n永九\t年\n", encoding="utf-8")
    assert glyphs.read_charset_file(path) == "永和九年"
    with pytest.raises(ValueError, match="does not exist"):
        glyphs.read_charset_file(tmp_path / "missing.txt")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match="is not UTF-8"):
        glyphs.read_charset_file(tmp_path / "latin1.txt")


# ------------------------------------------------------------------ fonts
def test_font_spec_reads_the_face_after_a_hash():
    assert FontSpec.parse("/fonts/a.ttc#2") == FontSpec(Path("/fonts/a.ttc"), 2)
    assert FontSpec.parse("/fonts/a.ttf") == FontSpec(Path("/fonts/a.ttf"), 0)
    assert str(FontSpec(Path("a.ttc"), 3)) == "a.ttc#3"
    with pytest.raises(FontError, match="must be a number"):
        FontSpec.parse("a.ttc#SC")


def test_unreadable_missing_and_wrong_face_fonts_fail_clearly(tmp_path):
    garbage = tmp_path / "broken.ttf"
    garbage.write_bytes(b"this is not a font" * 10)
    with pytest.raises(FontError, match="cannot read font file .*broken.ttf"):
        GlyphRenderer(garbage)
    with pytest.raises(FontError, match="does not exist"):
        GlyphRenderer(tmp_path / "nothing.ttf")
    with pytest.raises(FontError, match="holds one face .*face 1 does not exist"):
        GlyphRenderer(f"{SANS}#1")


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=4), "size=4"),
    (dict(em_fraction=0), "em_fraction=0"),
    (dict(supersample=0), "supersample=0"),
])
def test_bad_renderer_settings_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GlyphRenderer(SANS, **kwargs)


def test_a_glyph_is_uint8_paper_white_with_its_ink_centred():
    renderer = GlyphRenderer(SANS, size=64)
    image = renderer.render("A")
    assert image.shape == (64, 64) and image.dtype == np.uint8
    assert image[0, 0] == 255 and image.min() < 40
    ys, xs = np.nonzero(image < 128)
    # Centred by its ink box (to a quarter pixel at supersample 4, plus anti-aliasing).
    assert abs((ys.min() + ys.max()) / 2 - 31.5) <= 1
    assert abs((xs.min() + xs.max()) / 2 - 31.5) <= 1


def test_every_font_is_scaled_by_the_same_em():
    # The em square is em_fraction of the canvas for every font: the same glyph of two
    # cuts of one design has about the same height, and a larger em_fraction grows it.
    def height(font, fraction=0.875):
        ys = np.nonzero(GlyphRenderer(font, em_fraction=fraction).render("H") < 128)[0]
        return ys.max() - ys.min() + 1

    assert abs(height(SANS) - height(MONO)) <= 2
    assert height(SANS, 0.5) < 0.65 * height(SANS, 0.875)


def test_a_character_the_font_lacks_is_refused_not_drawn_as_tofu():
    renderer = GlyphRenderer(SANS)
    assert not renderer.covers("中")
    assert renderer.problem("中") == "not in the font's character map"
    with pytest.raises(ValueError, match=r"cannot render '中' \(U\+4E2D\) with DejaVu Sans: not in the font's character map"):
        renderer.render("中")


def test_a_glyph_without_ink_is_refused():
    renderer = GlyphRenderer(SANS)
    assert renderer.covers("\u200b")  # zero width space: mapped, but nothing to draw
    assert renderer.problem("\u200b") == "renders empty (no ink)"


def test_a_glyph_too_large_for_the_canvas_is_refused_not_shrunk():
    renderer = GlyphRenderer(SANS, em_fraction=1.6)
    assert "too large" in renderer.problem("W")
    assert renderer.problem(".") is None


def _box_font(path: Path) -> Path:
    """A tiny TrueType font: .notdef is a box; 'A' is the same box (a tofu glyph),
    'B' is empty, 'C' is mapped to .notdef itself, 'D' is a real (different) shape."""

    def box(pen, x0, y0, x1, y1):
        pen.moveTo((x0, y0)); pen.lineTo((x0, y1)); pen.lineTo((x1, y1)); pen.lineTo((x1, y0)); pen.closePath()

    outlines = {}
    for name, draw in {
        ".notdef": lambda pen: (box(pen, 100, 0, 500, 700), box(pen, 150, 50, 450, 650)),
        "A": lambda pen: (box(pen, 100, 0, 500, 700), box(pen, 150, 50, 450, 650)),
        "B": lambda pen: None,
        "D": lambda pen: box(pen, 100, 0, 300, 600),
    }.items():
        pen = TTGlyphPen(None)
        draw(pen)
        outlines[name] = pen.glyph()
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(list(outlines))
    builder.setupCharacterMap({ord("A"): "A", ord("B"): "B", ord("C"): ".notdef", ord("D"): "D"})
    builder.setupGlyf(outlines)
    builder.setupHorizontalMetrics({name: (600, 0) for name in outlines})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Box Test", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(path)
    return path


def test_tofu_empty_and_notdef_mappings_are_all_refused(tmp_path):
    renderer = GlyphRenderer(_box_font(tmp_path / "box.ttf"))
    assert renderer.label == "Box Test"
    assert renderer.problem("A") == "renders as the font's missing-glyph box"
    assert renderer.problem("B") == "renders empty (no ink)"
    assert not renderer.covers("C") and renderer.problem("C") == "not in the font's character map"
    assert renderer.problem("D") is None


# ------------------------------------------------------------------ building data sets
def test_build_keeps_what_every_font_has_and_reports_the_rest():
    dataset, report = build_dataset(SANS, [SERIF, MONO], "AB中Cé\u200bD", size=32, held_out_every=2)
    assert dataset.characters == "ABCéD"
    assert report.requested == 7 and report.kept == "ABCéD"
    assert set(report.skipped) == {"中", "\u200b"}
    assert len(report.skipped["中"]) == 3  # all three fonts lack it
    assert "DejaVu Sans (DejaVuSans.ttf): not in the font's character map" in report.skipped["中"]
    assert "skipped 2" in str(report) and "U+4E2D" in str(report)
    assert dataset.source.shape == (5, 32, 32) and dataset.targets.shape == (2, 5, 32, 32)
    assert dataset.held_out.tolist() == [False, True, False, True, False]
    assert dataset.font_labels == ("DejaVu Serif", "DejaVu Sans Mono")
    # every stored glyph has ink
    assert (dataset.source.reshape(5, -1).min(1) < 128).all()
    assert (dataset.targets.reshape(10, -1).min(1) < 128).all()
    # the source row is exactly what the renderer draws
    np.testing.assert_array_equal(dataset.source[0], GlyphRenderer(SANS, size=32).render("A"))


def test_build_refuses_empty_lists_and_nothing_in_common():
    with pytest.raises(ValueError, match="characters is empty"):
        build_dataset(SANS, [SERIF], " \n ")
    with pytest.raises(ValueError, match="targets is empty"):
        build_dataset(SANS, [], "A")
    with pytest.raises(ValueError, match="no character is rendered by every font"):
        build_dataset(SANS, [SERIF], "中文")
    with pytest.raises(ValueError, match="held_out_every=-1"):
        build_dataset(SANS, [SERIF], "A", held_out_every=-1)


def test_held_out_every_one_makes_an_evaluation_set():
    dataset, _ = build_dataset(SANS, [SERIF], "XYZ", size=32, held_out_every=1)
    assert dataset.held_out.all() and len(dataset.indices("train")) == 0
    # its characters are "unseen" (none for training), not the validation split's "held out"
    assert dataset.is_evaluation_set and dataset.split_name("held_out") == dataset.split_name("all") == "unseen"
    assert dataset.describe().startswith("3 unseen characters (none for training), 32x32 px")
    assert "held out" not in dataset.describe()
    dataset, _ = build_dataset(SANS, [SERIF], "XYZ", size=32, held_out_every=0)
    assert not dataset.held_out.any() and not dataset.is_evaluation_set


def test_a_training_file_names_its_validation_split_held_out():
    dataset, _ = build_dataset(SANS, [SERIF], "ABCDEFGH", size=32, held_out_every=4)
    assert not dataset.is_evaluation_set
    assert dataset.describe().startswith("8 characters (6 train, 2 held out), 32x32 px")
    assert [dataset.split_name(s) for s in ("train", "held_out", "all")] == ["train", "held-out", "all"]
    with pytest.raises(ValueError, match="split='validation' is not accepted"):
        dataset.split_name("validation")


def test_save_and_load_give_back_the_same_data(tmp_path):
    dataset, _ = build_dataset(SANS, [SERIF, MONO], "ABCDE", size=32)
    path = dataset.save(tmp_path / "glyphs.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["glyphs.npz"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # readable like any file, not private to its writer
    loaded = glyphs.load_glyphs(path)
    assert loaded.characters == "ABCDE"
    np.testing.assert_array_equal(loaded.source, dataset.source)
    np.testing.assert_array_equal(loaded.targets, dataset.targets)
    np.testing.assert_array_equal(loaded.held_out, dataset.held_out)
    assert loaded.target_fonts == dataset.target_fonts and loaded.source_font == dataset.source_font
    assert loaded.settings["em_fraction"] == 0.875
    with pytest.raises(ValueError, match="must end in .npz"):
        dataset.save(tmp_path / "glyphs.bin")
    with pytest.raises(ValueError, match="does not exist"):
        glyphs.load_glyphs(tmp_path / "none.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="is not a zi2zi-lessons glyph file"):
        glyphs.load_glyphs(tmp_path / "other.npz")


def test_batches_are_pairs_in_minus_one_to_one():
    dataset, _ = build_dataset(SANS, [SERIF, MONO], "ABCD", size=32)
    source, target, labels = dataset.batch([0, 3], [1, 0])
    assert source.shape == target.shape == (2, 1, 32, 32)
    assert source.max() == 1.0 and source.min() >= -1.0
    assert labels.tolist() == [1, 0] and labels.dtype == torch.long
    np.testing.assert_array_equal(glyphs.to_uint8(target[0]), dataset.targets[1, 0])
    chars, fonts = dataset.pairs("all")
    assert chars.tolist() == [0, 1, 2, 3, 0, 1, 2, 3] and fonts.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="split='test'"):
        dataset.indices("test")


def test_round_trip_between_uint8_and_tensors_is_exact():
    images = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    np.testing.assert_array_equal(glyphs.to_uint8(glyphs.to_tensor(images)), images)


# ------------------------------------------------------------------ the shipped data
def test_the_shipped_data_loads_fast_and_has_what_lesson_06_needs():
    dataset = glyphs.load_glyphs()
    assert glyphs.DEFAULT_DATA == Path(glyphs.__file__).resolve().parent.parent / "data" / "glyphs_64.npz"
    assert len(dataset.characters) >= 1000 and dataset.image_size == 64 and dataset.num_fonts >= 3
    assert len(set(dataset.characters)) == len(dataset.characters)
    assert dataset.source_font.label == "Noto Serif CJK SC"
    assert dataset.font_labels == ("Noto Sans CJK SC", "LXGW WenKai", "AR PL UKai CN")
    # the documented split: every 10th character held out
    assert dataset.held_out.tolist() == [i % 10 == 9 for i in range(len(dataset.characters))]
    # no blank glyph, and no target identical to the source
    assert (dataset.source.reshape(len(dataset.characters), -1).min(1) < 64).all()
    assert (dataset.targets.reshape(-1, 64 * 64).min(1) < 64).all()
    for f in range(dataset.num_fonts):
        assert not np.array_equal(dataset.targets[f], dataset.source)


def test_the_unseen_characters_are_level_2_drawn_exactly_like_the_training_data():
    unseen, shipped = glyphs.load_glyphs(glyphs.UNSEEN_DATA), glyphs.load_glyphs()
    assert unseen.characters == glyphs.gb2312_level2_unseen()  # the build skipped none
    assert not set(unseen.characters) & set(shipped.characters)  # nothing a model was trained on
    assert unseen.held_out.all() and len(unseen.indices("held_out")) == 1003
    assert unseen.fingerprint() == shipped.fingerprint()  # evaluate accepts it for the reference runs
    assert (unseen.source_font, unseen.target_fonts) == (shipped.source_font, shipped.target_fonts)
    for key in ("size", "em_fraction", "supersample", "pillow"):
        assert unseen.settings[key] == shipped.settings[key]
    assert (unseen.targets.reshape(-1, 64 * 64).min(1) < 64).all()


def test_data_folder_is_at_most_30_mb():
    total = sum(p.stat().st_size for p in glyphs.DATA_DIR.rglob("*") if p.is_file())
    assert total <= 30 * 2**20, f"data/ holds {total / 2**20:.1f} MiB"


DEBIAN_FONTS = {
    "Noto Serif CJK SC": "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc#2",
    "Noto Sans CJK SC": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc#2",
    "LXGW WenKai": "/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf",
    "AR PL UKai CN": "/usr/share/fonts/truetype/arphic/ukai.ttc#0",
}
missing_fonts = [spec for spec in DEBIAN_FONTS.values() if not Path(spec.split("#")[0]).is_file()]
needs_cjk_fonts = pytest.mark.skipif(
    bool(missing_fonts),
    reason="needs the Debian CJK fonts the shipped data was rendered from "
           "(apt-get install fonts-noto-cjk fonts-lxgw-wenkai fonts-arphic-ukai); missing: " + ", ".join(missing_fonts),
)


@needs_cjk_fonts
@pytest.mark.parametrize("path", [glyphs.DEFAULT_DATA, glyphs.UNSEEN_DATA], ids=["glyphs_64", "unseen_64"])
def test_every_shipped_character_is_in_every_fonts_character_map(path):
    dataset = glyphs.load_glyphs(path)
    for font in (dataset.source_font, *dataset.target_fonts):
        renderer = GlyphRenderer(DEBIAN_FONTS[font.label])
        assert renderer.info.sha256 == font.sha256, f"{font.label}: not the font file the data was built from"
        lacking = [ch for ch in dataset.characters if not renderer.covers(ch)]
        assert not lacking, f"{font.label} lacks {''.join(lacking[:20])}"


@needs_cjk_fonts
@pytest.mark.parametrize("path", [glyphs.DEFAULT_DATA, glyphs.UNSEEN_DATA], ids=["glyphs_64", "unseen_64"])
def test_rebuilding_a_sample_of_the_shipped_data_gives_the_same_glyphs(path):
    dataset = glyphs.load_glyphs(path)
    sample = np.arange(0, len(dataset.characters), 125)
    chars = "".join(dataset.characters[i] for i in sample)
    labels = [dataset.source_font.label, *dataset.font_labels]
    rebuilt, report = build_dataset(DEBIAN_FONTS[labels[0]], [DEBIAN_FONTS[label] for label in labels[1:]], chars,
                                    size=64, em_fraction=dataset.settings["em_fraction"],
                                    supersample=dataset.settings["supersample"])
    assert not report.skipped
    # FreeType versions may anti-alias a little differently: allow one grey level on average.
    assert np.abs(rebuilt.source.astype(int) - dataset.source[sample]).mean() < 1.0
    assert np.abs(rebuilt.targets.astype(int) - dataset.targets[:, sample]).mean() < 1.0
