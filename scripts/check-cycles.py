#!/usr/bin/env python3
"""Fails when the modules under src/ import each other in a cycle.

The graph is at top-level-module granularity: src/<m>.rs and everything
under src/<m>/ is module <m>. An edge m -> n is a path into n written in m:
`crate::n...` (also inside `use crate::{n, ...}` groups) or a `super::`
path that climbs out of m to the crate root and names n. Comments, string
and character literals are skipped; inline `mod x { ... }` blocks (test
modules included) count for `super::`. src/lib.rs and src/main.rs only
declare and call modules and are left out.

Usage: python3 scripts/check-cycles.py [--graph] [SRC_DIR]
Exit status 0 when there is no cycle, 1 when there is one (each printed as
`a -> b -> a` with the files that make each edge).
"""

import os
import re
import sys

# Edges (file, target module) left out of the check. Nothing else belongs
# here: break a cycle by moving code down, not by listing it.
ALLOWED = {
    # `listen` is a command living in src/sink/ (it takes cli::ListenArgs);
    # w13out moves it to src/cmd/listen.rs, and then this entry goes.
    ("src/sink/listen.rs", "cli"),
}

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def strip(text):
    """Returns `text` with comments, string and char literals blanked out
    (newlines kept, so line numbers stay)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * text.count("\n", i, j))
            i = j
            continue
        m = re.match(r'b?r(#*)"', text[i:i + 260])
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = '"' + m.group(1)
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(" " + "\n" * text.count("\n", i, j))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(" " + "\n" * text.count("\n", i, j))
            i = j + 1
            continue
        if c == "'":
            # A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12])
            if m:
                out.append(" ")
                i += m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def module_path(rel):
    """Module path of a file under src/: src/a/b.rs -> [a, b]."""
    parts = rel.split("/")[1:]
    parts[-1] = parts[-1][:-3]
    if parts[-1] == "mod":
        parts.pop()
    return parts


def group_heads(code, start):
    """Heads of the items of a `{...}` group starting at code[start] == '{'."""
    heads, depth, expect, i = [], 0, True, start
    while i < len(code):
        c = code[i]
        if c == "{":
            depth += 1
            if depth == 1:
                expect = True
        elif c == "}":
            depth -= 1
            if depth == 0:
                break
        elif c == "," and depth == 1:
            expect = True
        elif depth == 1 and expect:
            m = IDENT.match(code, i)
            if m:
                heads.append(m.group(0))
                expect = False
                i = m.end()
                continue
        i += 1
    return heads


def edges_of(rel, text):
    """(target module, line) for each path in the file that leaves its
    top-level module."""
    code = strip(text)
    base = module_path(rel)
    found = []
    # Inline modules: (name, brace depth at which its block opened).
    inline, depth = [], 0
    tokens = re.finditer(
        r"\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{|[{}]|(?<![$\w])crate\s*::\s*|(?<![$\w:])((?:super\s*::\s*)+)",
        code,
    )
    for m in tokens:
        line = code.count("\n", 0, m.start()) + 1
        tok = m.group(0)
        if m.group(1):
            depth += 1
            inline.append((m.group(1), depth))
            continue
        if tok == "{":
            depth += 1
            continue
        if tok == "}":
            if inline and inline[-1][1] == depth:
                inline.pop()
            depth -= 1
            continue
        here = base + [name for name, _ in inline]
        if m.group(2):
            ups = m.group(2).count("super")
            if ups < len(here):
                continue  # stays inside the top-level module
            if ups > len(here):
                print(f"{rel}:{line}: super:: climbs above the crate root", file=sys.stderr)
                continue
        rest = m.end()
        if code[rest:rest + 1] == "{":
            heads = group_heads(code, rest)
        else:
            h = IDENT.match(code, rest)
            heads = [h.group(0)] if h else []
        for head in heads:
            if head not in ("self", "super", "crate") and head != base[0]:
                found.append((head, line))
    return found


def graph(src):
    """{module: {target: [(file, line), ...]}} for the modules under src."""
    root = os.path.dirname(os.path.abspath(src))
    modules = set()
    for entry in os.listdir(src):
        p = os.path.join(src, entry)
        if entry.endswith(".rs") and entry not in ("lib.rs", "main.rs"):
            modules.add(entry[:-3])
        elif os.path.isdir(p):
            modules.add(entry)
    g = {m: {} for m in modules}
    for dirpath, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            mod = module_path(rel)
            if not mod or mod[0] not in modules:
                continue  # lib.rs, main.rs
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            for target, line in edges_of(rel, text):
                if target not in modules or (rel, target) in ALLOWED:
                    continue
                g[mod[0]].setdefault(target, []).append((rel, line))
    return g


def cycles(g):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def a_cycle(g, comp):
    """One cycle through the first module of a component, as a path."""
    start, members = comp[0], set(comp)
    prev, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(g[v]):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return comp + [start]


def self_test():
    """The checker on a small tree it must get right, so that a parser
    gone blind cannot pass the real tree by finding no edges."""
    import tempfile

    files = {
        "a.rs": 'use crate::b::Thing;\n// crate::d::Commented\nconst S: &str = "crate::d";\n'
        "mod tests {\n    use super::*;\n    use super::super::c::X;\n}\n",
        "b/mod.rs": "mod inner;\npub(crate) fn f() {}\n",
        "b/inner.rs": "use super::super::d::Y;\nuse crate::{b::f, c};\nfn g<'a>(x: &'a str) -> char { '{' }\n",
        "c.rs": "use crate::a::Z;\n",
        "d.rs": "use crate::b;\n",
        "lib.rs": "pub mod a;\npub mod b;\npub mod c;\npub mod d;\n",
    }
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        for rel, text in files.items():
            path = os.path.join(src, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        g = {m: sorted(t) for m, t in graph(src).items()}
    want = {"a": ["b", "c"], "b": ["c", "d"], "c": ["a"], "d": ["b"]}
    if g != want:
        sys.exit(f"check-cycles: self-test failed: graph {g}, expected {want}")
    if sorted(map(sorted, cycles(graph_for_test(want)))) != [["a", "b", "c", "d"]]:
        sys.exit("check-cycles: self-test failed: cycle not found")


def graph_for_test(edges):
    return {m: {t: [] for t in ts} for m, ts in edges.items()}


def main(argv):
    self_test()
    show = "--graph" in argv
    args = [a for a in argv if a != "--graph"]
    src = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    g = graph(src)
    root = os.path.dirname(os.path.abspath(src))
    for rel, target in sorted(ALLOWED):
        path = os.path.join(root, rel)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                if any(t == target for t, _ in edges_of(rel, fh.read())):
                    continue
        print(f"check-cycles: allowed edge {rel} -> {target} is gone: remove it from ALLOWED")
    if show:
        for m in sorted(g):
            print(f"{m} -> {', '.join(sorted(g[m])) or '(nothing)'}")
    found = cycles(g)
    for comp in found:
        path = a_cycle(g, comp)
        print("import cycle: " + " -> ".join(path))
        for a, b in zip(path, path[1:]):
            where = ", ".join(f"{f}:{l}" for f, l in g[a][b][:3])
            more = len(g[a][b]) - 3
            print(f"  {a} -> {b}: {where}{f' (+{more} more)' if more > 0 else ''}")
    if found:
        return 1
    print(f"check-cycles: {len(g)} modules under {os.path.relpath(src)}, no import cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
