"""``[[sweep]]`` blocks: several cartesian products one after another, no configuration twice."""

import tomllib

import pytest
from conftest import tiny_batch

import sim
from sim.scenario import scenario_from_dict

BLOCKS = (
    tiny_batch("blocks", 11).replace("[sweep]", "[[sweep]]")
    + """"loop.era" = ["2013", "modern"]

[[sweep]]
policy = [{ name = "none" }, { name = "fixed-sleep", sleep = "1us" }]
"loop.era" = ["2013"]
"loop.iteration_cost" = ["0ns", "1us", "2us"]
"""
)


def _scn(text: str = BLOCKS):
    return scenario_from_dict(tomllib.loads(text), "blocks.toml")


def test_points_follow_block_order_without_repeating_a_configuration():
    pts = _scn().points()
    # block 1: 2 policies x 2 eras; block 2: 2 policies x 3 costs, of which the
    # 2 us points (the default) are block 1's 2013 points
    assert len(pts) == 4 + 6 - 2
    assert pts[:4] == [
        {"policy": {"name": "none"}, "loop.era": "2013"},
        {"policy": {"name": "none"}, "loop.era": "modern"},
        {"policy": {"name": "fixed-sleep", "sleep": "1us"}, "loop.era": "2013"},
        {"policy": {"name": "fixed-sleep", "sleep": "1us"}, "loop.era": "modern"},
    ]
    assert [p.get("loop.iteration_cost") for p in pts[4:]] == ["0ns", "1us", "0ns", "1us"]
    configs = [_scn()._point_config(p).to_dict() for p in pts]
    assert all(a != b for i, a in enumerate(configs) for b in configs[:i])


def test_one_block_keeps_its_resolved_form_and_hash():
    one = _scn(tiny_batch("one", 11))
    assert isinstance(one.resolved()["sweep"], dict)
    assert isinstance(_scn().resolved()["sweep"], list)
    assert _scn().sweep["loop.era"] == ["2013", "modern"]


def test_set_on_a_swept_key_collapses_it_in_every_block():
    scn = _scn().with_overrides({"loop.era": "modern"})
    pts = scn.points()
    assert all("loop.era" not in p for p in pts)
    assert len(pts) == 2 + 6 - 2  # the 2 us points of block 2 equal block 1's


def test_a_bad_value_in_a_later_block_names_its_key():
    bad = BLOCKS.replace('"0ns", "1us", "2us"', '"0ns", "fast"')
    with pytest.raises(sim.ScenarioError) as e:
        _scn(bad)
    assert "sweep.loop.iteration_cost" in str(e.value) and "'fast'" in str(e.value)
    with pytest.raises(sim.ScenarioError):
        _scn(BLOCKS.replace("[[sweep]]\npolicy", "[[sweep]]\nnothing = 3\npolicy", 1))


def test_report_answers_the_sleep_question_per_iteration_cost(tmp_path):
    scn = _scn()
    sim.run_batch(scn, tmp_path / "out", jobs=1, progress=False)
    from sim.review import write_report

    text = write_report(tmp_path / "out").read_text()
    section = text.split("**Does the patch's 1 µs sleep help?", 1)[1].split("\n\n", 3)[2]
    rows = [r for r in section.splitlines() if r.startswith("| ") and not r.startswith("| iteration")]
    assert [r.split(" | ")[0] for r in rows] == ["| 0ns", "| 1us", "| 2us (assumed)"]
    # the 0 ns row: every sleep waits for the 250 us alarm, so the sleep lengthens the backup most
    ratios = [float(r.split(" | ")[3].split()[0]) for r in rows]
    assert ratios[0] > ratios[1] >= 1.0


MODES = """
name = "modes"
[base.backup]
disk_size = "8MiB"
[[sweep]]
"backup.mode" = ["block-copy", "proxmox"]
"backup.max_workers" = [1, 8]
"""


def test_a_block_may_sweep_a_mode_with_that_modes_own_keys():
    scn = _scn(MODES)
    scn.validate()
    cfgs = [scn._point_config(p) for p in scn.points()]
    assert [(c.backup.mode, c.backup.max_workers) for c in cfgs] == [
        ("block-copy", 1),
        ("block-copy", 8),
        ("proxmox", 1),
        ("proxmox", 8),
    ]


def test_a_key_of_another_mode_in_a_block_names_the_swept_key_and_the_mode():
    text = MODES.replace('["block-copy", "proxmox"]', '["block-copy", "seed-2013"]')
    with pytest.raises(sim.ScenarioError) as e:
        _scn(text).validate()
    msg = str(e.value)
    assert "sweep.backup.max_workers" in msg and "'seed-2013'" in msg and "block-copy" in msg


def test_a_key_swept_as_text_and_as_a_number_is_stored_as_text(tmp_path):
    # the calibration scenario's speeds: "32MiB/s" at one point, 13421772 (bytes/s) at another
    text = tiny_batch("mixed", 12).replace(
        'policy = [{ name = "none" }, { name = "fixed-sleep", sleep = "1us" }]',
        'policy = [{ name = "rate-limit", speed = "32MiB/s" }, { name = "rate-limit", speed = 13421772 }]',
    )
    scn = scenario_from_dict(tomllib.loads(text), "mixed.toml")
    sim.run_batch(scn, tmp_path / "out", jobs=1, progress=False)
    runs = sim.load_results(tmp_path / "out")
    assert sorted(set(runs["policy.speed"])) == ["13421772", "32MiB/s"]
    assert set(runs["policy.name"]) == {"rate-limit"}
