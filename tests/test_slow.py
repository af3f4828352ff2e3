"""Long experiments, opt-in: ``python -m pytest -m slow``."""

import pytest

from sim.batch import run_batch
from sim.cli import default_scenario
from sim.scenario import load_scenario

pytestmark = pytest.mark.slow


def test_default_scenario_is_byte_identical_with_one_or_two_workers(tmp_path):
    scn = load_scenario(default_scenario())
    run_batch(scn, tmp_path / "one", jobs=1, progress=False)
    runs = run_batch(scn, tmp_path / "two", jobs=2, progress=False)
    for name in ("runs.parquet", "runs.csv", "timeline.parquet", "latency_hist.parquet"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    assert (runs["status"] == "completed").all() and runs["consistent"].all()
