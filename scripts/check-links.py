#!/usr/bin/env python3
"""Checks the relative links and #anchors of the project's Markdown files
(README.md, docs/*.md, the other READMEs; or the files given): every linked file must exist, and every #anchor must be
a heading of the target page (GitHub's slugs). External links (a scheme such
as https:) are not fetched. Exits 1 listing each broken link as FILE:LINE.
Usage: scripts/check-links.py [FILE.md ...]"""
import os
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
LINK = re.compile(r"!?\[(?:[^\]`]|`[^`]*`)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def text_lines(path):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield n, line


def anchors(path, cache={}):
    if path not in cache:
        seen, out = {}, set()
        for _, line in text_lines(path):
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                s = slug(m.group(1))
                k = seen.get(s, 0)
                seen[s] = k + 1
                out.add(s if k == 0 else f"{s}-{k}")
        cache[path] = out
    return cache[path]


def check(md):
    bad = []
    for n, line in text_lines(md):
        line = re.sub(r"`[^`]*`", "", line)  # links inside code spans are not links
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue
            file, _, frag = target.partition("#")
            dest = (md.parent / file).resolve() if file else md
            where = f"{md.relative_to(root)}:{n}: {target}"
            if not dest.exists():
                bad.append(f"{where}: no such file")
            elif frag and dest.suffix == ".md" and frag not in anchors(dest):
                bad.append(f"{where}: no heading #{frag} in {dest.relative_to(root)}")
    return bad


def markdown_files():
    """Every .md of the project, build outputs and vendored code left out."""
    skip = {"target", "vendor", ".cache", ".git", "out", "node_modules"}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        yield from (Path(dirpath) / f for f in filenames if f.endswith(".md"))


files = [Path(f).resolve() for f in sys.argv[1:]] or sorted(markdown_files())
problems = [p for f in files for p in check(f)]
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
