#!/usr/bin/env python3
"""Lists the module edges of a crate (crate::, super::, self:: and child:: paths, use groups
expanded) and prints every cycle. Usage: module-cycles.py crates/<crate>/src [--edges]; exits 1 when there is a cycle"""
import os, re, sys

root = sys.argv[1]
show = "--edges" in sys.argv
modules = {}  # module path (tuple) -> text

def modpath(rel):
    parts = rel[:-3].split(os.sep)
    if parts == ["lib"] or parts == ["main"]:
        return ()
    if parts[-1] == "mod":
        parts = parts[:-1]
    return tuple(parts)

for d, _, files in os.walk(root):
    for f in files:
        if f.endswith(".rs"):
            p = os.path.join(d, f)
            text = open(p).read()
            text = re.sub(r"//[^\n]*", "", text)
            m = modpath(os.path.relpath(p, root))
            # An inline `mod name {` block: the rest of the file, up to its closing brace, is that module.
            inline = re.search(r"\n\s*(?:#\[[^\]]*\]\s*)*mod (\w+) \{", text)
            if inline:
                start = inline.end()
                depth, i = 1, start
                while depth and i < len(text):
                    depth += {"{": 1, "}": -1}.get(text[i], 0)
                    i += 1
                modules[m + (inline.group(1),)] = text[start:i]
                text = text[:inline.start()] + text[i:]
            modules[m] = text

def expand(tree):
    """`a::{b, c::{d}}` -> ["a::b", "a::c::d"]"""
    tree = tree.strip()
    i = tree.find("{")
    if i < 0:
        return [tree]
    prefix, inner = tree[:i], tree[i + 1:tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur); cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p.strip():
            out += [prefix + x if x != "self" else prefix.rstrip(":") for x in expand(p)]
    return out

reexports = {}  # (module, name) -> the path it re-exports
globs = {}  # module -> the modules it re-exports with `pub use m::*`

def glob_source(m, name):
    """The module behind `pub use source::*` in `m` that defines `name`, if any."""
    for source in globs.get(m, ()):
        if re.search(rf"\bpub (?:struct|enum|fn|type|const|static|trait|use [^;]*\b) ?{name}\b", modules[source]):
            return source
    return None

def resolve(m, path, seen=0):
    segs = [s for s in re.sub(r" as \w+", "", path).strip().split("::") if s]
    if not segs:
        return None
    if segs[0] == "crate":
        base, segs = (), segs[1:]
    elif segs[0] in ("super", "self"):
        base = m
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    elif m + (segs[0],) in modules:
        base = m
    else:
        return None
    target = base
    for i, s in enumerate(segs):
        if target + (s,) in modules:
            target = target + (s,)
        elif (target, s) not in reexports and seen < 10 and glob_source(target, s):
            return glob_source(target, s)
        elif (target, s) in reexports and seen < 10:
            # `crate::Item` through a `pub use`: the edge is to where the item lives.
            return resolve(target, reexports[(target, s)], seen + 1)
        else:
            break
    return target

for m, text in modules.items():
    for u in re.finditer(r"\bpub(?:\([\w:]+\))?\s+use\s+([^;]+);", text, re.S):
        for p in expand(re.sub(r"\s+", " ", u.group(1))):
            alias = re.search(r" as (\w+)", p)
            full = re.sub(r" as \w+", "", p).strip()
            if full.endswith("::*"):
                source = resolve(m, full[:-3])
                if source is not None:
                    globs.setdefault(m, []).append(source)
                continue
            reexports[(m, alias.group(1) if alias else full.split("::")[-1])] = full

edges = {m: set() for m in modules}
for m, text in modules.items():
    paths = []
    for u in re.finditer(r"\buse\s+([^;]+);", text, re.S):
        paths += expand(re.sub(r"\s+", " ", u.group(1)))
    rest = re.sub(r"\buse\s+[^;]+;", "", text, flags=re.S)
    paths += re.findall(r"\b((?:crate|super|self|\w+)(?:::\w+)+)", rest)
    for p in paths:
        t = resolve(m, p)
        if t is not None and t != m:
            edges[m].add(t)

name = lambda m: "::".join(("crate",) + m)
if show:
    for m in sorted(edges):
        for t in sorted(edges[m]):
            print(f"{name(m)} -> {name(t)}")

# Strongly connected components (Tarjan).
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(comp)
sys.setrecursionlimit(10000)
for v in sorted(modules):
    if v not in index:
        visit(v)
for comp in sccs:
    print("cycle:", " <-> ".join(sorted(name(m) for m in comp)))
print(f"{len(modules)} modules, {sum(map(len, edges.values()))} edges, {len(sccs)} cycles")
sys.exit(1 if sccs else 0)
