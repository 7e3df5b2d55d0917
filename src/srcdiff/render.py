"""render: text, Markdown and JSON views of a History (log, diff, blame, changelog, show).

Pure functions from built data to strings; anything that came from the repository is
escaped (control characters in text, Markdown specials in Markdown) before it is shown.
Each text and Markdown renderer passes its whole result through clean() once at the end,
so the pieces it is built from (change_text, commit_text, paths, names) may hold raw
control characters and need no escaping of their own.
"""

from __future__ import annotations

import re

from srcdiff.blame import BlameLine
from srcdiff.gitrepo import CommitInfo
from srcdiff.history import (
    ADDED,
    GUARD,
    MOVED,
    REMOVED,
    RENAMED,
    RETYPED,
    STRUCT_ADDED,
    STRUCT_REMOVED,
    Change,
    History,
)
from srcdiff.model import Field, StructDef
from srcdiff.plain import (  # noqa: F401  (re-exported: they live there)
    clean,
    dumps,
    json_c1,
    show_json,
    show_text,
)
from srcdiff.versions import Version


def md(text: str | None) -> str:
    """TEXT safe inside Markdown prose (not in a code span: use code() there)."""
    return re.sub(r"([\\`*_\[\]<|#])", r"\\\1", clean(text))


def short(c: CommitInfo) -> str:
    return c.sha[:12]


def mainline(history: History) -> set[str]:
    """The tags on the line of the version graph that leads to the newest version."""
    return set(history.versions.chain(history.ordered()[-1].tag))


def commit_line(c: CommitInfo) -> str:
    """``sha12 date author: headline``, and the commit it was cherry-picked from (raw: the
    caller escapes it)."""
    pick = f" [backport of {c.upstream[:12]}]" if c.upstream else ""
    return f"{short(c)} {c.date[:10]} {c.author}: {c.headline}{pick}"


def commit_text(ch: Change) -> str:
    """The commit of CH as one line, or why there is none (raw: the caller escapes it)."""
    if not ch.commits:
        return f"(unattributed: {ch.note})" if ch.note else "(unattributed)"
    return commit_line(ch.commits[-1])


def commit_url(template: str | None, sha: str) -> str | None:
    """TEMPLATE with ``{sha}`` replaced (plain replacement: other braces stay as they are)."""
    return template.replace("{sha}", sha) if template else None


def md_commit(ch: Change, template: str | None = None) -> str:
    """The commit of CH in Markdown: sha as code (a link when TEMPLATE is given), subject,
    author and date; or why there is none."""
    if not ch.commits:
        return "unattributed" + (f": {md(ch.note)}" if ch.note else "")
    c = ch.commits[-1]
    url = commit_url(template, c.sha)
    sha = f"[`{short(c)}`]({url})" if url else f"`{short(c)}`"
    return f"{sha} {md(c.headline)} ({md(c.author)}, {c.date[:10]})"


def change_summary(changes: list[Change]) -> str:
    """How many changes of each kind, in order of first appearance: ``3 added, 1 removed``
    ("" when there are none)."""
    counts: dict[str, int] = {}
    for ch in changes:
        counts[ch.kind] = counts.get(ch.kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def change_text(ch: Change) -> str:
    """One line describing CH without its commit (raw: the caller escapes it)."""
    if ch.kind == ADDED:
        return f"+ {_decl(ch.new)}"
    if ch.kind == REMOVED:
        return f"- {_decl(ch.old)}"
    if ch.kind == RETYPED:
        return f"~ {ch.field}: {_decl(ch.old)} -> {_decl(ch.new)}"
    if ch.kind == GUARD:
        return f"~ {ch.field}: guard {ch.old.guard or 'none'} -> {ch.new.guard or 'none'}"
    if ch.kind == RENAMED:
        return f"renamed {ch.old_name} -> {ch.new_name} ({ch.new_path})"
    if ch.kind == MOVED:
        return f"moved {ch.old_path} -> {ch.new_path}"
    if ch.kind == STRUCT_ADDED:
        return f"struct {ch.new_name} appears in {ch.new_path}"
    if ch.kind == STRUCT_REMOVED:
        return f"struct {ch.old_name} disappears from {ch.old_path}"
    return ch.kind


def _decl(f: Field | None) -> str:
    if f is None:
        return ""
    g = f"  [if {f.guard}]" if f.guard else ""
    return f"{f.decl}{g}"


# -- show -----------------------------------------------------------------------------


# show_json, show_text: in srcdiff.plain (re-exported above)


# -- log --------------------------------------------------------------------------------


def absent_note(history: History, tag: str) -> str:
    """Why the struct is absent at TAG, when a rename or move explains it."""
    before = history.node(tag).get("before")
    if before:
        return f"it is struct {before[0]} in {before[1]} here"
    for t in reversed(history.versions.chain(tag)):
        if history.sdef(t) is not None:
            return ""
        notes = history.node(t)["notes"]
        if notes:
            renames = [c for c in notes if c.kind == RENAMED]
            ch = renames[-1] if renames else notes[-1]
            # the subject is cleaned here too: the note is also part of the JSON outputs
            via = f" by {short(ch.commits[-1])} ({clean(ch.commits[-1].headline)})" if ch.commits else ""
            final = notes[-1].new_path
            if ch.kind == RENAMED:
                text = f"renamed to {ch.new_name}{via}, in {final}"
            else:
                text = f"moved to {final}{via}"
            return text if t == tag else f"{text} since {t}"
    return ""


def log_json(history: History) -> dict:
    versions = []
    for v in history.ordered():
        node = history.node(v.tag)
        sdef: StructDef | None = node["sdef"]
        versions.append({
            "tag": v.tag,
            "commit": v.commit,
            "parent": history.versions.parent(v.tag),
            "present": sdef is not None,
            "name": node["name"] if sdef is not None else None,
            "path": node["path"],
            "line": sdef.line if sdef else None,
            "fields": [f.to_json() for f in sdef.fields] if sdef else None,
            "note": absent_note(history, v.tag) or None if sdef is None else None,
        })
    changes = []
    for a, b in history.edges_in_order():
        for ch in history.edge_changes(a, b):
            changes.append(ch.to_json(a, b))
    return {"struct": history.name, "versions": versions, "changes": changes,
            "warnings": history.warnings}


def kind_word(history: History) -> str:
    """How text headers name what HISTORY follows: "enum" for an enum, else "struct"."""
    kinds = {s.kind for v in history.ordered() if (s := history.sdef(v.tag)) is not None}
    return "enum" if kinds == {"enum"} else "struct"


def log_text(history: History, definitions: bool = True) -> str:
    out: list[str] = [f"{kind_word(history)} {history.name}", ""]
    for v in history.ordered():
        node = history.node(v.tag)
        sdef = node["sdef"]
        if sdef is None:
            note = absent_note(history, v.tag)
            out.append(f"{v.tag}: absent" + (f" ({note})" if note else ""))
            continue
        n = len(sdef.flat_fields())
        head = f"{v.tag}: {node['name']} in {node['path']}:{sdef.line} ({n} members)"
        parent = history.versions.parent(v.tag)
        same = parent is not None and not history.edge_changes(parent, v.tag) and \
            history.sdef(parent) is not None
        if definitions and same:
            out.append(f"{head}, same as {parent}")  # spare the reader a repeated definition
            continue
        out.append(head)
        if definitions:  # cleaned before splitlines, which also splits at \x0b, \x1c, \x85...
            out.extend("    " + line for line in clean(sdef.render()).splitlines())
    out.append("")
    out.append("Changes")
    for a, b in history.edges_in_order():
        changes = history.edge_changes(a, b)
        if not changes:
            if history.sdef(a) is not None or history.sdef(b) is not None:
                out.append(f"{a} -> {b}: identical")
            continue
        out.append(f"{a} -> {b}:")
        for ch in changes:
            out.append(f"    {change_text(ch)}")
            out.append(f"        {commit_text(ch)}")
    return clean("\n".join(out))


# -- diff -------------------------------------------------------------------------------


def diff_json(name: str, a: str, b: str, changes: list[Change],
              backported: list[Change] = ()) -> dict:
    """The changes from A to B; "backported": members B has in common with A that came to B's
    line after the two lines parted (each commit with "upstream" where its original is known)."""
    return {"struct": name, "from": a, "to": b, "changes": [c.to_json(a, b) for c in changes],
            "backported": [c.to_json(a, b) for c in backported]}


def diff_text(name: str, a: str, b: str, changes: list[Change],
              backported: list[Change] = (), word: str = "struct") -> str:
    out = [f"{word} {name}: no changes between {a} and {b}" if not changes
           else f"{word} {name}: {a} -> {b}"]
    for ch in changes:
        out.append(f"{change_text(ch)}")
        out.append(f"    {commit_text(ch)}")
    if backported:
        out.append(f"in both, came to {b}'s line after it parted from {a}'s (backports):")
        for ch in backported:
            out.append(f"{change_text(ch)}")
            out.append(f"    {commit_text(ch)}")
    return clean("\n".join(out))


# -- since ------------------------------------------------------------------------------


def since_text(r) -> str:
    """`srcdiff since` as text: the first release and commit, where the member is absent, its
    changes and guards."""
    first = r.first
    head = f"{r.struct}.{r.field}: since {first.tag}" if first else f"{r.struct}.{r.field}"
    if first is not None and first.commit is not None:
        head += f" ({commit_line(first.commit)})"
    elif first is not None and first.note:
        head += f" ({first.note})"
    out = [head, f"present in {len(r.present)} of {len(r.present) + len(r.absent)} releases: "
           f"{_spans(r.present)}"]
    if r.absent:
        out.append(f"absent from: {_spans(r.absent)}")
    for c in r.changes:
        what = {"retyped": f"{c['old']} -> {c['new']}", "guard": f"{c['old']} -> {c['new']}",
                "renamed": f"{c['old']} -> {c['new']}"}.get(c["change"], "")
        who = f"{c['commit'][:12]} {c['subject']}" if c["commit"] else "(unattributed)"
        out.append(f"  {c['release']:<14} {c['change']:<8} {what + '  ' if what else ''}{who}")
    for guard in dict.fromkeys(r.guards.values()):
        tags = [t for t, g in r.guards.items() if g == guard]
        out.append(f"only under {guard}: {_spans(tags)}")
    return clean("\n".join(out))


def _spans(tags: list[str]) -> str:
    return ", ".join(tags) if len(tags) <= 8 else f"{', '.join(tags[:3])}, … {', '.join(tags[-3:])}"


# -- check ------------------------------------------------------------------------------


def check_text(results, tags: list[str]) -> str:
    """One block per dependency: where it holds, where not and why, and the commits that
    changed it; a last line counting the failures."""
    out = []
    for r in results:
        d = r.dep
        name = d.label
        name += f" ({d.type})" if d.type else ""
        name += " (existence probe)" if d.probe else ""
        failed = r.failed()
        out.append(f"{name}: {'holds in all' if not failed else f'fails in {len(failed)} of'} "
                   f"{len(tags)} releases")
        by_status: dict[str, list[str]] = {}
        for t, st in r.releases.items():
            by_status.setdefault(st, []).append(t)
        for st, ts in by_status.items():
            out.append(f"  {st:<10} {_spans(ts)}")
        for t, e in r.misreads().items():
            out.append(f"  {t:<10} {size_words(e)}")
        for c in r.changes:
            who = f"{c['commit'][:12]} {c['subject']}" if c["commit"] else "(unattributed)"
            what = f" {c['old']} -> {c['new']}" if c["change"] in ("retyped", "renamed", "guard") else ""
            out.append(f"  {c['release']:<10} {c['change']}{what}: {who}")
    bad = sum(1 for r in results if r.failed())
    out.append(f"{len(results) - bad} of {len(results)} dependencies hold in every release")
    return clean("\n".join(out))


def size_words(entry: dict) -> str:
    """A check result's "sizes" entry in words: ``the program reads int (4 bytes, signed);
    the release has long (8 bytes, signed)``."""
    def one(d: dict) -> str:
        parts = [f"{d['bits']}-bit bitfield" if d.get("bits") is not None
                 else f"{d['bytes']} bytes" if d["bytes"] is not None else "size unknown"]
        if d["signed"] is not None:
            parts.append("signed" if d["signed"] else "unsigned")
        return f"{d['type']} ({', '.join(parts)})"
    return f"the program reads {one(entry['program'])}; the release has {one(entry['release'])}"


_CHECK_MARKS = {"present": "✅", "absent": "❌ absent", "no-struct": "❌ no struct",
                "retyped": "⚠️ retyped", "config-off": "⚠️ config off"}


def check_md(results, tags: list[str]) -> str:
    """The dependency × release matrix as a Markdown table (DepSurf's figure, from source),
    then the commits that changed what fails somewhere."""
    head = "| dependency | kinds | " + " | ".join(md(t) for t in tags) + " |"
    out = ["# srcdiff check", "", head, "|" + "---|" * (len(tags) + 2)]
    for r in results:
        d = r.dep
        name = d.label
        name += " (probe)" if d.probe else ""
        cells = [_CHECK_MARKS.get(r.releases[t], r.releases[t]) for t in tags]
        out.append(f"| `{name}` | {', '.join(d.kinds)} | " + " | ".join(cells) + " |")
    misread = [(r, t, e) for r in results for t, e in r.misreads().items()]
    if misread:
        out += ["", "## What the program reads"]
        out += [f"- `{r.dep.struct}.{r.dep.field}` at {md(t)}: {md(size_words(e))}"
                for r, t, e in misread]
    changed = [r for r in results if r.failed() and r.changes]
    if changed:
        out += ["", "## What changed"]
        for r in changed:
            for c in r.changes:
                who = f"{c['commit'][:12]} {md(c['subject'] or '')}" if c["commit"] else "unattributed"
                out.append(f"- `{r.dep.label}` {c['change']} in "
                           f"{md(c['release'])}: {who}")
    return clean("\n".join(out))


# -- blame ------------------------------------------------------------------------------


def blame_json(name: str, tag: str, lines: list[BlameLine], name_at: str | None = None,
               path: str | None = None) -> dict:
    """Blame as JSON: key "struct" is the name asked for; "name" and "path" are the
    definition's at TAG (with --follow, the name it was renamed to)."""
    return {"struct": name, "at": tag, "name": name_at or name, "path": path,
            "fields": [ln.to_json() for ln in lines]}


def blame_text(name: str, tag: str, lines: list[BlameLine], name_at: str | None = None,
               path: str | None = None, word: str = "struct") -> str:
    rows = []
    for ln in lines:
        c = ln.introduced.commit
        decl = clean(_decl(ln.field))  # cleaned here: the column is as wide as what is shown
        note = ln.introduced.note
        who = (commit_line(c) + (f" ({note})" if note else "")) if c else f"(unattributed: {note})"
        gone = ""
        if ln.removed is not None:
            rc = ln.removed.commit
            gone = f"  removed in {ln.removed.tag}" + (f" by {short(rc)}" if rc else "")
        rows.append((decl, ln.introduced.tag, who + gone))
    w0 = min(max((len(r[0]) for r in rows), default=0), 48)
    w1 = max((len(r[1]) for r in rows), default=0)
    head = f"{word} {name_at or name} at {tag}" + (f" ({path})" if path else "")
    if name_at and name_at != name:
        head += f", followed from {word} {name}"
    out = [head]
    out += [f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}" for r in rows]
    return clean("\n".join(out))


# -- changelog --------------------------------------------------------------------------


def version_range(history: History, since: str | None = None, until: str | None = None
                  ) -> list[Version]:
    """The examined versions from SINCE to UNTIL (either end open when None), oldest first."""
    order = [v.tag for v in history.ordered()]
    lo = order.index(since) if since in order else 0
    hi = order.index(until) if until in order else len(order) - 1
    return history.ordered()[lo : hi + 1]


def changelog_md(history: History, since: str | None = None, until: str | None = None) -> str:
    out = [f"# Changelog of struct {code(history.name)}", ""]
    for v in reversed(version_range(history, since, until)):
        parent = history.versions.parent(v.tag)
        node = history.node(v.tag)
        date = f" ({node['date'][:10]})" if node.get("date") else ""
        changes = history.edge_changes(parent, v.tag) if parent else []
        present = node["sdef"] is not None
        why = "" if present else absent_note(history, v.tag)
        if parent is None:
            summary = "first version examined" + ("" if present else "; struct absent")
        elif not changes:
            summary = "no changes" if present else "absent"
        else:
            summary = change_summary(changes) + ("; struct absent" if why else "")
        if why:  # one absence phrase, with its reason
            summary += f": {why}"
        out.append(f"## {md(v.tag)}{date}")
        out.append("")
        out.append(f"_{md(summary)}_" + (f" (since {md(parent)})" if parent else ""))
        if changes:
            out.append("")
            for ch in changes:
                out.append(f"- {_md_change(ch)} — {md_commit(ch)}")
        out.append("")
    return clean("\n".join(out).rstrip() + "\n")


def code(text: str | None) -> str:
    """TEXT as inline Markdown code, whatever backticks it holds (shown as it is: no
    Markdown escapes apply inside a code span)."""
    t = clean(text)
    fence = "``" if "`" in t else "`"
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def _md_change(ch: Change) -> str:
    if ch.kind == ADDED:
        return f"Added {code(ch.new.decl)}" + (f" (if {code(ch.new.guard)})" if ch.new.guard else "")
    if ch.kind == REMOVED:
        return f"Removed {code(ch.old.decl)}"
    if ch.kind == RETYPED:
        return f"Changed {code(ch.field)} from {code(ch.old.decl)} to {code(ch.new.decl)}"
    if ch.kind == GUARD:
        return (f"Guard of {code(ch.field)} now {code(ch.new.guard or 'none')}"
                f" (was {code(ch.old.guard or 'none')})")
    if ch.kind == RENAMED:
        return f"renamed {md(ch.old_name)} → {md(ch.new_name)} ({md(ch.new_path)})"
    if ch.kind == MOVED:
        return f"moved {md(ch.old_path)} → {md(ch.new_path)}"
    return md(change_text(ch))
