"""ipywidgets front ends. Thin: each widget wires controls to a plain function that
computes what it shows; those functions are tested without a browser.
"""

from __future__ import annotations

# ---------------------------------------------------------------- the block widget (lesson 02)


# ---------------------------------------------------------------- the architecture explorer (lesson 03)
