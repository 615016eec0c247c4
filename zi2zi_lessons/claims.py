"""Claims tables: what a conversation asserted, what was measured, and the verdict.

Lessons 02, 04 and 05 end with one. A verdict is one of three forms, so a reader can
scan the column::

    holds
    holds only when <condition>
    does not hold

Each notebook computes its verdicts from its measurements (``verdict(...)``), so a
changed number changes the verdict instead of leaving a stale sentence behind.

``claims_table`` returns a ``ClaimsTable``: the last expression of a cell shows it as
an HTML table with wrapped text and marked verdicts in JupyterLab, and as numbered
text blocks (short lines, no wrapping into each other) wherever only text is shown,
which is also what nbval compares.
"""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass
from typing import Iterable

from .anatomy import Table

__all__ = ["Claim", "ClaimsTable", "verdict", "claims_table", "verdict_kind", "HOLDS", "DOES_NOT_HOLD", "CONDITIONAL"]

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
#: The name of the middle kind of verdict, as counts and footers show it.
CONDITIONAL = "holds only when ..."
_ONLY_WHEN = "holds only when "


def verdict(holds: bool, only_when: str | None = None, evidence: str | None = None) -> str:
    """``"holds"`` or ``"does not hold"``; with ``only_when``, a claim that holds under a
    condition the measurement found: ``"holds only when <only_when>"``.

    ``verdict(True)`` -> "holds"; ``verdict(False)`` -> "does not hold";
    ``verdict(False, "the skips concatenate")`` -> "holds only when the skips concatenate"
    (the claim is false as stated, true under that condition).

    ``evidence`` names what the verdict rests on when that limits it, e.g. a single
    training run: ``verdict(False, evidence="on one trained run (seed 0)")`` ->
    "does not hold on one trained run (seed 0)". It is appended to any of the three forms.
    """
    if evidence is not None and (not isinstance(evidence, str) or not evidence.strip()):
        raise ValueError(f"evidence={evidence!r} is not accepted: give a non-empty string or None")
    if holds:
        text = HOLDS
    elif only_when:
        text = _ONLY_WHEN + only_when
    else:
        text = DOES_NOT_HOLD
    return f"{text} {evidence.strip()}" if evidence else text


def verdict_kind(text: str) -> str:
    """``HOLDS``, ``CONDITIONAL`` or ``DOES_NOT_HOLD`` for a verdict string (with or
    without the ``evidence`` that ``verdict`` appends)."""
    if isinstance(text, str):
        if text.startswith(_ONLY_WHEN) and len(text.strip()) > len(_ONLY_WHEN.strip()):
            return CONDITIONAL
        for kind in (DOES_NOT_HOLD, HOLDS):
            if text == kind or (text.startswith(kind + " ") and text[len(kind):].strip()
                                and not text.startswith(_ONLY_WHEN)):
                return kind
    raise ValueError(
        f"verdict={text!r} is not accepted: use 'holds', 'does not hold' or "
        f"'holds only when <condition>', optionally followed by what it rests on (verdict() builds them)"
    )


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
        verdict_kind(self.verdict)


# How each kind of verdict is marked: a symbol (readable without colour) and a colour
# that reads on JupyterLab's light and dark themes.
_MARKS = {HOLDS: ("✓", "#2da44e"), CONDITIONAL: ("◐", "#bf8700"), DOES_NOT_HOLD: ("✗", "#cf222e")}
# Share of the table's width per column (#, source, claim, measured, verdict).
_HTML_WIDTHS = ("2.5em", "12%", "28%", "38%", "19%")
_TEXT_WIDTH = 100


@dataclass(frozen=True, repr=False)  # repr: Table's, which shows the text
class ClaimsTable(Table):
    """A ``Table`` of claims (columns #, source, claim, measured, verdict).

    HTML: one row per claim, long text wrapped inside its column, verdicts marked with
    a symbol and a colour, the verdict counts below. Text: one numbered block per
    claim, lines of at most 100 characters.
    """

    def counts(self) -> dict[str, int]:
        """How many claims hold, hold only under a condition, do not hold."""
        kinds = [verdict_kind(text) for text in self.column("verdict")]
        return {kind: kinds.count(kind) for kind in (HOLDS, CONDITIONAL, DOES_NOT_HOLD)}

    def __str__(self) -> str:
        out = [self.title, ""] if self.title else []
        indent = " " * 4
        for number, source, claim, measured, text in self.rows:
            mark = _MARKS[verdict_kind(text)][0]
            out.append(f"{number:>2}. {mark} {text} ({source})")
            for label, body in (("claim", claim), ("measured", measured)):
                out.extend(textwrap.wrap(f"{label}: {body}", width=_TEXT_WIDTH, initial_indent=indent,
                                         subsequent_indent=indent + " " * (len(label) + 2)))
        if self.footer:
            out.extend(["", self.footer])
        return "\n".join(out)

    def _repr_html_(self) -> str:
        esc = html.escape
        cell = "text-align:left;vertical-align:top;white-space:normal;padding:0.3em 0.5em"
        colgroup = "".join(f'<col style="width:{width}">' for width in _HTML_WIDTHS)
        head = "".join(f'<th style="{cell}">{esc(name)}</th>' for name in self.columns)
        body = []
        for number, source, claim, measured, text in self.rows:
            mark, colour = _MARKS[verdict_kind(text)]
            body.append(
                "<tr>"
                f'<td style="{cell};text-align:right">{number}</td>'
                f'<td style="{cell}">{esc(source)}</td>'
                f'<td style="{cell}">{esc(claim)}</td>'
                f'<td style="{cell}">{esc(measured)}</td>'
                f'<td style="{cell};color:{colour};font-weight:bold">{mark} {esc(text)}</td>'
                "</tr>"
            )
        caption = f'<caption style="text-align:left;caption-side:top"><b>{esc(self.title)}</b></caption>' if self.title else ""
        footer = f"<p>{esc(self.footer)}</p>" if self.footer else ""
        return (
            f'<table style="table-layout:fixed;width:100%;border-collapse:collapse">{caption}'
            f"<colgroup>{colgroup}</colgroup><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{footer}"
        )


def claims_table(claims: Iterable[Claim], title: str = "Claims, measured") -> ClaimsTable:
    """The claims as a ``ClaimsTable`` numbered from 1, with a footer counting the verdicts.

    Make it the last expression of a cell (not ``print(...)``) so that JupyterLab shows
    the HTML table.
    """
    claims = list(claims)
    if not claims:
        raise ValueError("claims_table needs at least one Claim")
    for claim in claims:
        if not isinstance(claim, Claim):
            raise TypeError(f"claims_table takes Claim objects, got {type(claim).__name__}")
    rows = tuple((i, c.source, c.claim, c.measured, c.verdict) for i, c in enumerate(claims, start=1))
    table = ClaimsTable(columns=("#", "source", "claim", "measured", "verdict"), rows=rows, title=title)
    footer = "; ".join(f"{kind}: {count}" for kind, count in table.counts().items())
    return ClaimsTable(columns=table.columns, rows=rows, title=title, footer=footer)
