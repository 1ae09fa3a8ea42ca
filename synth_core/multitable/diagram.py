"""The relationship diagram: Graphviz DOT text drawn from related tables' metadata."""

from __future__ import annotations

from synth_core.multitable.metadata import MultiTableMetadata


def relationship_diagram(metadata: MultiTableMetadata) -> str:
    """Graphviz DOT text: a box per table listing its keys, an arrow child → parent per link."""
    lines = [
        "digraph relationships {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="#f5f7fb", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for table in metadata.table_names:
        label = [table]
        key = metadata.primary_key(table)
        if key:
            label.append(f"key: {key}")
        for rel in metadata.relationships:
            if rel.child_table == table:
                label.append(f"{rel.child_key} → {rel.parent_table}")
        lines.append(f"  {_dot_id(table)} [label={_dot_text(chr(10).join(label))}];")
    for rel in metadata.relationships:
        edge = (
            rel.child_key
            if rel.child_key == rel.parent_key
            else f"{rel.child_key} → {rel.parent_key}"
        )
        lines.append(
            f"  {_dot_id(rel.child_table)} -> {_dot_id(rel.parent_table)} [label={_dot_text(edge)}];"
        )
    lines.append("}")
    return "\n".join(lines)


def _dot_text(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _dot_id(name: str) -> str:
    return _dot_text(name)
