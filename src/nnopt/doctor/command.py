"""`nnopt doctor RUN_DIR [--json] [--verify]`: what went wrong in a run, root cause first, with the
evidence and the remedy as --set lines. Exit code 0: nothing found, 1: findings, 2: bad input."""
from __future__ import annotations

import argparse
import json

EXIT_NONE, EXIT_FOUND = 0, 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (nnopt run's --out)")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--verify", action="store_true",
                   help="apply the first remedy, rerun a short budget from the same seed into "
                        "RUN_DIR/doctor-verify/, and say whether the evidence improved")


def run(args) -> int:
    from .checks import findings_of, format_diagnosis, read, slow_run
    from .verify import format_verify, verify

    record = read(args.run_dir)
    findings = findings_of(record)
    checked = verify(args.run_dir, findings[0], quiet=True) if args.verify and findings else None
    if args.json:
        out = {"run": str(record.path), "findings": [f.to_dict() for f in findings],
               "note": None if findings else slow_run(record)}
        if checked is not None:
            out["verify"] = {k: (v if not isinstance(v, float) or v == v and abs(v) != float("inf") else str(v))
                             for k, v in checked.items()}
        print(json.dumps(out, indent=1))
    else:
        print(format_diagnosis(record, findings))
        if checked is not None:
            print(format_verify(checked))
    return EXIT_FOUND if findings else EXIT_NONE
