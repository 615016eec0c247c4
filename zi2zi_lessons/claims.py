"""Claims tables: what a conversation asserted, what was measured, and the verdict.

Lessons 04 and 05 end with one. A verdict is one of three forms, so a reader can
scan the column::

    holds
    holds only when <condition>
    does not hold

Each notebook computes its verdicts from its measurements (``verdict(...)``), so a
changed number changes the verdict instead of leaving a stale sentence behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .anatomy import Table

__all__ = ["Claim", "verdict", "claims_table", "HOLDS", "DOES_NOT_HOLD"]

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
_ONLY_WHEN = "holds only when "


def verdict(holds: bool, only_when: str | None = None) -> str:
    """``"holds"`` or ``"does not hold"``; with ``only_when``, a claim that holds under a
    condition the measurement found: ``"holds only when <only_when>"``.

    ``verdict(True)`` -> "holds"; ``verdict(False)`` -> "does not hold";
    ``verdict(False, "the skips concatenate")`` -> "holds only when the skips concatenate"
    (the claim is false as stated, true under that condition).
    """
    if holds:
        return HOLDS
    if only_when:
        return _ONLY_WHEN + only_when
    return DOES_NOT_HOLD


@dataclass(frozen=True)
class Claim:
    """One checkable claim.

    Args:
        source: where it was made, e.g. "seed 000, ChatGPT".
        claim: the claim restated in the lesson's own words.
        measured: what the lesson measured, with the numbers.
        verdict: "holds", "holds only when ..." or "does not hold".
    """

    source: str
    claim: str
    measured: str
    verdict: str

    def __post_init__(self):
        for name in ("source", "claim", "measured", "verdict"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"Claim {name}={value!r} is not accepted: give a non-empty string")
        if not (self.verdict in (HOLDS, DOES_NOT_HOLD) or (self.verdict.startswith(_ONLY_WHEN) and len(self.verdict) > len(_ONLY_WHEN))):
            raise ValueError(
                f"Claim verdict={self.verdict!r} is not accepted: use 'holds', 'does not hold' or "
                f"'holds only when <condition>' (verdict() builds them)"
            )


def claims_table(claims: Iterable[Claim], title: str = "Claims, measured") -> Table:
    """The claims as a ``Table`` numbered from 1, with a footer counting the verdicts."""
    claims = list(claims)
    if not claims:
        raise ValueError("claims_table needs at least one Claim")
    for claim in claims:
        if not isinstance(claim, Claim):
            raise TypeError(f"claims_table takes Claim objects, got {type(claim).__name__}")
    rows = tuple((i, c.source, c.claim, c.measured, c.verdict) for i, c in enumerate(claims, start=1))
    counts = {
        HOLDS: sum(c.verdict == HOLDS for c in claims),
        "holds only when ...": sum(c.verdict.startswith(_ONLY_WHEN) for c in claims),
        DOES_NOT_HOLD: sum(c.verdict == DOES_NOT_HOLD for c in claims),
    }
    footer = "; ".join(f"{name}: {count}" for name, count in counts.items())
    return Table(columns=("#", "source", "claim", "measured", "verdict"), rows=rows, title=title, footer=footer)
