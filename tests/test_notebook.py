"""The example notebook runs end to end against a live API (uvicorn on loopback) and the real warehouse."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "analyst_workflow.ipynb"


def test_analyst_notebook_runs_end_to_end(live_api, monkeypatch):
    monkeypatch.setenv("TARGETKG_API", live_api)  # the kernel inherits the environment
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "disease: DOID:1612" in text
    assert "pathways at FDR" in text
    assert "edges between" in text and "GENE_ASSOCIATED_WITH_CONDITION" in text  # provenance of the top target
    assert "overlays in the warehouse" in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "the subgraph plot was not drawn"
