"""Read-only guard for user Cypher (POST /query), checked before anything runs.

Three layers: (1) a lexical check on the statement with comments and string literals blanked
out (one statement, no write/admin clause, procedures only from an allow-list, no
`CALL { } IN TRANSACTIONS`, no `USE`); (2) `EXPLAIN` on the server, refusing any plan whose
query type is not read-only ('r'); (3) execution in a READ-mode transaction with a timeout.
"""

from __future__ import annotations

import re

# Procedures a user query may CALL (exact names or prefixes ending in '.').
ALLOWED_PROCEDURES = (
    "db.labels", "db.relationshipTypes", "db.propertyKeys", "db.schema.visualization",
    "db.schema.nodeTypeProperties", "db.schema.relTypeProperties",
    "db.index.fulltext.queryNodes", "db.index.fulltext.queryRelationships",
    "apoc.path.expand", "apoc.path.expandConfig", "apoc.path.subgraphNodes", "apoc.path.subgraphAll",
    "apoc.path.spanningTree", "apoc.meta.stats", "apoc.meta.data", "apoc.meta.schema",
    "apoc.algo.dijkstra", "apoc.algo.aStar", "apoc.algo.allSimplePaths",
)
# Functions that can run arbitrary (possibly writing) Cypher or reach outside the graph.
FORBIDDEN_FUNCTION_PREFIXES = ("apoc.cypher.", "apoc.do.", "apoc.periodic.", "apoc.load.", "apoc.import.",
                               "apoc.export.", "apoc.trigger.", "apoc.systemdb.", "apoc.custom.", "dbms.")

# Clauses that write or read outside the graph: refused wherever they appear as a keyword.
_WRITE_KEYWORDS = ("CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "FOREACH", "LOAD", "INSERT")
# Administration commands: refused when they start the statement (they cannot appear elsewhere); USE anywhere.
_ADMIN_KEYWORDS = ("GRANT", "DENY", "REVOKE", "ALTER", "RENAME", "START", "STOP", "ENABLE", "DEALLOCATE",
                   "REALLOCATE", "TERMINATE", "SHOW", "USE", "DRYRUN")


class RefusedQuery(ValueError):
    """The query is not a single read-only statement; the message says why."""


def _blank(text: str) -> str:
    """Comments and string literals replaced by spaces (keeps positions; keywords inside strings are harmless)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(" " * (j - i))
            i = j
        elif c in "'\"`":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            # backticked identifiers stay (they name things); strings are blanked
            out.append(text[i:j] if c == "`" else c + " " * max(j - i - 2, 0) + (c if j - i >= 2 else ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def check_cypher(text: str) -> str:
    """Return the statement to run (trailing ';' stripped) or raise RefusedQuery."""
    if not text or not text.strip():
        raise RefusedQuery("empty query")
    blank = _blank(text)
    stripped = blank.rstrip()
    if stripped.endswith(";"):
        stripped = stripped[:-1]
        text = text[: len(stripped)]
    if ";" in stripped:
        raise RefusedQuery("only one statement per request: ';' separates statements")
    upper = _strip_backticks(stripped.upper())
    for kw in _WRITE_KEYWORDS:
        # a keyword, not a property (n.set), parameter ($set), map key / variable with label (set: / set:Gene)
        # or alias (AS set)
        if re.search(rf"(?<![\w.$])(?<!AS ){kw}(?![\w])(?!\s*:)", upper):
            raise RefusedQuery(f"write or admin clause {kw} is not allowed: /query is read-only")
    first = re.match(r"\s*(?:EXPLAIN\s+|PROFILE\s+)?([A-Z]+)", upper)
    if first and first.group(1) in _ADMIN_KEYWORDS:
        raise RefusedQuery(f"administration command {first.group(1)} is not allowed: /query runs graph queries only")
    if re.search(r"(?<![\w.$])(?<!AS )USE\s+[A-Z_`]", upper):
        raise RefusedQuery("USE is not allowed: /query runs against the warehouse database only")
    if re.match(r"\s*PROFILE\b", upper):
        raise RefusedQuery("PROFILE is not supported through /query (use EXPLAIN or Neo4j Browser)")
    if re.search(r"\bIN\s+(\d+\s+)?(CONCURRENT\s+)?TRANSACTIONS\b", upper):
        raise RefusedQuery("CALL { ... } IN TRANSACTIONS is not allowed: /query is read-only")
    for m in re.finditer(r"(?<![\w.])CALL\s+(?!\{|\()([A-Za-z_`][\w.`]*)", stripped, re.IGNORECASE):
        name = m.group(1).replace("`", "")
        if not any(name == a or (a.endswith(".") and name.startswith(a)) for a in ALLOWED_PROCEDURES):
            raise RefusedQuery(f"procedure {name} is not on the allow-list: "
                               f"allowed are {', '.join(ALLOWED_PROCEDURES)}")
    for m in re.finditer(r"([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+)\s*\(", stripped):
        name = m.group(1)
        if any(name.lower().startswith(p) for p in FORBIDDEN_FUNCTION_PREFIXES):
            raise RefusedQuery(f"function {name} is not allowed: it can run other statements or reach outside the graph")
    return text


def _strip_backticks(s: str) -> str:
    return re.sub(r"`[^`]*`", " ", s)
