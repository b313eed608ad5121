"""The catalogue's views and the README's questions, in SQL that DuckDB and PostgreSQL both run.

One text for both databases, so they answer the same questions with the same rows.
"""

from __future__ import annotations

import re

# Lineage walks stop after this many generations: a cycle in the Hub's links cannot loop.
MAX_GENERATIONS = 32

VIEWS = {
    # Licences of a model as one sorted text (`Apache-2.0, MIT`), null when it names none.
    "model_licenses": """
        SELECT run_id, model_id, string_agg(id, ', ' ORDER BY id) AS licenses
        FROM model_entities WHERE kind = 'licenses'
        GROUP BY run_id, model_id""",
    # Every (ancestor, descendant) pair, the relation of the last link and the generations apart.
    "descendants": f"""
        WITH RECURSIVE walk (run_id, ancestor, parent, descendant, relation, generation) AS (
            SELECT run_id, parent, parent, child, relation, 1 FROM lineage_edges
            UNION ALL
            SELECT w.run_id, w.ancestor, e.parent, e.child, e.relation, w.generation + 1
            FROM walk w JOIN lineage_edges e
              ON e.run_id = w.run_id AND e.parent = w.descendant
            WHERE w.generation < {MAX_GENERATIONS}
        )
        SELECT w.run_id, w.ancestor, w.descendant, w.parent, w.relation, w.generation,
               l.licenses AS descendant_licenses
        FROM walk w LEFT JOIN model_licenses l
          ON l.run_id = w.run_id AND l.model_id = w.descendant""",
    # (model, dataset it was trained on, one of its licences).
    "model_datasets_licenses": """
        SELECT d.run_id, d.model_id, d.id AS dataset, l.id AS license
        FROM model_entities d JOIN model_entities l
          ON l.run_id = d.run_id AND l.model_id = d.model_id AND l.kind = 'licenses'
        WHERE d.kind = 'datasets'""",
    # Papers by how many models cite them (the Hub's own repository DOIs are not citations).
    "papers_cited_most": """
        SELECT me.run_id, me.id AS article, a.title, count(DISTINCT me.model_id) AS models
        FROM model_entities me LEFT JOIN entities_articles a
          ON a.run_id = me.run_id AND a.entity_id = me.entity_id
        WHERE me.kind = 'articles' AND me.id NOT LIKE 'doi:10.57967/hf/%'
        GROUP BY me.run_id, me.id, a.title""",
    # Lineage links whose two ends are both harvested and carry different licences.
    "license_changes": """
        SELECT e.run_id, e.parent, p.licenses AS parent_licenses, e.child,
               c.licenses AS child_licenses, e.relation
        FROM lineage_edges e
        JOIN models pm ON pm.run_id = e.run_id AND pm.model_id = e.parent
        LEFT JOIN model_licenses p ON p.run_id = e.run_id AND p.model_id = e.parent
        LEFT JOIN model_licenses c ON c.run_id = e.run_id AND c.model_id = e.child
        WHERE p.licenses IS DISTINCT FROM c.licenses""",
}

# The README's four questions; `%(name)s` parameters (DuckDB gets them as `$name`).
QUERIES = {
    "descendants": """
        SELECT descendant, parent, relation, generation, descendant_licenses
        FROM descendants WHERE run_id = %(run_id)s AND ancestor = %(model)s
        ORDER BY generation, descendant""",
    "trained_on_under_license": """
        SELECT model_id FROM model_datasets_licenses
        WHERE run_id = %(run_id)s AND dataset = %(dataset)s AND license = %(license)s
        ORDER BY model_id""",
    "papers_cited_most": """
        SELECT article, title, models FROM papers_cited_most WHERE run_id = %(run_id)s
        ORDER BY models DESC, article LIMIT %(limit)s""",
    "license_changes": """
        SELECT parent, parent_licenses, child, child_licenses, relation
        FROM license_changes WHERE run_id = %(run_id)s ORDER BY parent, child""",
}


def duckdb_sql(query: str) -> str:
    """`%(name)s` -> `$name`: DuckDB's named parameters."""
    return re.sub(r"%\((\w+)\)s", r"$\1", query)
