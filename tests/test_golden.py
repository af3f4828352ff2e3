"""Golden summary of one small scenario: any change to the model's numbers shows up here.

The golden file is written by the model, not by hand: after a deliberate model change,
regenerate it with ``python -m pytest tests/test_golden.py --update-golden`` and say why
in the commit message.  The file records the configuration it was made from.
"""

import json
import math
from pathlib import Path

import sim

GOLDEN = Path(__file__).parent / "golden" / "small-summary.json"
CFG = {
    "backup": {"disk_size": "32MiB", "start": "50ms"},
    "disk": {"profile": "sata-ssd", "dist": "gamma", "cv": 0.3},
    "target": {"profile": "hdd"},
    "policy": {"name": "fixed-sleep", "sleep": "1us"},
    "loop": {"era": "2013"},
    "workload": {"kind": "fio", "rw": "randrw", "rwmixread": 70, "bs": "4KiB", "iodepth": 8},
    "run": {"seed": 7},
}


def test_golden_summary(request):
    summary = sim.run_one(CFG).summary
    if request.config.getoption("--update-golden"):
        GOLDEN.write_text(json.dumps({"config": CFG, "summary": summary}, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert golden["config"] == CFG, "the golden file was made from another configuration"
    expected = golden["summary"]
    assert sorted(summary) == sorted(expected)
    for key, want in expected.items():
        got = summary[key]
        if isinstance(want, float) and (math.isnan(want) or isinstance(got, float)):
            assert (math.isnan(got) and math.isnan(want)) or math.isclose(got, want, rel_tol=1e-9), key
        else:
            assert got == want, key
