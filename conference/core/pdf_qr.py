"""A QR code drawn into a PDF as vector rectangles (badges, certificates of attendance): sharp at any zoom and
printer, and small, because dark runs are merged.

Dark runs in a row become one rectangle, and a run repeated on the rows below grows that rectangle downwards, so a
symbol is a few hundred rectangles rather than one per module; they are filled as one path (`fill_black`).
"""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF

Rect = tuple[float, float, float, float]  # x, y, width, height in mm from the page's top left


def module_rectangles(
    modules: Sequence[Sequence[bool]], x: float, y: float, size: float, border: int
) -> list[Rect]:
    """The dark modules as merged rectangles in a `size`×`size` square at (x, y), `border` quiet modules each side."""
    n = len(modules)
    unit = size / (n + 2 * border)
    ox, oy = x + border * unit, y + border * unit
    rects: list[Rect] = []
    open_runs: dict[tuple[int, int], int] = {}  # (first column, end column) -> first row
    for r, row in enumerate([*modules, [False] * n]):  # a blank row last closes every run
        runs: list[tuple[int, int]] = []
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                runs.append((start, c))
            else:
                c += 1
        current = set(runs)
        for run in [run for run in open_runs if run not in current]:  # the row below lacks it: one rectangle
            first = open_runs.pop(run)
            rects.append(
                (ox + run[0] * unit, oy + first * unit, (run[1] - run[0]) * unit, (r - first) * unit)
            )
        for run in runs:
            open_runs.setdefault(run, r)
    return rects


def fill_black(pdf: FPDF, rects: Sequence[Rect]) -> None:
    """Fill rectangles (mm, from the top left) in black as ONE path.

    fpdf2's public `rect()` costs 15-60 µs a call (style parsing, one path each), two thirds of a badge
    sheet's time at ~300 rectangles a badge; writing the path operators ourselves costs ~1 µs a rectangle.
    `_out` (append to the page's content stream) has been in FPDF since PyFPDF; if a release drops it,
    we fall back to `rect()`. The q/Q pair keeps our colour from leaking into fpdf2's graphics state.
    """
    out = getattr(pdf, "_out", None)
    if out is None:  # pragma: no cover - only on an fpdf2 without _out
        pdf.set_fill_color(0)
        for x, y, w, h in rects:
            pdf.rect(x, y, w, h, style="F")
        return
    k, page_h = pdf.k, pdf.h
    ops = [f"{x * k:.2f} {(page_h - y) * k:.2f} {w * k:.2f} {-h * k:.2f} re" for x, y, w, h in rects]
    out("q 0 g\n" + "\n".join(ops) + "\nf Q")


def draw_modules(
    pdf: FPDF, modules: Sequence[Sequence[bool]], x: float, y: float, size: float, *, border: int = 4
) -> None:
    """Draw a QR symbol's modules in a `size`×`size` square at (x, y), quiet zone (`border` modules) included."""
    fill_black(pdf, module_rectangles(modules, x, y, size, border))
