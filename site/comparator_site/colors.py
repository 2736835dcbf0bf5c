"""The colour language of the original Comparator (docs/the-original-comparator.md §8.1, §8.2).

Model A/B and retrained colours, class colours and type badges after the original's
``frontend/src/constants/colors.ts`` and ``frontend/src/utils/data/colors.ts``
(gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d); the ``external`` and ``failed`` badges are
this project's own.

The categorical palette (classes, and methods in the overview) can be switched in the page's header
(``PALETTES``): the original's Tableau 10, or Paul Tol's "muted" scheme, designed to stay distinct for
readers with colour vision deficiencies (P. Tol, "Colour Schemes", SRON technical note
SRON/EPS/TN/09-002, https://personal.sron.nl/~pault/): its nine colours, then its pale grey as the tenth.
Model A/B colours do not change with it.
"""

from __future__ import annotations

import math

from bokeh.palettes import Blues9, Greens9, Oranges9

MODEL_A = "#10B981"
MODEL_A_LIGHT = "#C8EBDA"
MODEL_B = "#A855F7"
MODEL_B_LIGHT = "#E6D0FD"
RETRAINED = "#6a6a6a"
RETRAINED_LIGHT = "#D4D4D4"
TABLEAU10 = [
    "#4E79A7",
    "#F28E2B",
    "#E15759",
    "#76B7B2",
    "#59A14F",
    "#EDC948",
    "#B07AA1",
    "#FF9DA7",
    "#9C755F",
    "#BAB0AC",
]
# Paul Tol's "muted" (see above): rose, indigo, sand, green, cyan, wine, teal, olive, purple, pale grey
TOL_MUTED = [
    "#CC6677",
    "#332288",
    "#DDCC77",
    "#117733",
    "#88CCEE",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
    "#DDDDDD",
]
# key -> (label in the header's select, colours); the first is the page's default
PALETTES = {
    "tableau10": ("Tableau 10", TABLEAU10),
    "cvd": ("colour-blind safe (Tol muted)", TOL_MUTED),
}
DEFAULT_PALETTE = "tableau10"
TYPE_BADGE = {  # background, text
    "original": ("#F3F4F6", "#222222"),
    "retrained": ("#6a6a6a", "#ffffff"),
    "unlearned": ("#FF8C00", "#ffffff"),
    "external": ("#0EA5E9", "#ffffff"),
    "failed": ("#DC2626", "#ffffff"),
}

# light -> dark, the ColorBrewer schemes d3's interpolators are built from
GREENS = list(reversed(Greens9))
BLUES = list(reversed(Blues9))
ORANGES = list(reversed(Oranges9))


def class_colors(n: int, palette: str = DEFAULT_PALETTE) -> list[str]:
    """The first ``n`` colours of a palette of ``PALETTES`` (repeated when there are more classes)."""
    scheme = PALETTES[palette][1]
    return [scheme[i % len(scheme)] for i in range(n)]


def _hex(c: str) -> tuple[int, int, int]:
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


def ramp(scheme: list[str], t: float) -> str:
    """Piecewise-linear interpolation through ``scheme`` at ``t`` in [0, 1]."""
    t = min(1.0, max(0.0, t))
    x = t * (len(scheme) - 1)
    i = min(int(math.floor(x)), len(scheme) - 2)
    f = x - i
    a, b = _hex(scheme[i]), _hex(scheme[i + 1])
    return "#{:02x}{:02x}{:02x}".format(*(round(a[k] + (b[k] - a[k]) * f) for k in range(3)))


def cell(scheme: list[str], t: float) -> str:
    """The table's cell colour: the ramp at 0.03 + t × 0.72 (docs/the-original-comparator.md §8.2)."""
    return ramp(scheme, 0.03 + min(1.0, max(0.0, t)) * 0.72)


def text_on(background: str, light: str = "#ffffff", dark: str = "#111827") -> str:
    """Readable text colour on a ``#rrggbb`` background (white on dark shades, dark on light ones)."""
    r, g, b = (int(background[i : i + 2], 16) / 255 for i in (1, 3, 5))

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    return light if luminance < 0.3 else dark


def gradient_css(scheme: list[str], lo: float = 0.03, hi: float = 0.75, steps: int = 8) -> str:
    stops = ", ".join(ramp(scheme, lo + (hi - lo) * k / (steps - 1)) for k in range(steps))
    return f"linear-gradient(to right, {stops})"
