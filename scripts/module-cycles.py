#!/usr/bin/env python3
"""Finds import cycles between the modules (files) of a Rust crate.

A file depends on the module files whose items it names (`use crate::a::b::Item`,
`crate::a::f()`, `super::x`), resolved through re-exports to the file that defines the item.
A module's own `mod` declarations and its re-exports (`pub use`, `pub(crate) use`) are the
crate's or the module's facade, not dependencies. Prints every cycle (a strongly connected
group of two or more files) and exits 1 when there is one.

Usage: module-cycles.py CRATE_SRC_DIR...
"""
import re
import sys
from pathlib import Path

ITEM = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:struct|enum|fn|const|static|type|trait|mod|macro_rules!)\s+(\w+)", re.M)
USE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M)
PATH = re.compile(r"\b(crate|super)((?:::\w+)+)")


def module_of(src: Path, file: Path) -> tuple:
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def expand(tree: str) -> list:
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^([^{]*)\{(.*)\}$", tree)
    if not m:
        return [tree]
    prefix, inner = m.groups()
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    return [p for part in parts if part for p in expand(prefix + part)]


class Crate:
    def __init__(self, src: Path):
        self.src = src
        self.files = {}
        for file in sorted(src.rglob("*.rs")):
            text = strip_comments(file.read_text())
            # Test modules depend on what they test; they are not part of the product's shape.
            text = re.split(r"#\[cfg\(test\)\]", text)[0]
            if file.name in ("tests.rs",) or "tests" in file.relative_to(src).parts:
                continue
            self.files[module_of(src, file)] = (file, text)
        self.items = {m: set(ITEM.findall(t)) for m, (_, t) in self.files.items()}
        self.reexports = {m: self._reexports(m, t) for m, (_, t) in self.files.items()}

    def _reexports(self, module, text):
        found = {}
        for vis, tree in USE.findall(text):
            if not vis:
                continue
            for path in expand(tree):
                path = path.split(" as ")[0]
                segs = path.split("::")
                found[segs[-1]] = (module, segs)
        return found

    def absolute(self, module, segs):
        if segs[0] == "crate":
            return list(segs[1:])
        base = list(module)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base.pop()
            segs = segs[1:]
        return base + list(segs)

    def resolve(self, path, seen=0):
        """The file (module) that defines what `path` (absolute segments) names."""
        path = list(path)
        for cut in range(len(path), -1, -1):
            module = tuple(path[:cut])
            if module not in self.files:
                continue
            rest = path[cut:]
            if not rest or seen > 8:
                return module
            name = rest[0]
            if name in self.reexports[module] and name not in self.items[module]:
                origin, segs = self.reexports[module][name]
                if segs[-1] == "*":
                    continue
                target = self.absolute(origin, segs) if segs[0] in ("crate", "super", "self") else list(origin) + segs
                return self.resolve(target + rest[1:], seen + 1)
            if rest[0] == "*" or name not in self.items[module]:
                # A glob re-export: the child module that defines the name.
                for child, items in self.items.items():
                    if child[: len(module)] == module and len(child) == len(module) + 1 and name in items:
                        return child
            return module
        return ()

    def edges(self):
        graph = {m: set() for m in self.files}
        for module, (_, text) in self.files.items():
            facade = {p for vis, tree in USE.findall(text) if vis for p in expand(tree)}
            uses = [p for vis, tree in USE.findall(text) if not vis for p in expand(tree)]
            body = USE.sub("", text)
            paths = uses + [k + v for k, v in PATH.findall(body)]
            for path in paths:
                segs = path.split(" as ")[0].split("::")
                # A module's own children are named without a prefix (`use pool::Pool`).
                if segs[0] in ("crate", "super", "self"):
                    target = self.resolve(self.absolute(module, segs))
                elif tuple(list(module) + [segs[0]]) in self.files:
                    target = self.resolve(list(module) + segs)
                else:
                    continue
                if target != module:
                    graph[module].add(target)
        return graph


def cycles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def name(module):
    return "::".join(module) or "crate"


def main(dirs):
    found = False
    for d in dirs:
        crate = Crate(Path(d))
        graph = crate.edges()
        for group in cycles(graph):
            found = True
            members = set(group)
            links = [f"{name(a)} -> {name(b)}" for a in group for b in sorted(graph[a]) if b in members]
            print(f"{d}: import cycle among {', '.join(name(m) for m in group)}:\n  " + "\n  ".join(links))
    if not found:
        print(f"no import cycles in {', '.join(dirs)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
