#!/usr/bin/env python3
"""Checks that every #include between tollgate's folders points down.

Reads every `#include "..."` in the .h/.cpp files under protocol/, daemon/,
workers/ and tools/ and checks the folder include graph against the layers
of DESIGN.md ("Direction"):

    protocol < daemon (core < ledger < cache < server) < workers (providers < notify < calls)
             < tools

Definitions. A file's folder is the directory holding it (relative to the
source root). An include is an arrow from the including file's folder to
the included file's folder; an include within one folder is no arrow.
Include paths are resolved from the including file's directory first and
from the source root second (the project includes by root-relative path).

The rules, for an arrow from folder A to folder B:

1. Layers (rule "upward"). Take the first path component where A and B
   differ, as children a and b of their deepest common folder P. If P's
   children are ordered (ORDER below), b must come before a: the arrow
   points down. The order is a tree of orders: at the top protocol <
   daemon < workers < tools, inside daemon/ core < ledger < cache < server, inside
   workers/ providers < notify < calls; everything inside a folder sits in that
   folder's place (daemon/ledger/lmdb is above daemon/core because ledger
   is above core).

2. Siblings (rule "sibling"). If a or b is not in P's order (for example
   daemon/ledger/lmdb and daemon/ledger/memory, or tools/tollctl and
   tools/tollbench), A and B are unordered siblings and must not include
   each other at all. A new folder that needs to include a sibling must
   first be given its place in ORDER.

3. Parent and child (rule "cycle"). When B is inside A or A inside B, no
   path component differs and rule 1 says nothing: either direction is
   allowed, but only one of them. The tree alone cannot tell which way a
   sub-folder hangs: daemon/ledger/lmdb/ implements the interface that
   daemon/ledger/ledger.h declares (deeper in the tree, higher in the
   layering: lmdb -> ledger), while daemon/core/policy/ is a pure part
   that daemon/core is built from (deeper in the tree, lower in the
   layering: core -> policy). What is never allowed is both, which the
   next rule catches.

4. No cycles (rule "cycle"), at any depth. For every depth d the folders
   are cut to their first d components (daemon/ledger/lmdb at depth 2 is
   daemon/ledger) and the arrows between the cut folders must form no
   cycle. Each cycle is reported once, with the includes that close it.

An include whose target lies outside protocol/, daemon/, workers/ and tools/
(for example tests/) breaks rule "outside". System includes (<...>) are not
read.

Usage:
    tools/check-layers.py [--root DIR]            check; exit 1 on a breach
    tools/check-layers.py [--root DIR] --dot      folder graph as Graphviz DOT
    tools/check-layers.py [--root DIR] --mermaid  folder graph as Mermaid

Each breach is printed as `FILE:LINE -> TARGET: rule: why`. Standard
library only.
"""
import argparse
import os
import re
import signal
import sys
from collections import defaultdict

ROOTS = ("protocol", "daemon", "workers", "tools")
SOURCE_SUFFIXES = (".h", ".hpp", ".cpp", ".cc")

# For each folder, its ordered children, lowest first. Children not listed
# are unordered: they may include the listed ones' lower neighbours only
# through their own place in the tree, and never each other.
ORDER = {
    "": ["protocol", "daemon", "workers", "tools"],
    "daemon": ["core", "ledger", "cache", "server"],
    "workers": ["providers", "notify", "calls"],
}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def parts(folder):
    return folder.split("/") if folder else []


def source_files(root):
    """Every source file under ROOTS, relative to root, sorted."""
    for top in ROOTS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                yield os.path.relpath(os.path.join(dirpath, name), root)


def read_includes(root, files):
    """Yields (file, line, target) with paths relative to root."""
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for number, text in enumerate(f, 1):
                m = INCLUDE_RE.match(text)
                if m:
                    yield rel, number, resolve(root, rel, m.group(1))


def resolve(root, rel, spelled):
    """The include's path relative to root, the way the compiler finds it."""
    beside = os.path.normpath(os.path.join(os.path.dirname(rel), spelled))
    if os.path.exists(os.path.join(root, beside)):
        return beside
    return os.path.normpath(spelled)


def is_inside(inner, outer):
    return parts(inner)[: len(parts(outer))] == parts(outer)


def layer_breach(a, b):
    """The rule the arrow a -> b breaks by the layers alone, or None."""
    pa, pb = parts(a), parts(b)
    if pb[:1] and pb[0] not in ROOTS:
        return "outside", f"{b}/ is not under {', '.join(ROOTS)}"
    common = 0
    while common < min(len(pa), len(pb)) and pa[common] == pb[common]:
        common += 1
    if common == len(pa) or common == len(pb):
        return None  # parent and child: only the cycle rule applies
    parent = "/".join(pa[:common])
    order = ORDER.get(parent, [])
    ca, cb = pa[common], pb[common]
    where = f"{parent}/" if parent else "the top level"
    if ca not in order or cb not in order:
        return "sibling", (f"{ca}/ and {cb}/ are unordered siblings in {where}; "
                           f"give them a place in ORDER or do not include across")
    if order.index(cb) > order.index(ca):
        return "upward", (f"{ca}/ is below {cb}/ in {where} "
                          f"({' < '.join(order)})")
    return None


def folder_of(path):
    return os.path.dirname(path)


def cut(folder, depth):
    return "/".join(parts(folder)[:depth])


def strongly_connected(nodes, edges):
    """Tarjan's algorithm; returns the components with more than one node."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def find_cycles(includes):
    """Breaches of the cycle rule: (component, [(file, line, target)])."""
    max_depth = max((len(parts(folder_of(f))) for f, _, _ in includes), default=0)
    max_depth = max(max_depth, max((len(parts(folder_of(t))) for _, _, t in includes),
                                   default=0))
    seen, found = set(), []
    for depth in range(1, max_depth + 1):
        edges, nodes = defaultdict(set), set()
        for f, _, t in includes:
            a, b = cut(folder_of(f), depth), cut(folder_of(t), depth)
            if a != b:
                edges[a].add(b)
                nodes.update((a, b))
        for comp in strongly_connected(nodes, edges):
            key = tuple(comp)
            if key in seen:
                continue
            seen.add(key)
            members = set(comp)
            witnesses = [(f, n, t) for f, n, t in includes
                         if cut(folder_of(f), depth) in members
                         and cut(folder_of(t), depth) in members
                         and cut(folder_of(f), depth) != cut(folder_of(t), depth)]
            found.append((comp, witnesses))
    return found


def check(includes):
    """Returns the breach lines, sorted."""
    lines = []
    for f, n, t in includes:
        a, b = folder_of(f), folder_of(t)
        if a == b:
            continue
        breach = layer_breach(a, b)
        if breach:
            rule, why = breach
            lines.append(f"{f}:{n} -> {t}: {rule}: {why}")
    for comp, witnesses in find_cycles(includes):
        names = " <-> ".join(c + "/" for c in comp)
        for f, n, t in witnesses:
            lines.append(f"{f}:{n} -> {t}: cycle: between {names}")
    return sorted(set(lines))


def folder_edges(includes):
    counts = defaultdict(int)
    for f, _, t in includes:
        a, b = folder_of(f), folder_of(t)
        if a != b:
            counts[(a, b)] += 1
    return counts


def node_id(folder):
    return re.sub(r"[^A-Za-z0-9]", "_", folder)


def print_dot(folders, includes):
    print("digraph includes {")
    print("  rankdir=BT;")
    print("  node [shape=box, fontname=monospace];")
    for folder in folders:
        print(f'  "{folder}/";')
    for (a, b), count in sorted(folder_edges(includes).items()):
        print(f'  "{a}/" -> "{b}/" [label="{count}"];')
    print("}")


def print_mermaid(folders, includes):
    print("flowchart BT")
    counts = folder_edges(includes)
    for folder in folders:
        print(f'  {node_id(folder)}["{folder}/"]')
    for (a, b), count in sorted(counts.items()):
        print(f"  {node_id(a)} -->|{count}| {node_id(b)}")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--root", default=default_root, help="source root")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dot", action="store_true", help="print the folder graph (DOT)")
    mode.add_argument("--mermaid", action="store_true", help="print the folder graph (Mermaid)")
    args = parser.parse_args(argv)

    files = list(source_files(args.root))
    includes = list(read_includes(args.root, files))
    folders = sorted({folder_of(f) for f in files})
    if args.dot:
        print_dot(folders, includes)
        return 0
    if args.mermaid:
        print_mermaid(folders, includes)
        return 0
    breaches = check(includes)
    for line in breaches:
        print(line)
    if breaches:
        print(f"check-layers: {len(breaches)} include(s) break the layering", file=sys.stderr)
        return 1
    print(f"check-layers: {len(includes)} includes in {len(folders)} folders, "
          f"every arrow points down, no cycle")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `--dot | head` is fine
    sys.exit(main(sys.argv[1:]))
