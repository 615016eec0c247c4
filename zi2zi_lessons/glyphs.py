"""The glyph data set: rendering glyphs from font files, charsets, and the shipped data.

A data set pairs every character rendered in one *source* font with the same
character rendered in each of several *target* fonts, all on the same square
canvas, scaled and centred the same way::

    source font ──render──▶ source[i]            (N, H, W)  uint8, 255 = paper, 0 = ink
    target font f ─render─▶ targets[f, i]        (F, N, H, W)
    characters[i], held_out[i]                   which glyph, and whether training may see it

How a glyph is drawn (``GlyphRenderer``), the same for every font:

1. the font is set to ``em_fraction * size`` pixels per em, ``supersample`` times
   larger than the final canvas, so that anti-aliasing comes from area averaging;
2. the character is drawn with Pillow's basic layout (exactly the glyph the
   character map names, no shaping), and its ink is cropped to its bounding box;
3. the ink box is centred on the canvas and the canvas is shrunk by box averaging
   to ``size x size``.

Only glyphs the font really has are kept: a character must be in the font's
character map (read with fontTools) and not mapped to ``.notdef``; its rendering
must have ink, must not be the font's missing-glyph box, and must fit the canvas.
Anything else is reported by ``build_dataset`` as skipped, never stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from fontTools.ttLib import TTCollection, TTFont, TTLibError
from PIL import Image, ImageDraw, ImageFont

from .files import write_atomically

__all__ = [
    "DATA_DIR",
    "DEFAULT_DATA",
    "UNSEEN_DATA",
    "FORMAT",
    "CHARSETS",
    "FontError",
    "FontSpec",
    "FontInfo",
    "GlyphRenderer",
    "BuildReport",
    "GlyphDataset",
    "gb2312_level1",
    "gb2312_level2",
    "gb2312_level2_unseen",
    "charset",
    "read_charset_file",
    "unique_characters",
    "build_dataset",
    "load_glyphs",
    "to_tensor",
    "to_uint8",
    "write_atomically",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_DATA = DATA_DIR / "glyphs_64.npz"
# Lesson 06's test set: GB 2312 level-2 characters (none in DEFAULT_DATA), the same fonts and drawing.
UNSEEN_DATA = DATA_DIR / "unseen_64.npz"
FORMAT = "zi2zi-lessons glyphs v1"


class FontError(ValueError):
    """A font file that cannot be read, or a face that is not in it."""


# ------------------------------------------------------------------ charsets
def gb2312_level1() -> str:
    """The 3,755 level-1 hanzi of GB 2312 (the "commonly used" level), in code order.

    GB 2312 orders them by pinyin, so every n-th character is spread across the set.
    Python's ``gb2312`` codec decodes rows 0xB0-0xD7, columns 0xA1-0xFE; the last
    row stops at 0xF9.
    """
    characters = []
    for row in range(0xB0, 0xD8):
        last_column = 0xF9 if row == 0xD7 else 0xFE
        for column in range(0xA1, last_column + 1):
            characters.append(bytes([row, column]).decode("gb2312"))
    return "".join(characters)


def gb2312_level2() -> str:
    """The 3,008 level-2 hanzi of GB 2312 (the less common ones), in code order.

    Level 2 is ordered by radical, then stroke count; rows 0xD8-0xF7, columns
    0xA1-0xFE, all 94 code points of each row in use. No character is in level 1.
    """
    return "".join(bytes([row, column]).decode("gb2312") for row in range(0xD8, 0xF8) for column in range(0xA1, 0xFF))


def gb2312_level2_unseen() -> str:
    """Every third level-2 character (1,003 of 3,008): lesson 06's unseen characters.

    Taking every third spreads them over all the radicals, from the first row to the last.
    """
    return gb2312_level2()[::3]


CHARSETS = {"gb2312-1": gb2312_level1, "gb2312-2": gb2312_level2, "gb2312-2-unseen": gb2312_level2_unseen}


def charset(name: str) -> str:
    """A named charset (see ``CHARSETS``)."""
    if name not in CHARSETS:
        raise ValueError(f"charset={name!r} is not known: use one of {', '.join(map(repr, CHARSETS))}")
    return CHARSETS[name]()


def unique_characters(text: str) -> str:
    """The characters of ``text`` without whitespace, each once, in first-seen order."""
    return "".join(dict.fromkeys(ch for ch in text if not ch.isspace()))


def read_charset_file(path: str | os.PathLike) -> str:
    """Characters from a UTF-8 text file (whitespace and repeats ignored)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"charset file {str(path)!r} does not exist") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"charset file {str(path)!r} is not UTF-8 text: {error}") from None
    return unique_characters(text)


# ------------------------------------------------------------------ fonts
@dataclass(frozen=True)
class FontSpec:
    """A font file and the face to use in it (a .ttc collection holds several).

    Written ``PATH`` or ``PATH#INDEX`` on the command line, e.g.
    ``/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc#2`` (the SC face).
    """

    path: Path
    index: int = 0

    @classmethod
    def parse(cls, text: "str | os.PathLike | FontSpec") -> "FontSpec":
        if isinstance(text, FontSpec):
            return text
        text = os.fspath(text)
        path, hash_sign, index = text.rpartition("#")
        if not hash_sign:
            return cls(Path(text), 0)
        if not index.isdigit():
            raise FontError(f"font {text!r}: the face after '#' must be a number (e.g. {path or 'font.ttc'}#0)")
        return cls(Path(path), int(index))

    def __str__(self) -> str:
        return f"{self.path}#{self.index}" if self.index else str(self.path)


@dataclass(frozen=True)
class FontInfo:
    """What a data file records about each font (read from the font's name table)."""

    label: str
    family: str
    style: str
    version: str
    file: str
    face_index: int
    sha256: str

    @classmethod
    def from_dict(cls, values: dict, what: str = "a font") -> "FontInfo":
        """A ``FontInfo`` from exactly its fields (``ValueError`` names what is missing, extra or mistyped)."""
        if not isinstance(values, dict):
            raise ValueError(f"{what} must be a JSON object, got {type(values).__name__} {values!r:.60}")
        _check_keys(values, [item.name for item in fields(cls)], what)
        for item in fields(cls):
            kind = int if item.name == "face_index" else str
            value = values[item.name]
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ValueError(f"{what}: {item.name!r} must be {'an integer' if kind is int else 'a string'}, got {value!r}")
        return cls(**values)


def _check_keys(values: dict, expected: Sequence[str], what: str) -> None:
    """``ValueError`` naming the keys ``values`` lacks or has beyond ``expected``."""
    missing = [key for key in expected if key not in values]
    extra = [key for key in values if key not in expected]
    problems = []
    if missing:
        problems.append("lacks " + ", ".join(map(repr, missing)))
    if extra:
        problems.append("has unexpected " + ", ".join(map(repr, extra)))
    if problems:
        raise ValueError(f"{what} {' and '.join(problems)} (expected exactly: {', '.join(map(repr, expected))})")


def _open_ttfont(spec: FontSpec) -> TTFont:
    if not spec.path.is_file():
        raise FontError(f"font file {str(spec.path)!r} does not exist")
    try:
        with open(spec.path, "rb") as handle:
            is_collection = handle.read(4) == b"ttcf"
        if is_collection:
            faces = TTCollection(spec.path, lazy=True).fonts
            if spec.index >= len(faces):
                raise FontError(
                    f"font file {str(spec.path)!r} holds {len(faces)} faces (0..{len(faces) - 1}); "
                    f"face {spec.index} does not exist"
                )
            return faces[spec.index]
        if spec.index != 0:
            raise FontError(f"font file {str(spec.path)!r} holds one face (0); face {spec.index} does not exist")
        return TTFont(spec.path, lazy=True)
    except (TTLibError, OSError, AssertionError, struct.error) as error:
        raise FontError(f"cannot read font file {str(spec.path)!r}: {error}") from None


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class GlyphRenderer:
    """Renders characters of one font face as ``size x size`` uint8 glyph images.

    Args:
        font: a ``FontSpec`` or ``"PATH"`` / ``"PATH#FACE"``.
        size: side of the square canvas in pixels.
        em_fraction: the font's em square as a fraction of the canvas side (the same
            for every font, so their sizes compare); ink larger than the canvas is
            refused, not shrunk.
        supersample: drawing resolution relative to ``size`` (area-averaged down).

    ``attempt(ch)`` returns ``(image, None)`` or ``(None, reason)``; ``problem(ch)``
    only the reason (``None`` if ``ch`` renders); ``render(ch)`` the image, or raises
    ``ValueError`` with the reason.
    """

    def __init__(self, font, size: int = 64, em_fraction: float = 0.875, supersample: int = 4):
        if isinstance(size, bool) or not isinstance(size, int) or size < 8:
            raise ValueError(f"size={size!r} is not accepted: give an integer number of pixels >= 8")
        if not isinstance(em_fraction, (int, float)) or not 0.1 <= em_fraction <= 2.0:
            raise ValueError(f"em_fraction={em_fraction!r} is not accepted: give a number between 0.1 and 2")
        if isinstance(supersample, bool) or not isinstance(supersample, int) or not 1 <= supersample <= 8:
            raise ValueError(f"supersample={supersample!r} is not accepted: give an integer from 1 to 8")
        self.spec = FontSpec.parse(font)
        self.size = size
        self.em_fraction = float(em_fraction)
        self.supersample = supersample

        ttfont = _open_ttfont(self.spec)
        try:
            self._cmap = ttfont.getBestCmap() or {}
            names = ttfont["name"]
            family = names.getDebugName(16) or names.getDebugName(1) or self.spec.path.stem
            style = names.getDebugName(17) or names.getDebugName(2) or ""
            version = (names.getDebugName(5) or "").strip()
        except (TTLibError, KeyError, AssertionError) as error:
            raise FontError(f"cannot read the tables of font file {str(self.spec.path)!r}: {error}") from None
        self._notdef_names = {ttfont.getGlyphOrder()[0], ".notdef"}
        label = family if style.lower() in ("regular", "book", "") else f"{family} {style}"
        self.info = FontInfo(
            label=label,
            family=family,
            style=style,
            version=version,
            file=self.spec.path.name,
            face_index=self.spec.index,
            sha256=_file_sha256(self.spec.path),
        )

        self._hi = size * supersample
        self._em_pixels = max(1, round(em_fraction * self._hi))
        try:
            self._font = ImageFont.truetype(
                str(self.spec.path), self._em_pixels, index=self.spec.index, layout_engine=ImageFont.Layout.BASIC
            )
        except OSError as error:
            raise FontError(f"Pillow cannot open font file {str(self.spec.path)!r} face {self.spec.index}: {error}") from None
        self._missing_box = self._draw_ink(self._unmapped_character())

    @property
    def label(self) -> str:
        return self.info.label

    def covers(self, ch: str) -> bool:
        """``ch`` is in the character map and not mapped to the missing-glyph glyph."""
        _check_character(ch)
        glyph = self._cmap.get(ord(ch))
        return glyph is not None and glyph not in self._notdef_names

    def _unmapped_character(self) -> str:
        # A private-use code point the font does not map: Pillow draws .notdef for it.
        for code in range(0xF0000, 0xF0100):
            if code not in self._cmap:
                return chr(code)
        raise FontError(f"font {self.spec} maps every probed private-use code point; cannot find its missing-glyph box")

    def _draw_ink(self, ch: str) -> np.ndarray | None:
        """The ink of ``ch`` cropped to its bounding box at drawing resolution (None: no ink).

        Raises ``ValueError`` if the ink reaches the edge of the drawing area (it
        would be cut off).
        """
        side = 3 * self._em_pixels
        image = Image.new("L", (side, side), 0)
        ImageDraw.Draw(image).text((side // 2, side // 2), ch, font=self._font, fill=255, anchor="mm")
        box = image.getbbox()
        if box is None:
            return None
        if box[0] == 0 or box[1] == 0 or box[2] == side or box[3] == side:
            raise ValueError(f"{ch!r} in {self.label}: ink reaches three em widths; refusing to crop it")
        return np.asarray(image.crop(box))

    def attempt(self, ch: str) -> tuple[np.ndarray | None, str | None]:
        """``(image, None)`` if ``ch`` renders, else ``(None, reason)``; see ``render``."""
        if not self.covers(ch):
            return None, "not in the font's character map"
        try:
            ink = self._draw_ink(ch)
        except ValueError as error:
            return None, str(error)
        if ink is None or ink.max() == 0:
            return None, "renders empty (no ink)"
        if self._missing_box is not None and ink.shape == self._missing_box.shape and np.array_equal(ink, self._missing_box):
            return None, "renders as the font's missing-glyph box"
        height, width = ink.shape
        if height > self._hi or width > self._hi:
            return None, (
                f"too large: ink {width / self.supersample:.1f}x{height / self.supersample:.1f} px does not fit "
                f"the {self.size}x{self.size} canvas at em_fraction={self.em_fraction}"
            )
        canvas = np.zeros((self._hi, self._hi), dtype=np.uint8)
        top, left = (self._hi - height) // 2, (self._hi - width) // 2
        canvas[top : top + height, left : left + width] = ink
        small = Image.fromarray(canvas).resize((self.size, self.size), Image.Resampling.BOX)
        return 255 - np.asarray(small, dtype=np.uint8), None

    def problem(self, ch: str) -> str | None:
        """Why ``ch`` cannot be rendered by this font, or ``None``."""
        return self.attempt(ch)[1]

    def render(self, ch: str) -> np.ndarray:
        """``ch`` as a ``(size, size)`` uint8 image: 255 paper, 0 ink, ink box centred."""
        image, reason = self.attempt(ch)
        if reason is not None:
            raise ValueError(f"cannot render {ch!r} (U+{ord(ch):04X}) with {self.label}: {reason}")
        return image


def _check_character(ch) -> None:
    if not isinstance(ch, str) or len(ch) != 1:
        raise ValueError(f"a character must be a string of length 1, got {ch!r}")


# ------------------------------------------------------------------ the data set
@dataclass
class GlyphDataset:
    """Source glyphs, target glyphs per font, the characters and the split.

    ``source``: (N, H, W) uint8; ``targets``: (F, N, H, W) uint8 (255 paper, 0 ink);
    ``characters``: N characters; ``held_out``: (N,) bool, True for characters
    training never sees; ``target_fonts[f]`` describes target font ``f`` (its font id
    for the generator is ``f``).
    """

    characters: str
    source: np.ndarray
    targets: np.ndarray
    held_out: np.ndarray
    source_font: FontInfo
    target_fonts: tuple[FontInfo, ...]
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        count = len(self.characters)
        if self.source.dtype != np.uint8 or self.targets.dtype != np.uint8:
            raise ValueError("glyph images must be uint8 arrays")
        if self.source.ndim != 3 or self.source.shape[0] != count or self.source.shape[1] != self.source.shape[2]:
            raise ValueError(f"source must be (N, S, S) with N={count} characters, got {self.source.shape}")
        expected = (len(self.target_fonts), *self.source.shape)
        if self.targets.shape != expected:
            raise ValueError(f"targets must be (fonts, N, S, S) = {expected}, got {self.targets.shape}")
        if self.held_out.shape != (count,) or self.held_out.dtype != bool:
            raise ValueError(f"held_out must be a bool array of shape ({count},), got {self.held_out.dtype} {self.held_out.shape}")

    # -- sizes and splits
    @property
    def image_size(self) -> int:
        return int(self.source.shape[1])

    @property
    def num_fonts(self) -> int:
        return len(self.target_fonts)

    @property
    def font_labels(self) -> tuple[str, ...]:
        return tuple(font.label for font in self.target_fonts)

    def indices(self, split: str) -> np.ndarray:
        """Character indices of ``"train"``, ``"held_out"`` or ``"all"``."""
        if split == "train":
            return np.flatnonzero(~self.held_out)
        if split == "held_out":
            return np.flatnonzero(self.held_out)
        if split == "all":
            return np.arange(len(self.characters))
        raise ValueError(f"split={split!r} is not accepted: use 'train', 'held_out' or 'all'")

    def split_characters(self, split: str) -> str:
        return "".join(self.characters[i] for i in self.indices(split))

    def pairs(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Every (character, font) pair of a split: ``(char_indices, font_ids)``, font-major."""
        chars = self.indices(split)
        fonts = np.repeat(np.arange(self.num_fonts), len(chars))
        return np.tile(chars, self.num_fonts), fonts

    def batch(self, char_indices, font_ids) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(source, target, labels)`` tensors for these pairs: images (B, 1, S, S) in [-1, 1]."""
        char_indices = np.asarray(char_indices)
        font_ids = np.asarray(font_ids)
        source = to_tensor(self.source[char_indices])
        target = to_tensor(self.targets[font_ids, char_indices])
        return source, target, torch.as_tensor(font_ids, dtype=torch.long)

    # -- compatibility and files
    @property
    def is_evaluation_set(self) -> bool:
        """True when no character is for training (``held_out_every=1``, e.g. ``data/unseen_64.npz``):
        every character is unseen by a model trained on another file."""
        return bool(len(self.characters)) and bool(self.held_out.all())

    def split_name(self, split: str) -> str:
        """How the lessons name the characters of ``split``: ``"unseen"`` for any split of an
        evaluation set (no training characters), else ``"train"``, ``"held-out"`` (the
        validation split) or ``"all"``."""
        self.indices(split)  # refuses an unknown split
        return "unseen" if self.is_evaluation_set else split.replace("_", "-")

    def describe(self) -> str:
        fonts = ", ".join(f"{f}: {label}" for f, label in enumerate(self.font_labels))
        if self.is_evaluation_set:
            counts = f"{len(self.characters):,} unseen characters (none for training)"
        else:
            counts = (f"{len(self.characters):,} characters ({int((~self.held_out).sum()):,} train, "
                      f"{int(self.held_out.sum()):,} held out)")
        return f"{counts}, {self.image_size}x{self.image_size} px; source {self.source_font.label}; targets {fonts}"

    def fingerprint(self) -> dict:
        """What a model trained on this data depends on: size, fonts and how they were drawn."""
        return {
            "image_size": self.image_size,
            "source_font": self.source_font.label,
            "target_fonts": list(self.font_labels),
            "em_fraction": self.settings.get("em_fraction"),
        }

    def identity(self) -> dict:
        """What a resumed run must find unchanged: characters, split, fonts, drawing settings, pixels.

        Stricter than ``fingerprint``, which an evaluation set of other characters from
        the same fonts shares; plain values only (a ``weights_only`` checkpoint holds them).
        """
        pixels = hashlib.sha256()
        for images in (self.source, self.targets):
            pixels.update(memoryview(np.ascontiguousarray(images)).cast("B"))

        def font(info: FontInfo) -> dict:
            return {"label": info.label, "face_index": info.face_index, "sha256": info.sha256}

        return {
            "characters": self.characters,
            "held_out": np.flatnonzero(self.held_out).tolist(),
            "source_font": font(self.source_font),
            "target_fonts": [font(info) for info in self.target_fonts],
            "rendering": {key: self.settings.get(key) for key in ("size", "em_fraction", "supersample")},
            "pixels_sha256": pixels.hexdigest(),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write a compressed ``.npz`` (atomically: a temporary file, then a rename)."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"output={str(path)!r} is not accepted: the data file must end in .npz")
        metadata = {
            "format": FORMAT,
            "source_font": asdict(self.source_font),
            "target_fonts": [asdict(font) for font in self.target_fonts],
            "settings": self.settings,
        }
        arrays = dict(
            characters=np.array(list(self.characters), dtype="<U1"),
            source=self.source,
            targets=self.targets,
            held_out=self.held_out,
            metadata=np.array(json.dumps(metadata, ensure_ascii=False)),
        )
        write_atomically(path, lambda temporary: np.savez_compressed(temporary, **arrays))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "GlyphDataset":
        """Read a data file (default: the shipped ``data/glyphs_64.npz``), checking all of it.

        Any problem (not a file, empty, truncated, an array or a metadata field missing,
        extra or of the wrong kind) raises ``ValueError`` naming the file.
        """
        path = DEFAULT_DATA if path is None else Path(path)
        where = f"data file {str(path)!r}"
        if path.is_dir():
            raise ValueError(f"{where} is a folder; give a .npz file made by: python -m zi2zi_lessons build-data ...")
        if not path.exists():
            raise ValueError(f"{where} does not exist (build one with: python -m zi2zi_lessons build-data ...)")
        if not path.is_file():
            raise ValueError(f"{where} is not a regular file")
        if path.stat().st_size == 0:
            raise ValueError(f"{where} is empty (0 bytes), perhaps from an interrupted copy; rebuild it with build-data")
        try:
            loaded = np.load(path, allow_pickle=False)  # a .npz archive, or one array from a .npy file
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded as archive:
                    names = dict.fromkeys(archive.files)
                    arrays = {name: archive[name] for name in _ARRAYS if name in names}
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
            raise ValueError(f"{where} cannot be read (truncated, or not a .npz archive): {error}") from None
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError(f"{where} is not a zi2zi-lessons glyph file: it holds one array, not the archive build-data writes")
        try:
            _check_keys(names, _ARRAYS, "the archive")
            return cls._from_arrays(arrays)
        except ValueError as error:
            raise ValueError(f"{where} is not a zi2zi-lessons glyph file: {error}") from None

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray]) -> "GlyphDataset":
        metadata_array = arrays["metadata"]
        if metadata_array.shape != () or metadata_array.dtype.kind != "U":
            raise ValueError(f"'metadata' must be one JSON string, got a {metadata_array.dtype} array of shape {metadata_array.shape}")
        try:
            metadata = json.loads(str(metadata_array))
        except json.JSONDecodeError as error:
            raise ValueError(f"its metadata is not JSON ({error})") from None
        if not isinstance(metadata, dict):
            raise ValueError(f"its metadata must be a JSON object, got {type(metadata).__name__} {metadata!r:.60}")
        _check_keys(metadata, ("format", "source_font", "target_fonts", "settings"), "its metadata")
        if metadata["format"] != FORMAT:
            raise ValueError(f"it has format {metadata['format']!r}, expected {FORMAT!r}")
        if not isinstance(metadata["target_fonts"], list) or not metadata["target_fonts"]:
            raise ValueError(f"its metadata's 'target_fonts' must be a non-empty list, got {metadata['target_fonts']!r:.60}")
        if not isinstance(metadata["settings"], dict):
            raise ValueError(f"its metadata's 'settings' must be an object, got {metadata['settings']!r:.60}")
        source_font = FontInfo.from_dict(metadata["source_font"], "its metadata's 'source_font'")
        target_fonts = tuple(FontInfo.from_dict(font, f"its metadata's 'target_fonts'[{font_id}]")
                             for font_id, font in enumerate(metadata["target_fonts"]))

        characters = arrays["characters"]
        if characters.ndim != 1 or characters.dtype.kind != "U" or any(len(ch) != 1 for ch in characters.tolist()):
            raise ValueError(f"'characters' must be a 1-D array of single characters, got {characters.dtype} {characters.shape}")
        text = "".join(characters.tolist())
        repeated = sorted(ch for ch, count in Counter(text).items() if count > 1)
        if repeated:
            raise ValueError(f"'characters' repeats {''.join(repeated[:10])!r}: every character must appear once")
        return cls(
            characters=text,
            source=arrays["source"],
            targets=arrays["targets"],
            held_out=arrays["held_out"],
            source_font=source_font,
            target_fonts=target_fonts,
            settings=metadata["settings"],
        )


_ARRAYS = ("characters", "source", "targets", "held_out", "metadata")


def load_glyphs(path: str | os.PathLike | None = None) -> GlyphDataset:
    """The shipped glyph data (or the data file at ``path``)."""
    return GlyphDataset.load(path)


# ------------------------------------------------------------------ building a data set
@dataclass
class BuildReport:
    """Which requested characters were kept, and why each other one was skipped."""

    requested: int
    kept: str
    skipped: dict[str, list[str]]

    def __str__(self) -> str:
        lines = [f"kept {len(self.kept):,} of {self.requested:,} requested characters"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped):,}:")
            for ch, reasons in self.skipped.items():
                lines.append(f"  {ch} (U+{ord(ch):04X}): " + "; ".join(reasons))
        return "\n".join(lines)


def build_dataset(
    source,
    targets: Sequence,
    characters: str | Iterable[str],
    size: int = 64,
    em_fraction: float = 0.875,
    supersample: int = 4,
    held_out_every: int = 10,
    progress: bool = False,
) -> tuple[GlyphDataset, BuildReport]:
    """Render every character every font really has; report the others.

    Args:
        source: the source font (``FontSpec`` or ``"PATH[#FACE]"``).
        targets: target fonts; target ``f`` gets font id ``f``.
        characters: the characters wanted (whitespace and repeats are ignored).
        size, em_fraction, supersample: see ``GlyphRenderer`` (the same for every font).
        held_out_every: characters at positions ``held_out_every - 1``,
            ``2 * held_out_every - 1``, ... of the kept list are held out of training;
            1 holds out every character (an evaluation set), 0 none.

    Returns the data set and a ``BuildReport``. A character is kept only if the
    source and every target render it; if none is left, ``ValueError``.
    """
    wanted = unique_characters("".join(characters))
    if not wanted:
        raise ValueError("characters is empty: give at least one character (whitespace is ignored)")
    if isinstance(held_out_every, bool) or not isinstance(held_out_every, int) or held_out_every < 0:
        raise ValueError(f"held_out_every={held_out_every!r} is not accepted: give an integer >= 0 (0: no held-out characters)")
    targets = list(targets)
    if not targets:
        raise ValueError("targets is empty: give at least one target font")
    renderers = [GlyphRenderer(font, size, em_fraction, supersample) for font in [source, *targets]]

    kept, skipped, images = [], {}, []
    iterator = wanted
    if progress:
        from tqdm import tqdm

        iterator = tqdm(wanted, desc="rendering", unit="char", mininterval=1.0)
    for ch in iterator:
        attempts = [(r, *r.attempt(ch)) for r in renderers]
        reasons = [f"{r.label} ({r.spec.path.name}): {why}" for r, _, why in attempts if why is not None]
        if reasons:
            skipped[ch] = reasons
        else:
            kept.append(ch)
            images.append(np.stack([image for _, image, _ in attempts]))
    report = BuildReport(requested=len(wanted), kept="".join(kept), skipped=skipped)
    if not kept:
        raise ValueError(f"no character is rendered by every font:\n{report}")

    images = np.stack(images, axis=1)  # (fonts, characters, S, S)
    positions = np.arange(len(kept))
    held_out = (positions % held_out_every == held_out_every - 1) if held_out_every else np.zeros(len(kept), dtype=bool)
    dataset = GlyphDataset(
        characters="".join(kept),
        source=images[0],
        targets=images[1:],
        held_out=held_out,
        source_font=renderers[0].info,
        target_fonts=tuple(r.info for r in renderers[1:]),
        settings={
            "size": size,
            "em_fraction": em_fraction,
            "supersample": supersample,
            "held_out_every": held_out_every,
            "pillow": Image.__version__,
        },
    )
    return dataset, report


# ------------------------------------------------------------------ images <-> tensors
def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 images (..., H, W) -> float tensor (..., 1, H, W) in [-1, 1] (paper = +1)."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).float().div(127.5).sub(1.0)
    return tensor.unsqueeze(-3)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float images (..., 1, H, W) in [-1, 1] -> uint8 (..., H, W)."""
    if images.dim() < 3 or images.shape[-3] != 1:
        raise ValueError(f"expected images shaped (..., 1, H, W), got {tuple(images.shape)}")
    pixels = images.detach().squeeze(-3).clamp(-1, 1).add(1).mul(127.5).round()
    return pixels.to(torch.uint8).cpu().numpy()
