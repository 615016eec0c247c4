"""Claims tables (lessons 02, 04, 05): verdict forms, counts, HTML and text."""

import html
import re

import pytest

from zi2zi_lessons.claims import CONDITIONAL, DOES_NOT_HOLD, HOLDS, Claim, ClaimsTable, claims_table, verdict, verdict_kind


def test_verdict_forms():
    assert verdict(True) == "holds"
    assert verdict(False) == "does not hold"
    assert verdict(False, only_when="the skips concatenate") == "holds only when the skips concatenate"
    assert verdict(True, only_when="ignored when the claim holds") == "holds"
    assert [verdict_kind(v) for v in ("holds", "does not hold", "holds only when x")] == [HOLDS, DOES_NOT_HOLD, CONDITIONAL]


def test_verdict_names_what_it_rests_on():
    one_run = "on one trained run (seed 0)"
    assert verdict(False, evidence=one_run) == "does not hold on one trained run (seed 0)"
    assert verdict(True, evidence=one_run) == "holds on one trained run (seed 0)"
    assert verdict(False, "the font is UKai", evidence=one_run) == "holds only when the font is UKai on one trained run (seed 0)"
    assert [verdict_kind(verdict(h, w, evidence=one_run)) for h, w in ((True, None), (False, None), (False, "x"))] == [
        HOLDS, DOES_NOT_HOLD, CONDITIONAL]
    table = claims_table([Claim("a", "x", "1", verdict(False, evidence=one_run))])
    assert table.counts()["does not hold"] == 1 and "✗ does not hold on one trained run" in str(table)
    for bad in ("", "  ", 3):
        with pytest.raises(ValueError, match="evidence="):
            verdict(False, evidence=bad)
    with pytest.raises(ValueError, match="verdict='holdsx'"):
        verdict_kind("holdsx")


def test_claim_rejects_free_form_verdicts_and_empty_fields():
    with pytest.raises(ValueError, match="verdict='mostly true'"):
        Claim("seed", "claim", "measured", "mostly true")
    with pytest.raises(ValueError, match="verdict='holds only when '"):
        Claim("seed", "claim", "measured", "holds only when ")
    with pytest.raises(ValueError, match="measured=''"):
        Claim("seed", "claim", "", "holds")
    with pytest.raises(ValueError, match="source=None"):
        Claim(None, "claim", "measured", "holds")


def four_claims():
    return [
        Claim("a", "x", "1", verdict(True)),
        Claim("b", "y", "2", verdict(False)),
        Claim("c", "z", "3", verdict(False, "w")),
        Claim("d", "v <b>4</b> & more", "4", verdict(False)),
    ]


def test_claims_table_numbers_rows_and_counts_verdicts():
    table = claims_table(four_claims())
    assert isinstance(table, ClaimsTable)
    assert table.column("#") == [1, 2, 3, 4]
    assert table.column("verdict") == ["holds", "does not hold", "holds only when w", "does not hold"]
    assert table.counts() == {"holds": 1, "holds only when ...": 1, "does not hold": 2}
    assert table.footer == "holds: 1; holds only when ...: 1; does not hold: 2"
    with pytest.raises(ValueError, match="at least one"):
        claims_table([])
    with pytest.raises(TypeError, match="Claim objects"):
        claims_table(["holds"])


def test_html_is_one_row_per_claim_escaped_and_marked():
    table = claims_table(four_claims(), title="Seed <x>")
    page = table._repr_html_()
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    assert len(rows) == 1 + 4  # the header, then one row per claim
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows[1:]]
    assert [len(row) for row in cells] == [5, 5, 5, 5]
    assert [html.unescape(row[4]) for row in cells] == ["✓ holds", "✗ does not hold", "◐ holds only when w", "✗ does not hold"]
    assert html.unescape(cells[3][2]) == "v <b>4</b> & more"  # the claim's text, not markup
    assert "&lt;b&gt;" in page and "<b>4</b>" not in page
    assert "Seed &lt;x&gt;" in page
    assert "white-space:normal" in page  # long text wraps inside its column
    assert table.footer in page


def test_text_has_short_lines_and_every_claim():
    long_claim = "word " * 60
    table = claims_table([Claim("seed 001, ChatGPT", long_claim, "measured " * 30, verdict(False, "the map is 1x1"))])
    text = str(table)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert " 1. ◐ holds only when the map is 1x1 (seed 001, ChatGPT)" in text.splitlines()
    assert " ".join(text.split()).count("word") == 60
    assert repr(table) == text
