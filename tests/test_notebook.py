"""The example notebook runs end to end against a live API (uvicorn on loopback) and the real warehouse."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import nbformat
import pytest
import uvicorn
from nbclient import NotebookClient

from targetkg.service.app import create_app

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "analyst_workflow.ipynb"


@pytest.fixture()
def api(warehouse):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_analyst_notebook_runs_end_to_end(api, monkeypatch):
    monkeypatch.setenv("TARGETKG_API", api)  # the kernel inherits the environment
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "disease: DOID:1612" in text
    assert "pathways at FDR" in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "the subgraph plot was not drawn"
