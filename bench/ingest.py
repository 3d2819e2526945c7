"""Ingest benchmark: online writer, bulk import and a row-by-row baseline on Hetionet.

Runs on its own managed Neo4j instance (separate data directory and ports), so it never
touches your warehouse. Data: the 765,796 edges of Hetionet's 16 complete metaedge files plus
its 47,031 nodes, from $TARGETKG_DATA/hetionet.

  online   GraphWriter (batched UNWIND, idempotent), nodes + edges, wall time, on an empty
           database (a fresh load: CREATE, 2 workers; once on the cold server, reported as
           online_cold_*, then again warm: online_rels_per_s) and on the loaded one (a re-run:
           MERGE finds every edge)
  bulk     the same records aggregated in Python, written as CSVs, `neo4j-admin database
           import full` on the stopped database (CSV + import time; restart and constraint
           creation reported separately)
  rowwise  the baseline analysts use today: py2neo, one MERGE per edge (auto-commit), on a
           20,000-edge subset; the online writer is timed on the same subset

Last line: one JSON object with the figures.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

from targetkg.settings import Settings  # the package is installed (make up / make test)

SUBSET = 20_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hetionet_records(data: Path, full_only: bool = True):
    from targetkg.ingest.hetionet import HetionetAdapter
    from targetkg.ingest.model import Edge

    adapter = HetionetAdapter(data / "hetionet")
    for rec in adapter.records():
        if full_only and isinstance(rec, Edge) and rec.props.get("source_file") == "edges-5k.sif.gz":
            continue  # the 8 sample-only metaedges are not part of the 765,796
        yield rec


def main() -> None:
    from targetkg.graph.admin import clear_database
    from targetkg.graph.bulk import BulkAggregator, neo4j_admin_import
    from targetkg.graph.connection import close_all, driver
    from targetkg.graph.server import ManagedNeo4j
    from targetkg.graph.writer import GraphWriter, WriteStats
    from targetkg.ingest.hetionet import HetionetAdapter
    from targetkg.ingest.model import Edge, Node

    home = Path(os.environ.get("TARGETKG_BENCH_HOME", Path.home() / ".local" / "share" / "targetkg-bench"))
    settings = Settings(home=home, bolt_port=int(os.environ.get("TARGETKG_BENCH_BOLT_PORT", 27687)),
                        http_port=int(os.environ.get("TARGETKG_BENCH_HTTP_PORT", 27474)))
    server = ManagedNeo4j(settings)
    started = server.start(echo=lambda *a: None)
    print(f"bench Neo4j {settings.neo4j_version} on {settings.bolt_uri} (start {started.seconds:.1f}s, heap {settings.heap}, "
          f"page cache {settings.pagecache}); load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    drv = driver(settings)
    prov = HetionetAdapter(settings.data / "hetionet").provenance()

    # --- the adapter alone (parsing, no database): it must not be the bottleneck ---------
    t0 = time.monotonic()
    adapter_edges = sum(1 for r in hetionet_records(settings.data) if isinstance(r, Edge))
    adapter_rate = adapter_edges / (time.monotonic() - t0)

    # --- online, full data ---------------------------------------------------------------
    # The first load after a server start runs on a cold JVM (Cypher runtime not yet compiled
    # by the JIT; measured 35 s vs 26 s): timed and reported, then the store is emptied and the
    # load timed again.
    clear_database(drv, drop_schema=True)
    writer = GraphWriter(drv, release="bench", progress=False)
    writer.ensure_schema()
    t0 = time.monotonic()
    cold = writer.write(hetionet_records(settings.data), prov)
    cold_s = time.monotonic() - t0
    cold_rate = cold.edges / cold_s
    clear_database(drv, drop_schema=True)
    writer.ensure_schema()
    t0 = time.monotonic()
    online = writer.write(hetionet_records(settings.data), prov)
    online_s = time.monotonic() - t0
    assert online.dangling == 0
    online_rate = online.edges / online_s
    rss_online = peak_rss_mb()
    t0 = time.monotonic()
    rerun = GraphWriter(drv, release="bench", progress=False).write(hetionet_records(settings.data), prov)
    rerun_s = time.monotonic() - t0
    assert rerun.edges == online.edges and rerun.created == 0
    rerun_rate = rerun.edges / rerun_s

    # --- the 20k subset: row-by-row baseline vs the writer ------------------------------
    nodes = [r for r in hetionet_records(settings.data) if isinstance(r, Node)]
    edges_all = (r for r in hetionet_records(settings.data) if isinstance(r, Edge))
    step = max(1, online.edges // SUBSET)
    subset = [e for i, e in enumerate(edges_all) if i % step == 0][:SUBSET]  # every type, in proportion

    def reset_with_nodes() -> None:
        clear_database(drv)
        w = GraphWriter(drv, release="bench", progress=False)
        w.write(nodes, prov)

    reset_with_nodes()
    t0 = time.monotonic()
    sub_online = GraphWriter(drv, release="bench", progress=False).write(list(subset), prov)
    sub_online_rate = sub_online.edges / (time.monotonic() - t0)

    reset_with_nodes()
    baseline_kind = "py2neo (Graph.run, one auto-commit MERGE per edge)"
    try:
        from py2neo import Graph

        graph = Graph(settings.bolt_uri, auth=("neo4j", settings.password()))
        run_row = graph.run
    except Exception as exc:  # py2neo cannot talk to this server: official driver, one tx per row
        baseline_kind = f"official driver, one transaction per edge (py2neo unavailable: {exc.__class__.__name__})"

        def run_row(cypher, **params):
            return drv.execute_query(cypher, params)

    t0 = time.monotonic()
    for e in subset:
        props = {k: v for k, v in e.props.items() if k != "source_file"}
        run_row(
            f"MATCH (a:{e.subject_label} {{id: $s}}) MATCH (b:{e.object_label} {{id: $o}}) "
            f"MERGE (a)-[r:{e.predicate} {{primary_knowledge_source: $src}}]->(b) "
            "SET r.source_version = $v, r.release = 'bench', r.source_file = $f, r.source_predicate = [$sp], "
            "r.evidence = $ev, r += $props",
            s=e.subject, o=e.object, src=prov.infores, v=prov.version, f=e.props.get("source_file"),
            sp=e.source_predicate, ev=list(e.evidence), props=props,
        )
    rowwise_rate = len(subset) / (time.monotonic() - t0)
    rowwise_count = drv.execute_query("MATCH ()-[r]->() RETURN count(r) AS c").records[0]["c"]
    nodes.clear()
    subset.clear()

    # --- bulk ----------------------------------------------------------------------------
    t0 = time.monotonic()
    agg = BulkAggregator("bench")
    stats = WriteStats()
    agg.add(hetionet_records(settings.data), prov, stats)
    read_s = time.monotonic() - t0
    csv_dir = settings.home / "import" / "bench"
    t0 = time.monotonic()
    node_files, rel_files, dangling = agg.write_csvs(csv_dir)
    csv_s = time.monotonic() - t0
    bulk_edges = sum(len(v) for v in agg.edges.values())
    rss_bulk = peak_rss_mb()
    multiline = agg.multiline_fields
    del agg
    close_all()
    server.stop()
    import_s = neo4j_admin_import(server, "neo4j", node_files, rel_files, multiline)
    t0 = time.monotonic()
    server.start(echo=lambda *a: None)
    restart_s = time.monotonic() - t0
    drv = driver(settings)
    t0 = time.monotonic()
    GraphWriter(drv, release="bench", progress=False).ensure_schema()
    schema_s = time.monotonic() - t0
    bulk_count = drv.execute_query("MATCH ()-[r]->() RETURN count(r) AS c").records[0]["c"]
    assert bulk_count == bulk_edges == online.edges, (bulk_count, bulk_edges, online.edges)
    bulk_rate = bulk_edges / (csv_s + import_s)
    import_rate = bulk_edges / import_s
    bulk_total_s = read_s + csv_s + import_s + restart_s + schema_s
    close_all()
    server.stop()

    rows = [
        ("adapter alone (parse, no database)", f"{adapter_edges:,} edges", "", f"{adapter_rate:,.0f}"),
        ("online writer, fresh load, first pass " + ("(server just started: cold JVM)" if started.seconds > 0.5
                                                     else "(server was already running)"),
         f"{cold.edges:,} edges + {cold.nodes:,} nodes",
         f"{cold_s:.1f}", f"{cold_rate:,.0f}"),
        (f"online writer, fresh load, second pass ({online.created:,} CREATEd, {writer.workers} workers)",
         f"{online.edges:,} edges + {online.nodes:,} nodes", f"{online_s:.1f}", f"{online_rate:,.0f}"),
        ("online writer, re-run (MERGE finds every edge)", f"{rerun.edges:,} edges + {rerun.nodes:,} nodes",
         f"{rerun_s:.1f}", f"{rerun_rate:,.0f}"),
        ("bulk: CSV write + neo4j-admin import", f"{bulk_edges:,} edges", f"{csv_s + import_s:.1f}", f"{bulk_rate:,.0f}"),
        ("  of which neo4j-admin import only", "", f"{import_s:.1f}", f"{import_rate:,.0f}"),
        ("  + reading sources, restart, constraints", "", f"{bulk_total_s:.1f} total", f"{bulk_edges / bulk_total_s:,.0f}"),
        ("online writer on the 20k subset", f"{sub_online.edges:,} edges", "", f"{sub_online_rate:,.0f}"),
        (f"row-by-row: {baseline_kind}", f"{rowwise_count:,} edges", "", f"{rowwise_rate:,.0f}"),
    ]
    print(f"\n{'path':<76} {'data':<30} {'seconds':>12} {'rels/s':>10}")
    for r in rows:
        print(f"{r[0]:<76} {r[1]:<30} {r[2]:>12} {r[3]:>10}")
    print(f"\nonline vs row-by-row (same 20k subset): {sub_online_rate / rowwise_rate:,.1f}x; "
          f"online (full) vs row-by-row: {online_rate / rowwise_rate:,.1f}x; bulk vs online: {bulk_rate / online_rate:,.1f}x")
    print(f"peak RSS of this Python process: {peak_rss_mb():,.0f} MB (after online: {rss_online:,.0f} MB, "
          f"after bulk aggregation: {rss_bulk:,.0f} MB)")
    result = {
        "online_rels_per_s": round(online_rate),
        "online_cold_rels_per_s": round(cold_rate),
        "online_rerun_rels_per_s": round(rerun_rate),
        "adapter_edges_per_s": round(adapter_rate),
        "bulk_rels_per_s": round(bulk_rate),
        "bulk_import_only_rels_per_s": round(import_rate),
        "bulk_end_to_end_s": round(bulk_total_s, 1),
        "rowwise_rels_per_s": round(rowwise_rate, 1),
        "online_subset_rels_per_s": round(sub_online_rate),
        "online_vs_rowwise": round(sub_online_rate / rowwise_rate, 1),
        "online_full_vs_rowwise": round(online_rate / rowwise_rate, 1),
        "bulk_vs_online": round(bulk_rate / online_rate, 2),
        "edges": online.edges,
        "nodes": online.nodes,
        "rowwise_baseline": baseline_kind,
        "peak_rss_mb": round(peak_rss_mb()),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
