"""`nnopt report DIR... [-o report.html] [--markdown-table]`."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="DIR",
                   help="lab (finding.json, `nnopt lab all`'s directory, or lab/ itself), run, compare or tune directories")
    p.add_argument("-o", "--out", default="report.html", metavar="FILE.html", help="the page to write")
    p.add_argument("--title", default="nnopt report")
    p.add_argument("--markdown-table", action="store_true",
                   help="print the markdown table of claims and verdicts (for the README) instead")


def run(args) -> int:
    from .html import markdown_table, write_report

    if args.markdown_table:
        print(markdown_table(args.paths))
        return 0
    print(write_report(args.paths, args.out, args.title))
    return 0
