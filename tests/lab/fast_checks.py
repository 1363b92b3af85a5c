"""What every lab experiment's --fast test asserts about its finding (imported by tests/lab/test_claims_*.py)."""
import json

from nnopt.lab import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, get, headline
from nnopt.lab.base import Part, to_json


def check_fast_finding(record: dict, out, verdict: str | None = None, parts: list[str] | None = None) -> None:
    """The headline is `verdict` (None: the caller asserts it) and is the one its parts give, whose verdicts in
    order are `parts` (None: not asserted); every part has a criterion, a control that
    does not reach HOLDS (when the part can hold) and a reason when it does not hold; preconditions unmet only
    on INCONCLUSIVE parts; figures with captions and recipes on disk; finding.json is the record."""
    assert verdict is None or record["verdict"] == verdict, record["measured"]
    assert parts is None or [p["verdict"] for p in record["parts"]] == parts, record["measured"]
    assert json.loads((out / "finding.json").read_text()) == record
    judged = [Part(**{**p, "preconditions": [], "control": None}) for p in record["parts"]]
    assert judged and headline(judged) == record["verdict"]
    for p in record["parts"]:
        assert p["criterion"] and p["measured"] and p["verdict"] in (HOLDS, DOES_NOT_HOLD, INCONCLUSIVE)
        if p["verdict"] == HOLDS:
            assert p["control"] is not None, f"{p['name']}: a part that holds needs a negative control"
        if p["control"] is not None:
            assert p["control"]["verdict"] != HOLDS, f"{p['name']}: the control {p['control']} passes"
        if p["verdict"] != HOLDS:
            assert p["why"], p["name"]
        if any(not c["met"] for c in p["preconditions"]):
            assert p["verdict"] == INCONCLUSIVE and p["why"].startswith("precondition not met")
    assert record["figures"] and all((out / f).stat().st_size > 10_000 for f in record["figures"])
    assert set(record["captions"]) == set(record["figures"])
    assert all((out / r).is_file() for r in record["recipes"])
    exp = get(record["experiment"])
    assert exp.precise and exp.source and exp.number == record["number"] and exp.cost_s
    assert to_json(record) == record
