"""Every notebook in notebooks/ runs top to bottom in quick mode in under a minute; none has outputs.

The kernel is ``python3`` resolved by jupyter_client to this interpreter (the
venv's ipykernel), so the notebooks run against the package under test.
Quick mode (``BACKUPSIM_QUICK=1``) keeps each one small; notebooks 01 and 04
are pointed at results folders that do not exist, so they run their own small
batches in temporary folders rather than reading whatever is in results/.
"""

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["01-seed-review", "02-policy-explorer", "03-model-checks", "04-modern-review"]
BUDGET_S = 60


def test_every_notebook_is_listed():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_in_quick_mode(name, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKUPSIM_QUICK", "1")
    monkeypatch.setenv("BACKUPSIM_SEED_RESULTS", str(tmp_path / "no-results-here"))
    monkeypatch.setenv("BACKUPSIM_MODERN_RESULTS", str(tmp_path / "no-modern-results-here"))
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=BUDGET_S,
        allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    before = _listing(ROOT / "results")
    t0 = time.monotonic()
    client.execute()  # raises CellExecutionError on the first failing cell
    elapsed = time.monotonic() - t0
    assert elapsed < BUDGET_S, f"{name} took {elapsed:.1f} s in quick mode"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type in ("display_data", "execute_result") and "image/png" in o.get("data", {})
    ]
    assert images, f"{name} showed no figure"
    assert not (tmp_path / "no-results-here").exists()
    assert not (tmp_path / "no-modern-results-here").exists()
    assert _listing(ROOT / "results") == before, "quick mode wrote under results/"


def _listing(folder: Path) -> dict:
    """Every path under ``folder`` with its modification time (empty if the folder does not exist)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}
