"""Badge sheets at conference size: 1,000 synthetic badges into one PDF, beside the cost of one QR code.

    .venv/bin/python bench/badge_sheets.py                        # 1,000 badges, a4-8, median of 3
    .venv/bin/python bench/badge_sheets.py --badges 2000 --layout a6-4 --repeat 5

Makes the badges (names from the demo's lists plus Unicode and over-long ones, references, signed codes),
then in the same run measures the baseline: one QR code's matrix with qrcode's automatic mask search (what
`qrcode.make` does) against the fixed mask `badges.render` uses, over --qr-samples codes each. Then renders
all badges into one PDF --repeat times (`badges.render.render_badges`, the code path of `conference badges
print` and GET /api/v1/badges.pdf) and prints the median, the PDF's size, and PASS/MISS against the target:
1,000 badges in under 10 s. Absolute times drift with the machine's load; compare runs by the ratios.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qrcode
from qrcode.util import MODE_ALPHA_NUM, QRData

from badges.codes import BadgeSigner
from badges.render import BadgeData, qr_matrix, render_badges
from conference.server.demo import FIRST, LAST, PLACES

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # conference.security's reference alphabet
TYPES = [
    ("Delegate", 80),
    ("Public sector", 5),
    ("Speaker", 6),
    ("Exhibitor", 4),
    ("Press", 2),
    ("Organiser", 3),
]
ODD_NAMES = [
    "Siân Llewellyn-Jones",
    "Zoë Ó Briain",
    "Łucja Wiśniewska-Kowalczyk",
    "Bartholomew Alexander Montgomery-Smythe",
    "Cher",
    "Nguyễn Thị Minh Khai",
    "Wolfeschlegelsteinhausenbergerdorff",
]
ORGS = [
    "{place} City Council",
    "{place} Police",
    "{place} NHS Foundation Trust",
    "University of {place}",
    "{place} Youth Justice Service",
    "HMP {place}",
    "Home Office",
    "Department for Levelling Up, Housing and Communities",
]


def synthetic_badges(n: int, signer: BadgeSigner, seed: int) -> list[BadgeData]:
    rng = random.Random(seed)
    types = [t for t, weight in TYPES for _ in range(weight)]
    badges = []
    for i in range(n):
        reference = "NC-" + "".join(rng.choice(ALPHABET) for _ in range(6))
        name = rng.choice(ODD_NAMES) if i % 50 == 0 else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        org = rng.choice(ORGS).format(place=rng.choice(PLACES))
        badges.append(BadgeData(reference, name, org, rng.choice(types), signer.code_for(reference, 1)))
    return badges


def auto_mask_matrix(code: str) -> list[list[bool]]:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)  # mask_pattern=None: try all 8
    qr.add_data(QRData(code.encode("ascii"), mode=MODE_ALPHA_NUM))
    qr.make(fit=True)
    return [[bool(m) for m in row] for row in qr.modules]


def per_call_ms(fn: object, codes: list[str]) -> float:
    assert callable(fn)
    started = time.perf_counter()
    for code in codes:
        fn(code)
    return (time.perf_counter() - started) / len(codes) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--badges", type=int, default=1_000)
    parser.add_argument("--layout", choices=["a4-8", "a6-4"], default="a4-8")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--qr-samples", type=int, default=100, help="codes timed for each QR variant")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=None, help="keep the last PDF here")
    args = parser.parse_args()

    signer = BadgeSigner.from_seed(bytes(range(32)))
    started = time.perf_counter()
    badges = synthetic_badges(args.badges, signer, args.seed)
    sign_ms = (time.perf_counter() - started) / args.badges * 1000
    codes = [b.code for b in badges[: args.qr_samples]]

    # The baseline, in this run: the same codes through both QR paths, alternated, best of two each.
    fixed_ms = min(per_call_ms(qr_matrix, codes) for _ in range(2))
    auto_ms = min(per_call_ms(auto_mask_matrix, codes) for _ in range(2))

    times, pdf = [], b""
    for _ in range(args.repeat):
        started = time.perf_counter()
        pdf = render_badges(badges, layout=args.layout)
        times.append(time.perf_counter() - started)
    assert pdf.startswith(b"%PDF")
    if args.out:
        args.out.write_bytes(pdf)
    median = statistics.median(times)
    per_badge_ms = median / args.badges * 1000
    target_s = 10.0 * args.badges / 1000

    print(
        f"badges: {args.badges} synthetic, layout {args.layout}, {len(codes[0])}-character codes "
        f"(sign + build: {sign_ms:.3f} ms a badge)"
    )
    print("baseline: one QR code's modules, level M, alphanumeric, same codes")
    print(f"  automatic mask search (qrcode default)   {auto_ms:7.2f} ms")
    print(f"  fixed mask (badges.render)               {fixed_ms:7.2f} ms")
    print(f"  ratio                                    {auto_ms / fixed_ms:7.1f} x")
    print(f"render: {args.badges} badges into one PDF, {args.repeat} runs")
    print(
        f"  median {median:.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)}), {per_badge_ms:.2f} ms a badge, "
        f"PDF {len(pdf) / 1e6:.2f} MB"
    )
    print(
        f"  per badge / fixed-mask QR                {per_badge_ms / fixed_ms:7.2f}   (machine-independent-ish)"
    )
    print(
        f"  {args.badges} badges with the automatic mask would add about "
        f"{(auto_ms - fixed_ms) * args.badges / 1000:.1f} s"
    )
    verdict = "PASS" if median < target_s else "MISS"
    print(
        f"{verdict}: median {median:.2f} s for {args.badges} badges (target under {target_s:.0f} s "
        f"at 10 s per 1,000)"
    )


if __name__ == "__main__":
    main()
