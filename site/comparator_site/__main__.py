"""``python -m comparator_site build --tables DIR [--tables DIR ...] --out DIR [--bokeh-js shared|inline]``.

One ``--tables``: OUT is that experiment's site. Several: each experiment's site in ``OUT/<name>/`` and a
landing page linking to them in ``OUT/index.html``."""

from __future__ import annotations

import argparse
import sys
import time

from unlearning_comparator.tables import TableError

from .data import SiteDataError
from .landing import build_landing
from .page import build_site


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m comparator_site", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the static site of one or more experiments from their tables")
    b.add_argument(
        "--tables",
        required=True,
        action="append",
        help="an experiment's tables folder (results/<exp>/tables); repeat it for a site of several "
        "experiments (OUT/<name>/ each, and a landing page OUT/index.html)",
    )
    b.add_argument("--out", required=True, help="the site folder to write (results/<exp>/site)")
    b.add_argument(
        "--bokeh-js",
        choices=("inline", "shared"),
        default="inline",
        help="inline: BokehJS inside index.html (default); shared: one copy in the site folder's static/js/",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        if len(args.tables) == 1:  # one experiment: OUT is its site, as it always was
            index = build_site(args.tables[0], args.out, bokeh_js=args.bokeh_js)
        else:
            index = build_landing(args.tables, args.out, bokeh_js=args.bokeh_js)
    except (TableError, SiteDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
    print(f"wrote {index} ({size / 1e6:.2f} MB in the site folder, {time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
