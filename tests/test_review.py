"""sim.review and sim.plots: report.md, its tables, figures and citation line."""

import json
import re
import shutil

import pytest
from conftest import tiny_batch

import sim
from sim import analysis, plots
from sim.review import write_report

PNG = b"\x89PNG\r\n\x1a\n"

TINY = tiny_batch("tiny-report", 11, '"loop.era" = ["2013", "modern"]\n', "A tiny batch for the report tests")

COMMAND = "backupsim run tiny.toml --out tiny-out"


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    f = d / "tiny.toml"
    f.write_text(TINY)
    out = d / "out"
    sim.run_batch(sim.load_scenario(f), out, jobs=1, progress=False, command=COMMAND)
    report = write_report(out)
    return out, report


def test_report_written_with_figures(batch):
    out, report = batch
    assert report == out / "report.md" and report.exists()
    text = report.read_text()
    figs = re.findall(r"\]\((figures/[^)]+\.png)\)", text)
    assert {"figures/tradeoff.png", "figures/latency_cdf.png", "figures/cow.png"} <= set(figs)
    assert sum(f.startswith("figures/timeline-") for f in figs) == 4
    for f in figs:
        data = (out / f).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, f
    assert not [p for p in out.rglob("*.tmp")], "temporary files left behind"


def test_report_tables_and_citation(batch):
    out, report = batch
    text = report.read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    h = manifest["scenario_hash"]
    res = analysis.load(out)
    agg = analysis.aggregate(res.runs)
    for label in (
        "none, era 2013",
        "none, era modern",
        "fixed-sleep sleep=1us, era 2013",
        "fixed-sleep sleep=1us, era modern",
    ):
        rows = [line for line in text.splitlines() if line.startswith(f"| {label} |")]
        assert len(rows) >= 4, label  # two main tables and two pooled rows (read, write)
    row = next(line for line in text.splitlines() if line.startswith("| none, era 2013 | 2 |"))
    assert "completed 2" in row and row.rstrip().endswith("| yes |")
    d = agg.loc[0]
    assert f"{d['backup_duration_s']:.3f}"[:4] in row
    # the citation line: version, commit, hash and the exact command
    cite = text.split("## Reproduce and cite", 1)[1]
    assert f"backupsim {manifest['versions']['backupsim']}" in cite
    assert manifest["git_commit"] in cite
    assert f"hash `{h}`" in cite
    assert f"`{COMMAND}`" in cite
    # every caption names the scenario hash
    captions = [line for line in text.splitlines() if line.startswith("*Figure ")]
    assert captions and all(h in c for c in captions)
    assert "## The question" in text and "copy-before-write" in text
    assert "8MiB disk in 64KiB clusters (128 clusters)" in text
    assert "2013 and modern (swept)" in text


def test_tables_are_plain_pipe_tables(batch):
    _, report = batch
    lines = report.read_text().splitlines()
    i = 0
    tables = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            cells = [len(re.findall(r"(?<!\\)\|", b)) for b in block]
            assert len(set(cells)) == 1, block  # same number of columns in every row
            assert re.fullmatch(r"\|(-{3}:?\|)+|\|---\|(---:\|)+", block[1])
            tables += 1
        i += 1
    assert tables == 3


def test_report_is_deterministic(batch):
    out, report = batch
    first = report.read_text()
    pngs = {p.name: p.read_bytes() for p in (out / "figures").glob("*.png")}
    write_report(out)
    assert report.read_text() == first
    assert {p.name: p.read_bytes() for p in (out / "figures").glob("*.png")} == pngs


def test_figures_are_the_same_files_drawn_here_or_by_workers(batch, tmp_path):
    out, report = batch
    drawn = {}
    for jobs in (1, 3):
        copy = tmp_path / f"jobs{jobs}"
        shutil.copytree(out / "current", copy, symlinks=True)
        for png in (copy / "figures").glob("*.png"):
            png.unlink()
        text = write_report(copy, lock=False, jobs=jobs).read_text()
        drawn[jobs] = text, {p.name: p.read_bytes() for p in (copy / "figures").glob("*.png")}
    assert drawn[1] == drawn[3]
    assert len(drawn[1][1]) == 7  # tradeoff, latency CDF, copy-before-write cost and four timelines
    assert not list(tmp_path.rglob("*.tmp"))


def test_report_with_one_replication(tmp_path):
    f = tmp_path / "one.toml"
    f.write_text(TINY.replace("replications = 2", "replications = 1").replace('"loop.era" = ["2013", "modern"]', ""))
    out = tmp_path / "out"
    sim.run_batch(sim.load_scenario(f), out, jobs=1, progress=False)
    text = write_report(out).read_text()
    row = next(line for line in text.splitlines() if line.startswith("| none | 1 |"))
    assert "[" not in row  # no interval with one replication
    assert "no command was recorded" in text  # run from Python: the equivalent command is given
    assert f"backupsim run {f}" in text


def test_figures_return_figures(batch):
    out, _ = batch
    res = analysis.load(out)
    for fig in (
        plots.latency_cdf(res),
        plots.latency_cdf(res, tail=False),
        plots.tradeoff(res),
        plots.timeline(res, point=1),
        plots.cow_cost(res),
    ):
        assert fig.axes
        texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
        assert any(res.scenario_hash in t for t in texts)  # the footer stamp
    p = plots.save(plots.tradeoff(res), out / "extra" / "t.png")
    assert p.read_bytes().startswith(PNG)


NO_GUEST = """
name = "no-guest"
root_seed = 5
replications = 1
[base.backup]
disk_size = "256KiB"
cluster_size = "64KiB"
start = "{start}"
[base.workload]
kind = "{kind}"
[base.run]
max_time = "{max_time}"
[sweep]
policy = [{{ name = "none" }}, {{ name = "fixed-sleep", sleep = "1us" }}]
"""


def _texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


@pytest.mark.parametrize(
    "kind,start,max_time",
    [
        ("none", "1ms", "1s"),  # a backup of an idle VM
        ("fio", "0ns", "0ns"),  # a run that ends at once: no request completes
    ],
)
def test_report_without_guest_latencies(tmp_path, kind, start, max_time):
    f = tmp_path / "s.toml"
    f.write_text(NO_GUEST.format(kind=kind, start=start, max_time=max_time))
    out = tmp_path / "out"
    sim.run_batch(sim.load_scenario(f), out, jobs=1, progress=False)
    text = write_report(out).read_text()
    figs = re.findall(r"\]\((figures/[^)]+\.png)\)", text)
    assert {"figures/tradeoff.png", "figures/timeline-p00.png"} <= set(figs)
    for name in figs:
        assert (out / name).read_bytes().startswith(PNG), name
    res = analysis.load(out)
    assert "no guest requests" in _texts(plots.timeline(res, point=0))
    assert "no guest requests" in _texts(plots.tradeoff(res))


def test_figures_with_all_latencies_missing(batch):
    out, _ = batch
    res = analysis.load(out)
    for col in [c for c in res.timeline.columns if c.endswith("_us")]:
        res.timeline[col] = float("nan")
    for col in [c for c in res.runs.columns if c.endswith("_us") or c.startswith("slowdown")]:
        res.runs[col] = float("nan")
    res.hist["count"] = 0
    for fig in (plots.timeline(res, point=0), plots.tradeoff(res), plots.latency_cdf(res), plots.cow_cost(res)):
        plots.save(fig, out / "nan" / "f.png")  # drawing is where a log scale without data fails
    assert "no guest requests" in _texts(plots.timeline(res, point=0))
