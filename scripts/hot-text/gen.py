#!/usr/bin/env python3
"""Turns tracer bitmaps into hull's hot-text linker script.

usage: gen.py BIN OUT BITMAP... [-- BITMAP...]

The functions of the bitmaps before `--` (the commands the benchmark measures) come first.

Every function of BIN that executed at least one traced instruction is "hot". The script lists
the input sections holding them, in a `.text.hot` output section that the linker places before
`.text`, so the code a container's create, start, exec and delete run sits in one stretch of
the binary instead of being scattered over all of it: the kernel maps 64 KiB of text around
each page fault, so scattered code costs resident memory and page faults in every hull process.

Rust functions sit in their own sections (`.text.<symbol>`, `.text.unlikely.<symbol>`). A symbol's hash is a wildcard when
no other function has the same path (so the list survives unrelated changes); generic functions,
whose instances differ only by the hash, are named exactly. C functions (static glibc,
libseccomp) are named by their archive member. A name that no longer matches is harmless: that
function stays in `.text`.
"""
import bisect
import glob
import collections
import os
import re
import subprocess
import sys

LIBS = ["libc.a", "libm-*.a", "libseccomp.a"]
HASH = re.compile(r"17h[0-9a-f]{16}E$")


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def collect(hit, loads, syms, starts, hot, seen):
    """Appends to `hot` the functions (not in `seen`) with an instruction marked in `hit`."""
    offset = hit.find(1)
    while offset >= 0:
        vaddr = next((offset - off + va for off, va, size in loads if off <= offset < off + size), None)
        i = bisect.bisect_right(starts, vaddr) - 1 if vaddr is not None else -1
        if i >= 0 and syms[i][0] <= vaddr < syms[i][0] + max(syms[i][1], 1):
            name = syms[i][2]
            if name not in seen:
                seen.add(name)
                hot.append(name)
            offset = hit.find(1, syms[i][0] + max(syms[i][1], 1) - vaddr + offset)
        else:
            offset = hit.find(1, offset + 1)


def main():
    binary, out, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    groups = [[]]
    for a in args:
        if a == "--":
            groups.append([])
        else:
            groups[-1].append(a)
    loads = []
    for line in run("readelf", "-lW", binary).splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            loads.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))
    syms = []
    for line in run("nm", "-S", "--defined-only", binary).splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW":
            syms.append((int(f[0], 16), int(f[1], 16), f[3]))
    syms.sort()
    starts = [s[0] for s in syms]
    paths = collections.Counter(HASH.sub("", s[2]) for s in syms)

    hot, seen = [], set()
    for group in groups:
        hit = None
        for path in group:
            data = open(path, "rb").read()
            hit = bytearray(data) if hit is None else bytearray(a | b for a, b in zip(hit, data))
        if hit is not None:
            collect(hit, loads, syms, starts, hot, seen)

    rust, c_names = [], []
    for name in hot:
        if name.startswith("_ZN") and HASH.search(name):
            path = HASH.sub("", name)
            rust.append(path + "17h????????????????E" if paths[path] == 1 else name)
        elif name.startswith("_R"):
            # v0 names (the standard library's): the crate disambiguators change with the toolchain
            rust.append(re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", name))
        else:
            c_names.append(name)
    libdir = run("gcc", "-print-file-name=libc.a").strip()
    libdir = os.path.dirname(libdir)
    members, found = [], set()
    for lib in LIBS:
        found_libs = sorted(glob.glob(os.path.join(libdir, lib)))
        if not found_libs:
            continue
        path = found_libs[0]
        lib = os.path.basename(path)
        member, defined = None, {}
        for line in run("nm", "--defined-only", path).splitlines():
            if line.endswith(":"):
                member = line[:-1]
                continue
            f = line.split()
            if len(f) == 3 and f[1] in "tTwWiI":
                defined.setdefault(f[2], member)
        for name in c_names:
            if name in defined:
                members.append((lib, defined[name]))
                found.add(name)
    others = [n for n in c_names if n not in found]  # in sections of their own (.text.<name>)

    with open(out, "w") as f:
        f.write("/* hull's hot text: the functions create, start, run, exec, delete and the other\n")
        f.write("   commands execute, placed together before .text. Made by scripts/hot-text/update.sh\n")
        f.write("   (single-stepping those commands); regenerate it after large changes. */\n")
        f.write("SECTIONS\n{\n  .text.hot :\n  {\n")
        # LLVM puts functions it deems cold in .text.unlikely.<symbol>
        for pattern in dict.fromkeys(rust + others):
            f.write(f"    *(.text.{pattern} .text.unlikely.{pattern})\n")
        f.write("    *crt1.o(.text .text.*)\n")
        for lib, member in dict.fromkeys(members):
            f.write(f"    *{lib}:{member}(.text .text.*)\n")
        f.write("  }\n}\nINSERT BEFORE .text;\n")
    size = sum(s[1] for s in syms if s[2] in seen)
    print(f"gen: {len(hot)} hot functions ({size // 1024} KiB): {len(rust)} Rust, {len(c_names)} C "
          f"({len(set(members))} archive members)", file=sys.stderr)


if __name__ == "__main__":
    main()
