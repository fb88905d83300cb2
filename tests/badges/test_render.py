"""Badge rendering: the QR read back by an independent decoder (zxing-cpp) from the PNG and from the printed
PDF page, the sheets' pages and text, Unicode names, long names, and the layouts."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from badges.codes import BadgeClaim, BadgeSigner
from badges.printing import surname_key
from badges.render import LAYOUTS, QR_MASK, BadgeData, band_colour, qr_matrix, qr_png, render_badges
from tests.support import decode, pdf_text, raster

SIGNER = BadgeSigner.from_seed(bytes(range(32)))


def badge(
    name: str,
    reference: str,
    organisation: str = "Leeds City Council",
    ticket_type: str = "Delegate",
    version: int = 1,
) -> BadgeData:
    return BadgeData(
        reference=reference,
        name=name,
        organisation=organisation,
        ticket_type=ticket_type,
        code=SIGNER.code_for(reference, version),
    )


NINE = [
    badge("Siân Evans", "NC-SIAN01", "Cyngor Caerdydd", "Speaker"),
    badge("Zoë Adams", "NC-ZOE002", "Metropolitan Police Service"),
    badge("Łucja Wiśniewska", "NC-LUCJA3", "NHS England", "Press"),
    badge(
        "Bartholomew Alexander Montgomery-Smythe",
        "NC-BART04",
        "Department for Levelling Up, Housing and Communities",
        "Organiser",
    ),
    badge("Cher", "NC-CHER05", "Leeds City Council", "Exhibitor"),
    badge(
        "Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissenhaft", "NC-WOLF06", "A", "Delegate"
    ),
    badge(
        "Ng Li",
        "NC-NGLI07",
        "Youth Offending Team of the Royal Borough of Kensington and Chelsea",
        "Delegate",
    ),
    badge("Ann O'Neill", "NC-ANNO08", "Police Scotland", "Public sector"),
    badge("Mo Farah", "NC-MOFA09", "UK Athletics", "Staff"),
]


# --- the QR ------------------------------------------------------------------------------------------------------


def test_png_decodes_to_the_code_which_verifies() -> None:
    code = NINE[0].code
    png = qr_png(code)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    # 115 characters, alphanumeric, level M: version 5 (37 modules) + 4 quiet modules a side, 8 px each.
    assert image.size == ((37 + 8) * 8, (37 + 8) * 8)
    found = decode(image)
    assert len(found) == 1
    assert found[0].text == code
    assert found[0].ec_level == "M"
    assert SIGNER.verify(found[0].text) == BadgeClaim("NC-SIAN01", 1)


def test_png_box_size_scales_and_still_decodes() -> None:
    png = qr_png(NINE[1].code, box_size=3)
    image = Image.open(io.BytesIO(png))
    assert image.size == (45 * 3, 45 * 3)
    assert [r.text for r in decode(image)] == [NINE[1].code]
    with pytest.raises(ValueError):
        qr_png(NINE[1].code, box_size=0)


def test_qr_uses_the_fixed_mask_not_a_search() -> None:
    import qrcode
    from qrcode.util import MODE_ALPHA_NUM, QRData

    code = NINE[2].code
    fixed = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=QR_MASK)
    fixed.add_data(QRData(code.encode(), mode=MODE_ALPHA_NUM))
    fixed.make(fit=True)
    assert qr_matrix(code) == [[bool(m) for m in row] for row in fixed.modules]


def test_qr_refuses_text_outside_the_alphanumeric_set() -> None:
    with pytest.raises(ValueError):
        qr_png("nc-lower.1.abc")


# --- the PDF ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("layout", "per_page"), [("a4-8", 8), ("a6-4", 4)])
def test_every_badge_on_the_printed_page_decodes_and_verifies(layout: str, per_page: int) -> None:
    pdf = render_badges(NINE, layout=layout)
    pages = raster(pdf)
    assert len(pages) == -(-len(NINE) // per_page)
    for number, page in enumerate(pages):
        expected = {b.code for b in NINE[number * per_page : (number + 1) * per_page]}
        found = decode(page)
        assert {r.text for r in found} == expected, f"page {number + 1}"
        for r in found:
            assert r.ec_level == "M"
            claim = SIGNER.verify(r.text)
            assert claim.version == 1 and claim.reference in {b.reference for b in NINE}


def test_a4_8_puts_nine_badges_on_two_pages_a6_4_on_three() -> None:
    assert pdf_text(render_badges(NINE, layout="a4-8"))[1] == 2
    assert pdf_text(render_badges(NINE, layout="a6-4"))[1] == 3
    assert pdf_text(render_badges(NINE[:8], layout="a4-8"))[1] == 1
    assert LAYOUTS["a4-8"].per_page == 8 and LAYOUTS["a6-4"].per_page == 4


def test_sheet_text_has_names_in_the_given_order_unicode_intact() -> None:
    ordered = sorted(NINE, key=lambda b: (*surname_key(b.name), b.reference))
    text, _pages = pdf_text(render_badges(ordered))
    flat = " ".join(text.split())
    for name in ("Siân Evans", "Zoë Adams", "Łucja Wiśniewska", "Mo Farah", "Ann O'Neill"):
        assert name in flat, name
    positions = [flat.index(b.reference) for b in ordered]
    assert positions == sorted(positions)
    # The ticket type in words on its band, not colour alone; the reference under each QR.
    for word in ("SPEAKER", "PRESS", "ORGANISER", "EXHIBITOR", "DELEGATE", "PUBLIC SECTOR", "STAFF"):
        assert word in flat
    assert all(b.reference in flat for b in NINE)


def test_long_names_shrink_or_wrap_and_never_spill() -> None:
    text, _ = pdf_text(render_badges(NINE[3:7], layout="a4-8"))
    flat = " ".join(text.split())
    # Two lines at a smaller size, broken at a space or after the hyphen.
    assert "Bartholomew Alexander" in flat and "Montgomery-Smythe" in flat
    # One word far too long for the badge: cut short with an ellipsis at the smallest size.
    assert "Wolfeschlegel" in flat and "…" in flat
    assert "Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissenhaft" not in flat


def test_progress_is_reported_per_badge() -> None:
    seen: list[int] = []
    render_badges(NINE, progress=seen.append)
    assert seen == [1] * len(NINE)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="layout"):
        render_badges(NINE, layout="letter")
    with pytest.raises(ValueError, match="no badges"):
        render_badges([])


def test_bands_differ_by_ticket_type() -> None:
    colours = {
        band_colour(t) for t in ("Speaker", "Delegate", "Press", "Organiser", "Exhibitor", "Something else")
    }
    assert len(colours) == 6
    assert band_colour("Public sector") == band_colour("Delegate")


def test_surname_key() -> None:
    names = [
        "Siân Evans",
        "ann evans",
        "Zoë Adams",
        "Cher",
        "Ólafur Ó Briain",
        "Łucja Nowak",
        "  Bob   Brown ",
    ]
    assert sorted(names, key=surname_key) == [
        "Zoë Adams",
        "Ólafur Ó Briain",
        "  Bob   Brown ",
        "Cher",
        "ann evans",
        "Siân Evans",
        "Łucja Nowak",
    ]
    assert surname_key("") == ("", "")
