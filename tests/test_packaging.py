"""Every folder of Python code under the package's mapped folders is listed as a package, so a
regular (non-editable) install ships it; nothing installs a bare top-level `graph` or `models`."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_code_folder_is_a_listed_package():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping, listed = cfg["package-dir"], set(cfg["packages"])
    assert all(name == "targetkg" or name.startswith("targetkg.") for name in listed)
    found = set()
    for package, folder in mapping.items():
        for py in (REPO / folder).rglob("*.py"):
            rel = py.parent.relative_to(REPO / folder)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join([package, *rel.parts]))
    missing = found - listed
    assert not missing, f"code folders missing from [tool.setuptools] packages: {sorted(missing)}"
