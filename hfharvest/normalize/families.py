"""The report's lineage picture: the largest model families, drawn from the lineage_edges table.

A family is a weakly connected set of models linked by base-model edges. Each of the largest is
drawn in its own panel, generation by generation from its roots, edges coloured by relation.

At the Hub's scale a family has hundreds of thousands of models (a Llama base and everything
derived from it) and the table a million edges, so the families are found with a union-find
over the streamed edges (networkx holds only what is drawn), and a panel draws at most
`MAX_DRAWN` models: the roots with most children, then their descendants generation by
generation, its title the full count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from ..plot_cache import PlotCache, plot_key, reuse_or_draw
from ..report import pyplot

if TYPE_CHECKING:
    import networkx as nx

RELATION_COLOURS = {
    "finetune": "#4c72b0",
    "adapter": "#55a868",
    "quantized": "#c44e52",
    "merge": "#8172b2",
    "base_model": "#999999",
}
MAX_LABELLED = 40  # beyond this many models a panel names only its roots with most children
NAMED_ROOTS = 5
MAX_DRAWN = 300  # beyond this many models a panel shows its busiest roots' first generations
FAMILIES_CODE = ("normalize/families.py", "report.py")  # what draws the picture
Edge = tuple[str, str, str]  # parent, child, relation


def iter_edges(edges_path: str):
    """(parent, child, relation) of the table, batch by batch (only three columns are read)."""
    table = pq.ParquetFile(edges_path)
    for batch in table.iter_batches(columns=["child", "parent", "relation"]):
        columns = batch.to_pydict()
        yield from zip(columns["parent"], columns["child"], columns["relation"], strict=True)


def lineage_graph(edges_path: str) -> nx.DiGraph:
    """parent -> child edges with their relation: the whole graph, for small runs and tests."""
    return _graph(iter_edges(edges_path))


def _graph(edges) -> nx.DiGraph:
    import networkx as nx  # only to draw (a reused picture needs none of it)

    graph = nx.DiGraph()
    for parent, child, relation in edges:
        graph.add_edge(parent, child, relation=relation)
    return graph


class _Families:
    """Union-find over model ids (a dict per model, not a graph object per edge)."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def root(self, node: str) -> str:
        parent = self.parent.setdefault(node, node)
        while parent != node:  # path halving keeps the trees shallow
            self.parent[node] = self.parent[parent]
            node, parent = parent, self.parent[parent]
        return node

    def join(self, a: str, b: str) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class Family:
    drawn: nx.DiGraph  # the busiest roots and their first generations: at most MAX_DRAWN
    size: int  # models in the whole family


def largest_families(edges_path: str, count: int, max_drawn: int = MAX_DRAWN) -> list[Family]:
    """The `count` largest families, largest first (ties: by smallest model id)."""
    return [_family(size, edges, max_drawn) for size, edges in family_edges(edges_path, count)]


def family_edges(edges_path: str, count: int) -> list[tuple[int, list[Edge]]]:
    """(models, sorted edges) of the `count` largest families, largest first (ties: by smallest
    model id): what the picture is drawn from, the same whatever order the table lists them in
    (a warm run lists its changed models first)."""
    families = _Families()
    for parent, child, _ in iter_edges(edges_path):
        families.join(parent, child)
    members: dict[str, list[str]] = defaultdict(list)
    for node in families.parent:
        members[families.root(node)].append(node)
    ranked = sorted(members.values(), key=lambda nodes: (-len(nodes), min(nodes)))[:count]
    del members, families
    chosen = {node: index for index, nodes in enumerate(ranked) for node in nodes}
    edges: list[list[Edge]] = [[] for _ in ranked]
    for edge in iter_edges(edges_path):
        if (index := chosen.get(edge[0])) is not None:
            edges[index].append(edge)
    return [(len(nodes), sorted(found)) for nodes, found in zip(ranked, edges, strict=True)]


def _family(size: int, edges: list[Edge], max_drawn: int) -> Family:
    return Family(_around_busiest_roots(_graph(edges), max_drawn), size)


def _around_busiest_roots(family: nx.DiGraph, max_drawn: int) -> nx.DiGraph:
    """The family, or when it is larger than `max_drawn`: its roots with most children, then
    their children, generation by generation, up to `max_drawn` models."""
    if len(family) <= max_drawn:
        return family
    roots = [node for node in family if family.in_degree(node) == 0] or [min(family)]
    frontier = _busiest(family, roots)
    kept = dict.fromkeys(frontier)
    while frontier and len(kept) < max_drawn:
        following = []
        for node in frontier:
            for child in sorted(family.successors(node)):
                if child not in kept and len(kept) < max_drawn:
                    kept[child] = None
                    following.append(child)
        frontier = following
    # In the order kept, not a subgraph's: that one follows a set's, which differs from one
    # interpreter to the next (hash seeds), and so did the picture of the same families.
    drawn = type(family)()
    drawn.add_nodes_from(kept)
    drawn.add_edges_from(edge for edge in family.edges(kept, data=True) if edge[1] in kept)
    return drawn


def _layout(family: nx.DiGraph) -> dict:
    """Roots on the left, each generation one column to the right (spring layout for cycles)."""
    import networkx as nx

    if not nx.is_directed_acyclic_graph(family):
        return nx.spring_layout(family, seed=0)
    # Generations as lists: from a node attribute, networkx groups them in sets (hash order).
    generations = dict(enumerate(nx.topological_generations(family)))
    return nx.multipartite_layout(family, subset_key=generations)


def _label(model_id: str) -> str:
    return model_id if len(model_id) <= 44 else model_id[:42] + "…"


def _busiest(drawn: nx.DiGraph, roots: list[str]) -> list[str]:
    return sorted(roots, key=lambda root: (-drawn.out_degree(root), root))[:NAMED_ROOTS]


def _title(drawn: nx.DiGraph, roots: list[str], size: int) -> str:
    shown = "" if len(drawn) == size else f" ({len(drawn)} shown)"
    return f"{', '.join(sorted(roots)[:2])}: {size} models{shown}"


def plot_families(edges_path: str, path: str, count: int = 4,
                  cache: PlotCache | None = None) -> None:  # fmt: skip
    """The picture of the `count` largest families; reused from `cache` when it holds the
    picture of these families."""
    chosen = family_edges(edges_path, count)
    key = plot_key(FAMILIES_CODE, ["families", MAX_DRAWN, chosen])
    reuse_or_draw(cache, path, key, lambda: _draw(chosen, path))


def _draw(chosen: list[tuple[int, list[Edge]]], path: str) -> None:
    import networkx as nx

    plt = pyplot()
    families = [_family(size, edges, MAX_DRAWN) for size, edges in chosen]
    panels = max(len(families), 1)
    figure, axes = plt.subplots(panels, 1, figsize=(11, 3.2 * panels), squeeze=False)
    for axis, family in zip(axes[:, 0], families, strict=False):
        drawn = family.drawn
        position = _layout(drawn)
        colours = [RELATION_COLOURS.get(r, "#999999") for _, _, r in drawn.edges(data="relation")]
        nx.draw_networkx_edges(drawn, position, ax=axis, edge_color=colours, arrows=True)
        nx.draw_networkx_nodes(drawn, position, ax=axis, node_size=60, node_color="#dddddd")
        roots = [n for n in drawn if drawn.in_degree(n) == 0]
        shown = drawn.nodes if len(drawn) <= MAX_LABELLED else _busiest(drawn, roots)
        nx.draw_networkx_labels(drawn, position, {n: _label(n) for n in shown}, ax=axis,
                                font_size=7)  # fmt: skip
        axis.set_title(_title(drawn, roots, family.size), fontsize=9)
        axis.margins(x=0.25, y=0.15)
        axis.axis("off")
    if not families:
        axes[0, 0].text(0.5, 0.5, "no base-model links in this run", ha="center")
        axes[0, 0].axis("off")
    handles = [
        plt.Line2D([], [], color=colour, label=relation)
        for relation, colour in RELATION_COLOURS.items()
    ]
    figure.legend(handles=handles, loc="upper right", fontsize=8, title="relation")
    figure.suptitle("Largest model families (base model → derived model)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
