"""Matplotlib figures the lessons show. Every figure has a title and labelled axes.

Functions return the ``Figure`` (notebooks end the cell with ``;`` or ``plt.show()``
so no ``<Figure ...>`` text is stored).
"""

from __future__ import annotations

import matplotlib.pyplot as plt  # noqa: F401

# ---------------------------------------------------------------- attention (lesson 01)


# ---------------------------------------------------------------- blocks and levels (lessons 02-03)


# ---------------------------------------------------------------- cost of attention (lessons 04-05)


# ---------------------------------------------------------------- glyphs and training (lesson 06)
