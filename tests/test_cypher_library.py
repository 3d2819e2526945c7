"""Every query of the analysts' library runs against the real test warehouse and returns rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parent.parent / "cypher"
FILES = sorted(LIBRARY.glob("*.cypher"))
_PARAM = re.compile(r"^//.*:param (\w+) => '([^']*)'", re.M)


def test_library_is_documented():
    readme = (LIBRARY / "README.md").read_text()
    for f in FILES:
        text = f.read_text()
        assert text.startswith("// Question:"), f"{f.name}: header must start with the question"
        assert "// Parameters:" in text and "// Example:" in text, f.name
        assert f"({f.name})" in readme, f"{f.name} missing from cypher/README.md"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_query_returns_rows(path, warehouse):
    text = path.read_text()
    params = dict(_PARAM.findall(text))
    with warehouse.session(default_access_mode="READ") as session:
        rows = session.run(text.rstrip().rstrip(";"), params).data()
    assert rows, f"{path.name} returned no rows with {params}"
