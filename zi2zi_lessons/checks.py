"""Exercise checkers: run the learner's answer against the package's reference and
print a short, specific verdict (which shape, which count, which value was off).

Every checker returns ``True`` when the answer is right, ``False`` otherwise.
"""

from __future__ import annotations

# ---------------------------------------------------------------- lesson 01: self-attention


# ---------------------------------------------------------------- lesson 02: skip block


# ---------------------------------------------------------------- lesson 03: whole generator
