"""The `targetkg` command line (typer)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from targetkg.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="TargetKG: a Neo4j warehouse for drug-target discovery.")
neo4j_app = typer.Typer(no_args_is_help=True, help="Run the managed Neo4j server (ignored when NEO4J_URI is set).")
app.add_typer(neo4j_app, name="neo4j")
console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _server():
    from targetkg.graph.server import ManagedNeo4j

    return ManagedNeo4j(get_settings())


def _external_note() -> bool:
    s = get_settings()
    if not s.managed:
        console.print(f"NEO4J_URI is set: using the server at [bold]{s.neo4j_uri}[/] (nothing to manage here).")
        return True
    return False


# ---------------------------------------------------------------------------------- neo4j
@neo4j_app.command("install")
def neo4j_install(force: bool = typer.Option(False, help="Re-fetch the jars even if cached.")):
    """Fetch Neo4j Community, Browser and APOC from Maven Central into the cache."""
    from targetkg.graph.server import ServerError

    try:
        runtime = _server().install(force=force, echo=console.print)
    except ServerError as exc:
        fail(str(exc))
    console.print(f"Neo4j runtime ready in {runtime}")


@neo4j_app.command("start")
def neo4j_start():
    """Start the managed server and wait until a Cypher query answers."""
    if _external_note():
        from targetkg.graph.connection import Neo4jUnavailable, driver

        try:
            driver()
        except Neo4jUnavailable as exc:
            fail(str(exc))
        console.print("It answers.")
        return
    from targetkg.graph.server import ServerError

    srv = _server()
    try:
        res = srv.start(echo=console.print)
    except ServerError as exc:
        fail(str(exc))
    s = get_settings()
    if res.already_running:
        console.print(f"Neo4j is already running (pid {res.pid}) at bolt://{s.listen_address}:{s.bolt_port}; nothing to do.")
    else:
        console.print(
            f"Neo4j {s.neo4j_version} started in {res.seconds:.1f}s (pid {res.pid}): "
            f"bolt://{s.listen_address}:{s.bolt_port}, Browser {s.http_url}/browser/"
        )


@neo4j_app.command("stop")
def neo4j_stop():
    """Stop the managed server cleanly."""
    if _external_note():
        return
    console.print(_server().stop())


@neo4j_app.command("status")
def neo4j_status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Show whether the server runs, where, and its credentials."""
    s = get_settings()
    if not s.managed:
        info = {"managed": False, "uri": s.neo4j_uri, "user": s.neo4j_user, "database": s.neo4j_database}
        from targetkg.graph.connection import Neo4jUnavailable, driver

        try:
            driver()
            info["running"] = True
        except Neo4jUnavailable as exc:
            info["running"] = False
            info["problem"] = str(exc)
    else:
        info = _server().status()
    if as_json:
        print(json.dumps(info, indent=2))
        return
    for k, v in info.items():
        console.print(f"{k:>14}: {v}", highlight=False)


@neo4j_app.command("logs")
def neo4j_logs(lines: int = typer.Option(50, "-n", help="How many lines."),
               name: str = typer.Option("neo4j.log", help="neo4j.log, debug.log, console.log, ...")):
    """Print the end of the managed server's log."""
    if _external_note():
        return
    print(_server().tail_logs(lines, name))


@neo4j_app.command("reset")
def neo4j_reset(yes: bool = typer.Option(False, "--yes", help="Really delete the data.")):
    """Delete the managed instance (data, logs, password); cached jars stay."""
    if _external_note():
        return
    if not yes:
        fail("this deletes all data of the managed instance; repeat with --yes")
    from targetkg.graph.server import ServerError

    try:
        _server().reset()
    except ServerError as exc:
        fail(str(exc))
    console.print("Managed instance removed.")


# ---------------------------------------------------------------------------------- stats
@app.command("stats")
def stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Counts per label and relationship type, constraints, sources loaded."""
    from targetkg.graph.connection import Neo4jUnavailable, driver
    from targetkg.graph.stats import collect

    s = get_settings()
    try:
        data = collect(driver(), s.neo4j_database)
    except Neo4jUnavailable as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    console.print(f"[bold]{data['nodes']:,}[/] nodes, [bold]{data['relationships']:,}[/] relationships"
                  + (f", release {data['release']}" if data["release"] else ""))
    for title, counts in (("label", data["labels"]), ("relationship type", data["types"])):
        if counts:
            t = Table(title=None)
            t.add_column(title)
            t.add_column("count", justify="right")
            for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
                t.add_row(k, f"{v:,}")
            console.print(t)
    console.print(f"constraints: {len(data['constraints'])}, indexes: {len(data['indexes'])}")
    if data["sources"]:
        t = Table()
        for col in ("source", "version", "nodes", "edges", "loaded_at"):
            t.add_column(col)
        for src in data["sources"]:
            t.add_row(src["id"], str(src["version"]), f"{src['nodes'] or 0:,}", f"{src['edges'] or 0:,}", str(src["loaded_at"]))
        console.print(t)
    else:
        console.print("no sources loaded yet (`targetkg build`)")


@app.command("schema")
def schema_docs(output: Optional[Path] = typer.Option(None, "-o", help="Write Markdown here instead of stdout.")):
    """Print the warehouse schema (labels, types, provenance) as Markdown."""
    from targetkg.graph.schema import load_schema

    text = load_schema().markdown()
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        print(text)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
