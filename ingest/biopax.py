"""BioPAX Level 3 (RDF/XML) reader: pathways, reactions and their participants as graph records.

Source-agnostic: Reactome and Pathway Commons exports both work. What is read and how it maps:

  Pathway                      -> Pathway node; pathwayComponent / pathwayOrder.stepProcess
                                  -> (sub-pathway | reaction)-[:PART_OF]->(pathway)
  Conversion family, TemplateReaction
                               -> Reaction node; left/right -> HAS_INPUT / HAS_OUTPUT (swapped for
                                  RIGHT_TO_LEFT), TemplateReaction template/product likewise
  Protein (ProteinReference with a UniProt id)
                               -> UniProtKB: Protein node (+ GENE_PRODUCT_OF -> Gene via HGNC)
  SmallMolecule (SmallMoleculeReference with a ChEBI id)
                               -> CHEBI: SmallMolecule node
  Complex                      -> Complex node; component -> (component)-[:PART_OF]->(complex)
  anything else physical       -> PhysicalEntity node (RNA, DNA, unmapped proteins, generic sets)
  Catalysis                    -> (controller)-[:CATALYZES]->(reaction)
  Control / Modulation / TemplateReactionRegulation with controlType ACTIVATION* / INHIBITION*
                               -> (controller)-[:REGULATES {direction, control_type}]->(target)

BioPAX describes physical *states* (p-S463-SMAD1 in the nucleus); the graph keeps one node per
molecule (UniProt / ChEBI), so the state names and compartments travel on the participant edge
(`participant_names`, `cellular_locations`). Generic sets ("SMAD1/5/8", memberPhysicalEntity)
get their own node, and each member also gets the edge, marked with `via_generic` -- otherwise
a target protein that Reactome only lists inside a set would never reach the reaction.

Node ids: a Reactome stable id (R-HSA-..., or the pre-2015 REACT_...) from a unification xref or
an identifiers.org URI becomes `REACT:<id>`; failing that, `PATHWAYCOMMONS:<local part of the
RDF URI>` (unique within one exporter's URI space only).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.sax import SAXParseException, handler as sax_handler, make_parser
from xml.sax.xmlreader import AttributesNSImpl

from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.exceptions import ParserError
from rdflib.namespace import is_ncname
from rdflib.parser import create_input_source
from rdflib.plugins.parsers.rdfxml import ErrorHandler, RDFXMLHandler

from targetkg.graph.schema import load_schema

from .identifiers import GeneRecord, GeneVocabulary
from .model import BadLines, Edge, InputError, Node, Provenance, Record

BP = Namespace("http://www.biopax.org/release/biopax-level3.owl#")
_RDF_NS = str(RDF)

CONVERSIONS = frozenset(
    {
        "Conversion",
        "BiochemicalReaction",
        "ComplexAssembly",
        "Transport",
        "TransportWithBiochemicalReaction",
        "Degradation",
    }
)
REACTIONS = CONVERSIONS | {"TemplateReaction"}
CONTROLS = frozenset({"Control", "Catalysis", "Modulation", "TemplateReactionRegulation"})
PHYSICAL_ENTITIES = frozenset(
    {"PhysicalEntity", "Protein", "SmallMolecule", "Complex", "Dna", "Rna", "DnaRegion", "RnaRegion"}
)

REACTOME_STABLE_ID = re.compile(r"^(R-[A-Z]{3}-\d+|REACT_\d+)$")
# identifiers.org/reactome/REACT_12069.2, identifiers.org/reactome/R-HSA-201451, urn:miriam:reactome:...
_REACTOME_URI = re.compile(r"(?:identifiers\.org/reactome/|urn:miriam:reactome:)(R-[A-Z]{3}-\d+|REACT_\d+)(?:\.\d+)?$")
_UNIPROT_ACC = re.compile(r"^([OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2})(-\d+)?$")
_UNIPROT_URI = re.compile(r"(?:identifiers\.org/uniprot/|urn:miriam:uniprot:)([A-Z0-9]+(?:-\d+)?)$")
_CHEBI_URI = re.compile(r"(?:identifiers\.org/chebi/|urn:miriam:chebi:)(?:CHEBI:|CHEBI%3A)?(\d+)$", re.IGNORECASE)
_UNIPROT_DBS = frozenset(
    {"uniprot", "uniprot knowledgebase", "uniprotkb", "swiss-prot", "uniprotkb/swiss-prot", "uniprot/swiss-prot"}
)
_PARSER_POSITION = re.compile(r":(\d+):(\d+): (.*)$", re.DOTALL)
# Pathway Commons lists SMILES strings among a molecule's names; they are not synonyms.
_SMILES = re.compile(r"^(?=\S*[=@\[])\S{8,}$")


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


class _LenientRDFXMLHandler(RDFXMLHandler):
    """rdflib's RDF/XML handler, accepting rdf:ID values that are not XML NCNames.

    Pathway Commons writes ids like rdf:ID="RelationshipXref_ncbi+gene_91851", which rdflib
    rejects. On a node element rdf:ID="x" means exactly rdf:about="#x" (same URI), so we
    rewrite it; every other check of the parser stays in force.
    """

    def node_element_start(self, name, qname, attrs) -> None:  # type: ignore[override]
        rdf_id = attrs.get((_RDF_NS, "ID"))
        if rdf_id is not None and not is_ncname(rdf_id):
            values = {k: v for k, v in attrs.items() if k != (_RDF_NS, "ID")}
            qnames = {k: attrs.getQNameByName(k) for k in values}
            values[(_RDF_NS, "about")] = "#" + rdf_id
            qnames[(_RDF_NS, "about")] = "rdf:about"
            attrs = AttributesNSImpl(values, qnames)
        super().node_element_start(name, qname, attrs)


def load_biopax(path: Path) -> Graph:
    """Parse one BioPAX RDF/XML file (optionally .gz) into an rdflib Graph.

    Raises InputError naming the file and, when the parser knows it, the line.
    """
    graph = Graph()
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as fh:
            source = create_input_source(file=fh, publicID=path.resolve().as_uri(), format="xml")
            reader = make_parser()
            reader.setFeature(sax_handler.feature_namespaces, 1)
            content = _LenientRDFXMLHandler(graph)
            content.setDocumentLocator(source)  # rdflib does the same: base URI until expat takes over
            reader.setContentHandler(content)
            reader.setErrorHandler(ErrorHandler())
            reader.parse(source)
    except SAXParseException as exc:
        raise InputError(path, exc.getLineNumber(), None, f"not BioPAX/RDF: {exc.getMessage()}") from exc
    except ParserError as exc:
        m = _PARSER_POSITION.search(str(exc))
        line, message = (int(m.group(1)), m.group(3)) if m else (None, str(exc))
        raise InputError(path, line, None, f"not BioPAX/RDF: {message}") from exc
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(path, None, None, f"not BioPAX/RDF: truncated or corrupt gzip ({exc})") from exc
    if not any(str(t).startswith(str(BP)) for t in graph.objects(None, RDF.type)):
        raise InputError(path, None, None, f"not BioPAX/RDF: no BioPAX Level 3 classes ({BP}) in the file")
    return graph


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


def gene_node(record: GeneRecord) -> Node:
    """The Gene node for an HGNC record (used by every adapter that maps to genes)."""
    return Node(
        id=record.curie,
        label="Gene",
        name=record.symbol,
        synonyms=tuple(dict.fromkeys(record.aliases + record.previous)),
        xrefs=record.xrefs,
        props={"full_name": record.name, "locus_type": record.locus_type},
    )


def _local_part(uri: str) -> str:
    """The last segment of a URI, made safe for a CURIE local id."""
    tail = re.split(r"[#/:]", uri.rstrip("/#"))[-1]
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", unquote(tail)) or "_"


@dataclass(frozen=True, slots=True)
class _Ref:
    """A BioPAX element as it appears in the graph."""

    id: str
    label: str


# --------------------------------------------------------------------------------------
# One file -> nodes + edges
# --------------------------------------------------------------------------------------


class _FileConverter:
    """Maps one parsed BioPAX graph to Node/Edge records (nodes and edges deduplicated)."""

    def __init__(self, graph: Graph, path: Path, genes: GeneVocabulary | None, stats: Counter):
        self.g = graph
        self.source_file = path.name
        self.genes = genes
        self.stats = stats
        self.schema = load_schema()
        self.nodes: dict[str, Node] = {}
        self.edges: dict[tuple, Edge] = {}
        self._cls: dict[URIRef, str] = {}
        for s, t in graph.subject_objects(RDF.type):
            if isinstance(t, URIRef) and str(t).startswith(str(BP)):
                self._cls[s] = str(t)[len(str(BP)) :]
        self._mapped: dict[URIRef, _Ref | None] = {}

    # --- small RDF accessors --------------------------------------------------------
    def cls(self, uri) -> str | None:
        return self._cls.get(uri)

    def values(self, uri, prop: str) -> list[str]:
        return [str(v) for v in self.g.objects(uri, BP[prop])]

    def value(self, uri, prop: str) -> str | None:
        v = self.g.value(uri, BP[prop])
        return None if v is None else str(v)

    def refs(self, uri, prop: str) -> list[URIRef]:
        return sorted(self.g.objects(uri, BP[prop]))  # sorted: output order must not depend on hashing

    def xrefs(self, uri, kind: str) -> list[tuple[str, str]]:
        """(db lower-cased, id) of the xrefs of one class (UnificationXref, PublicationXref...)."""
        out = []
        for x in self.g.objects(uri, BP.xref):
            if self._cls.get(x) == kind:
                db, xid = self.value(x, "db"), self.value(x, "id")
                if db and xid:
                    out.append((db.strip().lower(), xid.strip()))
        return sorted(out)

    def pmids(self, uri) -> tuple[str, ...]:
        return tuple(
            sorted({f"PMID:{i}" for db, i in self.xrefs(uri, "PublicationXref") if db == "pubmed" and i.isdigit()})
        )

    def names(self, uri, prefer_standard: bool = False) -> tuple[str | None, tuple[str, ...]]:
        display, standard = self.value(uri, "displayName"), self.value(uri, "standardName")
        others = [n for n in self.values(uri, "name") if not _SMILES.match(n)]
        ordered = [standard, display] if prefer_standard else [display, standard]
        candidates = [n for n in ordered + sorted(others) if n]
        if not candidates:
            return None, ()
        name = candidates[0]
        return name, tuple(dict.fromkeys(n for n in candidates[1:] if n != name))

    def go_xrefs(self, uri) -> tuple[str, ...]:
        ids = {
            i
            for kind in ("UnificationXref", "RelationshipXref")
            for db, i in self.xrefs(uri, kind)
            if db in ("gene ontology", "go")
        }
        return tuple(sorted(i if i.startswith("GO:") else f"GO:{i}" for i in ids))

    def location(self, uri) -> str | None:
        loc = self.g.value(uri, BP.cellularLocation)
        return None if loc is None else (self.value(loc, "term") or None)

    # --- ids --------------------------------------------------------------------------
    def reactome_id(self, uri) -> str | None:
        stable = [i for db, i in self.xrefs(uri, "UnificationXref") if "reactome" in db and REACTOME_STABLE_ID.match(i)]
        if stable:
            # Current R-HSA ids win over the legacy REACT_ ones when an export carries both.
            return sorted(stable, key=lambda i: (not i.startswith("R-"), i))[0]
        m = _REACTOME_URI.search(str(uri))
        return m.group(1) if m else None

    def entity_id(self, uri) -> str:
        rid = self.reactome_id(uri)
        return f"REACT:{rid}" if rid else f"PATHWAYCOMMONS:{_local_part(str(uri))}"

    def uniprot_accession(self, ref) -> tuple[str | None, tuple[str, ...]]:
        """Primary UniProt accession of a ProteinReference, plus the other unification accessions."""
        accs = sorted(
            {i for db, i in self.xrefs(ref, "UnificationXref") if db in _UNIPROT_DBS and _UNIPROT_ACC.match(i)}
        )
        m = _UNIPROT_URI.search(str(ref))
        primary = m.group(1) if m and _UNIPROT_ACC.match(m.group(1)) else None
        if primary is None and accs:
            # Several unification accessions = primary + secondary ones; HGNC lists primaries.
            known = [a for a in accs if self.genes and self.genes.by_uniprot(a)]
            primary = (known or accs)[0]
        return primary, tuple(a for a in accs if a != primary)

    def chebi_id(self, ref) -> tuple[str | None, tuple[str, ...]]:
        ids = sorted(
            {
                i.split(":")[-1]
                for db, i in self.xrefs(ref, "UnificationXref")
                if db == "chebi" and i.split(":")[-1].isdigit()
            },
            key=int,
        )
        m = _CHEBI_URI.search(str(ref))
        primary = m.group(1) if m else (ids[0] if ids else None)
        return primary, tuple(f"CHEBI:{i}" for i in ids if i != primary)

    # --- records ----------------------------------------------------------------------
    def add_node(self, node: Node) -> _Ref:
        self.schema.node(node.label)
        known = self.nodes.get(node.id)
        if known is None:
            self.nodes[node.id] = node
        elif known.label != node.label:
            # Same id, different kind (e.g. a Reactome id reused): keep the first, note it.
            self.stats["node_label_conflicts"] += 1
        else:
            extra = [s for s in (node.name, *node.synonyms) if s and s != known.name and s not in known.synonyms]
            known.synonyms = known.synonyms + tuple(dict.fromkeys(extra))
        return _Ref(node.id, self.nodes[node.id].label)

    def add_edge(
        self, subject: _Ref, predicate: str, obj: _Ref, source_predicate: str, evidence=(), **props: Any
    ) -> None:
        try:
            self.schema.check_edge(subject.label, predicate, obj.label)
        except ValueError:
            self.stats[f"edges_not_in_schema:({subject.label})-[:{predicate}]->({obj.label})"] += 1
            return
        key = (subject.id, predicate, obj.id, props.get("direction", ""))
        props = {k: v for k, v in props.items() if v not in (None, [], ())}
        known = self.edges.get(key)
        if known is None:
            self.edges[key] = Edge(
                subject.id,
                subject.label,
                predicate,
                obj.id,
                obj.label,
                source_predicate,
                tuple(evidence),
                {"source_file": self.source_file, **props},
            )
            return
        # The same molecule in two states (or via two routes): one edge, union of the details.
        known.evidence = tuple(sorted(set(known.evidence) | set(evidence)))
        if source_predicate not in known.source_predicate.split("|"):
            known.source_predicate += "|" + source_predicate
        if "via_generic" not in props:
            known.props.pop("via_generic", None)  # also asserted directly: not only via a set
        for k, v in props.items():
            if k == "via_generic" and "via_generic" not in known.props:
                continue
            if isinstance(v, list):
                known.props[k] = list(dict.fromkeys([*known.props.get(k, []), *v]))
            else:
                known.props.setdefault(k, v)

    # --- physical entities ------------------------------------------------------------
    def entity(self, uri) -> _Ref | None:
        """Map a physical entity; None for things that are not physical entities.

        Memoised before components/members are visited, which also stops reference cycles.
        """
        if uri in self._mapped:
            return self._mapped[uri]
        cls = self.cls(uri)
        if cls not in PHYSICAL_ENTITIES:
            self.stats[f"participants_not_physical_entity:{cls}"] += 1
            return None
        members = self.refs(uri, "memberPhysicalEntity")
        ref: _Ref | None = None
        if cls == "Protein" and not members:
            ref = self.protein(uri)
        elif cls == "SmallMolecule" and not members:
            ref = self.small_molecule(uri)
        if ref is None:
            name, synonyms = self.names(uri)
            label = "Complex" if cls == "Complex" else "PhysicalEntity"
            props: dict[str, Any] = {"biopax_class": cls}
            if members:
                props["generic"] = True
            ref = self.add_node(Node(self.entity_id(uri), label, name, synonyms, self.go_xrefs(uri), props))
        self._mapped[uri] = ref
        if cls == "Complex":
            for comp in self.refs(uri, "component"):
                for element, part, via in self.expand(comp):
                    self.add_edge(
                        part,
                        "PART_OF",
                        ref,
                        "component",
                        via_generic=via,
                        participant_names=self.state_names(element, part),
                        cellular_locations=self.locations(element),
                    )
        if members:
            member_ids = [m.id for m in (self.entity(x) for x in members) if m is not None]
            node = self.nodes[ref.id]
            node.props["members"] = list(dict.fromkeys([*node.props.get("members", []), *member_ids]))
        return ref

    def protein(self, uri) -> _Ref | None:
        ref_uri = self.g.value(uri, BP.entityReference)
        acc, other = self.uniprot_accession(ref_uri) if ref_uri is not None else (None, ())
        if acc is None:
            self.stats["proteins_without_uniprot"] += 1
            return None
        # The reference names the molecule ("Chordin-like protein 1"); the entity names a state.
        name, synonyms = self.names(ref_uri, prefer_standard=True)
        name = name or self.value(uri, "displayName")
        record = self.genes.by_uniprot(acc) if self.genes else None
        if record and record.symbol != name:
            synonyms = tuple(dict.fromkeys((*synonyms, record.symbol)))
        protein = self.add_node(
            Node(f"UniProtKB:{acc}", "Protein", name, synonyms, tuple(f"UniProtKB:{a}" for a in other))
        )
        if record:
            gene = self.add_node(gene_node(record))
            self.add_edge(protein, "GENE_PRODUCT_OF", gene, "hgnc_uniprot_mapping", mapping_source="HGNC")
        return protein

    def small_molecule(self, uri) -> _Ref | None:
        ref_uri = self.g.value(uri, BP.entityReference)
        chebi, other = self.chebi_id(ref_uri) if ref_uri is not None else (None, ())
        if chebi is None:
            self.stats["small_molecules_without_chebi"] += 1
            return None
        name, synonyms = self.names(ref_uri)
        if not name:
            name, synonyms = self.names(uri)
        props = {"formula": f} if (f := self.value(ref_uri, "chemicalFormula")) else {}
        return self.add_node(Node(f"CHEBI:{chebi}", "SmallMolecule", name, synonyms, other, props))

    def expand(self, uri) -> list[tuple[URIRef, _Ref, str | None]]:
        """(element, node, set id): the entity itself, plus every (nested) member of a generic set."""
        ref = self.entity(uri)
        if ref is None:
            return []
        out: list[tuple[URIRef, _Ref, str | None]] = [(uri, ref, None)]
        todo, seen = list(self.refs(uri, "memberPhysicalEntity")), {uri}
        while todo:
            member = todo.pop(0)
            if member in seen:
                continue
            seen.add(member)
            mref = self.entity(member)
            if mref is not None:
                out.append((member, mref, ref.id))
            todo.extend(self.refs(member, "memberPhysicalEntity"))
        return out

    def state_names(self, uri, ref: _Ref) -> list[str]:
        name = self.value(uri, "displayName")
        return [name] if name and name != self.nodes[ref.id].name else []

    def locations(self, uri) -> list[str]:
        loc = self.location(uri)
        return [loc] if loc else []

    # --- processes --------------------------------------------------------------------
    def process(self, uri) -> _Ref | None:
        """A pathway or reaction node (memoised)."""
        if uri in self._mapped:
            return self._mapped[uri]
        cls = self.cls(uri)
        if cls == "Pathway":
            label = "Pathway"
        elif cls in REACTIONS:
            label = "Reaction"
        else:
            return None
        name, synonyms = self.names(uri)
        props: dict[str, Any] = {"biopax_class": cls}
        organism = self.g.value(uri, BP.organism)
        if cls == "Pathway" and organism is not None and (species := self.names(organism)[0]):
            props["species"] = species
        if direction := self.value(uri, "conversionDirection"):
            props["conversion_direction"] = direction
        ref = self.add_node(Node(self.entity_id(uri), label, name, synonyms, self.go_xrefs(uri), props))
        self._mapped[uri] = ref
        return ref

    def reaction_edges(self, uri) -> None:
        reaction = self.process(uri)
        cls = self.cls(uri)
        evidence = self.pmids(uri)
        if cls == "TemplateReaction":
            sides = [("template", "HAS_INPUT"), ("product", "HAS_OUTPUT")]
        elif (self.value(uri, "conversionDirection") or "").upper() == "RIGHT_TO_LEFT":
            sides = [("right", "HAS_INPUT"), ("left", "HAS_OUTPUT")]
        else:
            sides = [("left", "HAS_INPUT"), ("right", "HAS_OUTPUT")]
        reversible = (self.value(uri, "conversionDirection") or "").upper() == "REVERSIBLE" or None
        for prop, predicate in sides:
            for participant in self.refs(uri, prop):
                for element, ref, via in self.expand(participant):
                    self.add_edge(
                        reaction,
                        predicate,
                        ref,
                        prop,
                        evidence,
                        via_generic=via,
                        reversible=reversible,
                        participant_names=self.state_names(element, ref),
                        cellular_locations=self.locations(element),
                    )

    def pathway_edges(self, uri) -> None:
        pathway = self.process(uri)
        listed = self.refs(uri, "pathwayComponent")
        # pathwayOrder steps usually repeat the components; they add only what is not listed.
        steps = {s for step in self.refs(uri, "pathwayOrder") for s in self.refs(step, "stepProcess")} - set(listed)
        components = [(c, "pathwayComponent") for c in listed] + [(s, "stepProcess") for s in sorted(steps)]
        for comp, via in components:
            cls = self.cls(comp)
            if cls in CONTROLS:
                continue  # controls become CATALYZES / REGULATES edges, not pathway members
            child = self.process(comp)
            if child is None:
                self.stats[f"pathway_components_skipped:{cls}"] += 1
                continue
            self.add_edge(child, "PART_OF", pathway, via)

    def control_edges(self, uri) -> None:
        cls = self.cls(uri)
        control_type = (self.value(uri, "controlType") or "").upper()
        if cls == "Catalysis" and not control_type.startswith("INHIBITION"):
            predicate, direction = "CATALYZES", None
        elif control_type.startswith("ACTIVATION"):
            predicate, direction = "REGULATES", "positive"
        elif control_type.startswith("INHIBITION"):
            predicate, direction = "REGULATES", "negative"
        else:
            self.stats[f"controls_without_direction:{cls}"] += 1
            return
        targets: list[tuple[_Ref, str | None]] = []
        for controlled in self.refs(uri, "controlled"):
            ccls = self.cls(controlled)
            if ccls in CONTROLS:  # a Modulation of a Catalysis regulates the catalysed reaction
                targets += [(t, ccls) for inner in self.refs(controlled, "controlled") if (t := self.process(inner))]
            elif (t := self.process(controlled)) is not None:
                targets.append((t, None))
            else:
                self.stats[f"controlled_not_a_process:{ccls}"] += 1
        evidence = self.pmids(uri)
        for controller in self.refs(uri, "controller"):
            if self.cls(controller) == "Pathway":
                self.stats[f"controls_by_pathway:{cls}"] += 1  # schema has no pathway-as-regulator edge
                continue
            for element, source, via in self.expand(controller):
                for target, via_control in targets:
                    props: dict[str, Any] = {
                        "control_type": control_type or None,
                        "via_generic": via,
                        "participant_names": self.state_names(element, source),
                    }
                    if direction:
                        props.update(direction=direction, controlled_via=via_control)
                    self.add_edge(source, predicate, target, cls, evidence, **props)

    def convert(self) -> tuple[list[Node], list[Edge]]:
        by_class: dict[str, list[URIRef]] = {}
        for uri, cls in self._cls.items():
            by_class.setdefault(cls, []).append(uri)
        for cls in sorted(by_class):
            by_class[cls].sort()
        for cls in sorted(PHYSICAL_ENTITIES & by_class.keys()):
            for uri in by_class[cls]:
                self.entity(uri)  # entities outside any reaction still become nodes
        for uri in by_class.get("Pathway", []):
            self.pathway_edges(uri)
        for cls in sorted(REACTIONS & by_class.keys()):
            for uri in by_class[cls]:
                self.reaction_edges(uri)
        for cls in sorted(CONTROLS & by_class.keys()):
            for uri in by_class[cls]:
                self.control_edges(uri)
        for cls in sorted(by_class.keys() - PHYSICAL_ENTITIES - REACTIONS - CONTROLS - {"Pathway"}):
            if cls in ("MolecularInteraction", "GeneticInteraction", "Interaction"):
                self.stats[f"interactions_not_mapped:{cls}"] += len(by_class[cls])
        return list(self.nodes.values()), list(self.edges.values())


# --------------------------------------------------------------------------------------
# Adapter
# --------------------------------------------------------------------------------------


class BioPAXAdapter:
    """BioPAX Level 3 files of one source as a stream of nodes and edges.

    Nodes are yielded once per run (first file wins); edges are deduplicated on
    (subject, type, object[, direction]), merging evidence and state details.
    """

    name = "biopax"

    def __init__(
        self,
        files: Iterable[Path],
        infores: str,
        version: str,
        genes: GeneVocabulary | None = None,
        bad_lines: BadLines | None = None,
    ):
        self._files = [Path(f) for f in files]
        self.infores = infores
        self.version = version
        self.genes = genes
        self.bad_lines = bad_lines if bad_lines is not None else BadLines()
        self.stats: Counter[str] = Counter()

    def provenance(self) -> Provenance:
        return Provenance(infores=self.infores, version=self.version)

    def files(self) -> list[Path]:
        return list(self._files)

    def _converted(self, bad_lines: BadLines, stats: Counter) -> Iterator[tuple[list[Node], list[Edge]]]:
        for path in self._files:
            try:
                graph = load_biopax(path)
            except InputError as error:
                bad_lines.report(error)  # raises in strict mode
                continue
            yield _FileConverter(graph, path, self.genes, stats).convert()

    def records(self) -> Iterator[Record]:
        self.stats = Counter()
        seen_nodes: set[str] = set()
        seen_edges: set[tuple] = set()
        for nodes, edges in self._converted(self.bad_lines, self.stats):
            for node in nodes:
                if node.id not in seen_nodes:
                    seen_nodes.add(node.id)
                    yield node
            for edge in edges:
                key = edge_key(edge)
                if key not in seen_edges:
                    seen_edges.add(key)
                    yield edge

    def record_keys(self) -> tuple[dict[str, set[str]], dict[str, set[tuple]]]:
        """Distinct node ids per label and edge keys per type, as `records()` would yield them."""
        nodes: dict[str, set[str]] = {}
        edges: dict[str, set[tuple]] = {}
        for file_nodes, file_edges in self._converted(BadLines(skip=True), Counter()):
            for n in file_nodes:
                if not any(n.id in ids for ids in nodes.values()):
                    nodes.setdefault(n.label, set()).add(n.id)
            for e in file_edges:
                edges.setdefault(e.predicate, set()).add(edge_key(e))
        return nodes, edges

    def expected_counts(self) -> dict[str, int]:
        """Distinct records the files hold once mapped (BioPAX states no totals of its own).

        Gene nodes are left out: they come from the HGNC mapping, not from the source.
        """
        nodes, edges = self.record_keys()
        counts = {f"nodes:{label}": len(ids) for label, ids in sorted(nodes.items()) if label != "Gene"}
        counts.update({f"edges:{rel}": len(keys) for rel, keys in sorted(edges.items())})
        return counts


def edge_key(edge: Edge) -> tuple:
    """What makes two edges the same assertion (REGULATES keeps both directions apart)."""
    return (edge.subject, edge.predicate, edge.object, edge.props.get("direction", ""))
