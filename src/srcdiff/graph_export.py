"""graph_export: the history graph (versions, and the changes on each edge) as JSON, dot, GraphML.

Every string that came from the repository is passed through render.clean (or, inside the
JSON that GraphML attributes hold, written as \\uXXXX), so control characters never reach a
file format that cannot hold them (XML) or a terminal.
"""

from __future__ import annotations

import io
import json

import networkx as nx

from srcdiff.history import Change, History
from srcdiff.render import change_summary, change_text, clean, json_c1, mainline


def _change_json(ch: Change, a: str, b: str) -> dict:
    d = ch.to_json(a, b)
    d["text"] = clean(change_text(ch))  # the line the text outputs show
    return d


def to_json(history: History) -> dict:
    """``{"struct", "nodes": [...], "edges": [{"source", "target", "changes": [...]}]}``."""
    nodes = []
    for v in history.ordered():
        n = history.node(v.tag)
        sdef = n["sdef"]
        nodes.append({
            "id": v.tag, "label": v.label, "commit": v.commit, "date": n.get("date"),
            "present": sdef is not None, "name": n["name"], "path": n["path"],
            "line": sdef.line if sdef else None,
            "fields": [f.to_json() for f in sdef.fields] if sdef else None,
            "notes": [_change_json(c, v.tag, v.tag) for c in n["notes"]],
        })
    edges = []
    for a, b in history.edges_in_order():
        chs = history.edge_changes(a, b)
        edges.append({"source": a, "target": b, "summary": change_summary(chs),
                      "changes": [_change_json(c, a, b) for c in chs]})
    return {"struct": history.name, "directed": True, "nodes": nodes, "edges": edges}


def primitive_graph(history: History) -> nx.DiGraph:
    """A copy of the history graph whose attributes are str/int/bool only (GraphML's types);
    changes and definitions become JSON or C text, None values are left out."""
    data = to_json(history)
    g = nx.DiGraph(struct=clean(history.name))
    for n in data["nodes"]:
        sdef = history.sdef(n["id"])
        attrs = {
            "label": clean(n["label"]), "commit": n["commit"], "present": n["present"],
            "name": clean(n["name"]), "path": clean(n["path"]), "line": n["line"],
            "date": clean(n["date"]),
            "definition": clean(sdef.render()) if sdef is not None else None,
            "members": len(sdef.flat_fields()) if sdef is not None else None,
            "notes": json_c1(json.dumps(n["notes"], ensure_ascii=False)) if n["notes"] else None,
        }
        g.add_node(n["id"], **{k: v for k, v in attrs.items() if v not in (None, "")})
    for e in data["edges"]:
        g.add_edge(e["source"], e["target"], n_changes=len(e["changes"]),
                   summary=clean(e["summary"]),
                   changes=json_c1(json.dumps(e["changes"], ensure_ascii=False)))
    return g


def to_graphml(history: History) -> str:
    """GraphML text (networkx.write_graphml on the primitive copy)."""
    buf = io.BytesIO()
    nx.write_graphml(primitive_graph(history), buf, encoding="utf-8")
    return buf.getvalue().decode("utf-8")


def _dot(s: object) -> str:
    """A dot double-quoted string."""
    text = clean(str(s)).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def to_dot(history: History) -> str:
    """Graphviz dot: a node per version (green present, grey absent), an edge per parent->child
    labelled with its change counts and carrying each change with its commit in the tooltip."""
    data = to_json(history)
    main = mainline(history)
    out = [f"digraph {_dot('struct ' + history.name)} {{", "  rankdir=LR;",
           '  node [shape=box, style="rounded,filled", fontname="sans-serif"];']
    for n in data["nodes"]:
        label = n["label"] + ("" if n["present"] else "\n(absent)")
        colour = "#c8e6c9" if n["present"] else "#eeeeee"
        out.append(f"  {_dot(n['id'])} [label={_dot(label)}, fillcolor={_dot(colour)}, "
                   f"tooltip={_dot((n['path'] or '') + ' ' + n['commit'][:12])}];")
    for e in data["edges"]:
        lines = [f"{c['text']}  ({c['commits'][-1]['commit'][:12]} {c['commits'][-1]['subject']})"
                 if c["commits"] else c["text"] for c in e["changes"]]
        style = "solid" if e["source"] in main and e["target"] in main else "dashed"
        out.append(f"  {_dot(e['source'])} -> {_dot(e['target'])} [label={_dot(e['summary'])}, "
                   f"style={style}, tooltip={_dot(chr(10).join(lines) or 'identical')}];")
    out.append("}")
    return "\n".join(out) + "\n"
