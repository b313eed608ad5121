"""The report's lineage picture: the largest model families, drawn from the lineage_edges table.

A family is a weakly connected set of models linked by base-model edges. Each of the largest is
drawn in its own panel, generation by generation from its roots, edges coloured by relation.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

RELATION_COLOURS = {
    "finetune": "#4c72b0",
    "adapter": "#55a868",
    "quantized": "#c44e52",
    "merge": "#8172b2",
    "base_model": "#999999",
}
MAX_LABELLED = 40  # beyond this many models a panel shows the roots' names only


def lineage_graph(edges_path: str) -> nx.DiGraph:
    """parent -> child edges with their relation (only three columns are read)."""
    table = pq.read_table(edges_path, columns=["child", "parent", "relation"])
    graph = nx.DiGraph()
    for batch in table.to_batches():
        for row in batch.to_pylist():
            graph.add_edge(row["parent"], row["child"], relation=row["relation"])
    return graph


def largest_families(graph: nx.DiGraph, count: int) -> list[nx.DiGraph]:
    components = sorted(
        nx.weakly_connected_components(graph), key=lambda nodes: (-len(nodes), min(nodes))
    )
    return [graph.subgraph(nodes).copy() for nodes in components[:count]]


def _layout(family: nx.DiGraph) -> dict:
    """Roots on the left, each generation one column to the right (spring layout for cycles)."""
    if not nx.is_directed_acyclic_graph(family):
        return nx.spring_layout(family, seed=0)
    for generation, nodes in enumerate(nx.topological_generations(family)):
        for node in nodes:
            family.nodes[node]["generation"] = generation
    return nx.multipartite_layout(family, subset_key="generation")


def _label(model_id: str) -> str:
    return model_id if len(model_id) <= 44 else model_id[:42] + "…"


def plot_families(edges_path: str, path: str, count: int = 4) -> None:
    families = largest_families(lineage_graph(edges_path), count)
    panels = max(len(families), 1)
    figure, axes = plt.subplots(panels, 1, figsize=(11, 3.2 * panels), squeeze=False)
    for axis, family in zip(axes[:, 0], families, strict=False):
        position = _layout(family)
        colours = [RELATION_COLOURS.get(r, "#999999") for _, _, r in family.edges(data="relation")]
        nx.draw_networkx_edges(family, position, ax=axis, edge_color=colours, arrows=True)
        nx.draw_networkx_nodes(family, position, ax=axis, node_size=60, node_color="#dddddd")
        roots = [n for n in family if family.in_degree(n) == 0]
        shown = family.nodes if len(family) <= MAX_LABELLED else roots
        nx.draw_networkx_labels(
            family, position, {n: _label(n) for n in shown}, ax=axis, font_size=7
        )
        axis.set_title(f"{', '.join(sorted(roots)[:2])}: {len(family)} models", fontsize=9)
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
