#!/usr/bin/env python3
"""bench/report.py SAMPLES_DIR OUT.json key=value...: the table and the JSON of bench/run.sh.

SAMPLES_DIR holds one file a metric and runtime, `<metric>@<runtime>`, one number a line (times
in microseconds, memory in KiB, instructions as counts), plus `failures` ("metric runtime kind"
lines), `min-limit` ("runtime KiB" lines) and the instruction-count notes. The key=value
arguments go to the JSON's "meta" object.
"""

import json
import os
import statistics
import sys

# metric -> (label, unit, divisor from the raw unit)
METRICS = [
    ("run", "run /bin/true", "ms", 1000),
    ("create", "create", "ms", 1000),
    ("start", "start", "ms", 1000),
    ("delete", "delete", "ms", 1000),
    ("create+start+delete", "create+start+delete", "ms", 1000),
    ("exec", "exec /bin/true", "ms", 1000),
]
PAR_PHASES = ["create", "start", "delete", "total"]
MEM_METRICS = [
    ("rss-create", "peak RSS of create (time %M)", "KiB", 1),
    ("cg-peak-cli", "create: cgroup peak, runtime cmd", "KiB", 1),
    ("cg-peak-init", "create: cgroup peak, init pre-exec", "KiB", 1),
    ("cpu-cli", "create: CPU time, runtime cmd", "ms", 1000),
    ("cpu-init", "create: CPU time, init pre-exec", "ms", 1000),
    ("instructions-create", "create: instructions (parent)", "M", 1e6),
]
BASES = ["hull", "hull-ro"]
OTHERS = ["runc", "crun", "floor"]


def read_samples(d):
    out = {}
    for name in os.listdir(d):
        if "@" not in name:
            continue
        metric, rt = name.split("@", 1)
        with open(os.path.join(d, name)) as f:
            vals = [float(x) for x in f.read().split()]
        out.setdefault(metric, {})[rt] = vals
    return out


def stats(vals, div):
    v = [x / div for x in vals]
    if not v:
        return None
    return {
        "n": len(v),
        "median": round(statistics.median(v), 4),
        "min": round(min(v), 4),
        "max": round(max(v), 4),
        "mean": round(statistics.fmean(v), 4),
        "total": round(sum(v), 4),
        "samples": [round(x, 4) for x in v],
    }


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:.0f}"
    if abs(x) >= 100:
        return f"{x:.1f}"
    return f"{x:.2f}"


def main():
    sdir, out_path = sys.argv[1], sys.argv[2]
    meta = dict(a.split("=", 1) for a in sys.argv[3:])
    runtimes = meta.get("runtimes", "hull,runc").split(",")
    raw = read_samples(sdir)

    failures = {}
    fpath = os.path.join(sdir, "failures")
    if os.path.exists(fpath):
        for line in open(fpath):
            parts = line.split()
            if len(parts) >= 2:
                key = f"{parts[0]}@{parts[1]}" + ("" if len(parts) < 3 or parts[2] == "fail" else f"@{parts[2]}")
                failures[key] = failures.get(key, 0) + 1

    min_limit = {}
    mpath = os.path.join(sdir, "min-limit")
    if os.path.exists(mpath):
        for line in open(mpath):
            rt, v = line.split()
            min_limit[rt] = v

    ins_tool = open(os.path.join(sdir, "instructions-tool")).read().strip() if os.path.exists(os.path.join(sdir, "instructions-tool")) else "none"
    ins_failed = open(os.path.join(sdir, "instructions-failed")).read().strip().splitlines() if os.path.exists(os.path.join(sdir, "instructions-failed")) else []

    rows = []  # (key, label, unit, {rt: stats})
    for key, label, unit, div in METRICS:
        if key in raw:
            rows.append((key, label, unit, {rt: stats(v, div) for rt, v in raw[key].items()}))
    sizes = sorted({int(k[3:].split("-")[0]) for k in raw if k.startswith("par")})
    for n in sizes:
        for ph in PAR_PHASES:
            key = f"par{n}-{ph}"
            if key in raw:
                rows.append((key, f"{n} parallel: {ph} wall", "ms", {rt: stats(v, 1000) for rt, v in raw[key].items()}))
    for key, label, unit, div in MEM_METRICS:
        if key in raw:
            rows.append((key, label, unit, {rt: stats(v, div) for rt, v in raw[key].items()}))

    cols = [rt for rt in runtimes] + (["floor"] if "run" in raw and "floor" in raw["run"] else [])
    ratio_pairs = [(b, o) for b in BASES if b in cols for o in OTHERS if o in cols]

    metrics_json = {}
    for key, label, unit, per in rows:
        m = {"label": label, "unit": unit}
        for rt, st in per.items():
            m[rt] = st
        ratios = {}
        for b, o in ratio_pairs:
            if per.get(b) and per.get(o) and per[o]["median"]:
                ratios[f"{b}/{o}"] = round(per[b]["median"] / per[o]["median"], 4)
        m["ratios_of_medians"] = ratios
        metrics_json[key] = m

    # The table.
    head = f"{'metric':<36} {'unit':<4}"
    for rt in cols:
        head += f" {rt + ' med (min..max)':>26}"
    for b, o in ratio_pairs:
        head += f" {b + '/' + o:>10}"
    lines = [head, "-" * len(head)]
    for key, label, unit, per in rows:
        line = f"{label:<36} {unit:<4}"
        for rt in cols:
            st = per.get(rt)
            cell = f"{fmt(st['median'])} ({fmt(st['min'])}..{fmt(st['max'])})" if st else "-"
            line += f" {cell:>26}"
        for b, o in ratio_pairs:
            r = metrics_json[key]["ratios_of_medians"].get(f"{b}/{o}")
            line += f" {(f'{r:.2f}' if r is not None else '-'):>10}"
        lines.append(line)
        if key == "run":
            line = f"{'  run: total of all runs':<36} {'s':<4}"
            for rt in cols:
                st = per.get(rt)
                cell = f"{st['total'] / 1000:.2f} (n={st['n']})" if st else "-"
                line += f" {cell:>26}"
            lines.append(line)
    if min_limit:
        line = f"{'smallest memory limit that starts':<36} {'KiB':<4}"
        for rt in cols:
            line += f" {min_limit.get(rt, '-'):>26}"
        lines.append(line)
    fail_line = f"{'failures (all phases)':<36} {'#':<4}"
    for rt in cols:
        n = sum(v for k, v in failures.items() if k.split("@")[1] == rt)
        fail_line += f" {n:>26}"
    lines.append(fail_line)
    print(f"hull vs {', '.join(r for r in cols if r != 'hull')} on {meta.get('kernel', '?')}, {meta.get('cpus', '?')} CPUs, "
          f"cgroups {meta.get('cgroups', '?')}, state on {meta.get('state_fs', '?')}, gap {meta.get('gap_s', '?')} s, "
          f"load {meta.get('loadavg_start', '?')} -> {meta.get('loadavg_end', '?')}")
    print("\n".join(lines))
    if failures:
        print("failures: " + ", ".join(f"{k}={v}" for k, v in sorted(failures.items())))
    if ins_tool == "none" or ins_failed:
        print(f"instruction counts ({ins_tool}): " + ("; ".join(ins_failed) if ins_failed else "no tool that works here"))

    # Goals from the issue (none is asserted; this only says where we stand).
    def med(key, rt):
        st = metrics_json.get(key, {}).get(rt)
        return st["median"] if isinstance(st, dict) else None

    goals = []

    def goal(name, ok, detail):
        goals.append({"goal": name, "met": ok, "detail": detail})

    h, r, c, fl = med("run", "hull"), med("run", "runc"), med("run", "crun"), med("run", "floor")
    if h and r:
        goal("run: hull <= 0.25 x runc (issue open above 0.5)", h <= 0.25 * r, f"{h / r:.2f}")
    if h and fl:
        goal("run: hull <= 2 x floor", h <= 2 * fl, f"{h / fl:.2f}")
    if h and c:
        goal("run: hull faster than crun", h < c, f"{h / c:.2f}")
    he, re_ = med("exec", "hull"), med("exec", "runc")
    if he and re_:
        goal("exec: hull <= 0.3 x runc", he <= 0.3 * re_, f"{he / re_:.2f}")
    rss = med("rss-create", "hull")
    if rss:
        goal("runtime peak RSS <= 3 MB (time %M of create)", rss <= 3 * 1024, f"{rss:.0f} KiB")
    if "hull" in min_limit:
        v = min_limit["hull"]
        ok = v.startswith("<=") or (v.isdigit() and int(v) <= 512)
        goal("starts under a 512 KiB memory limit", ok, f"{v} KiB")
    par_fail = sum(v for k, v in failures.items() if k.startswith("par") and k.split("@")[1] == "hull")
    if sizes:
        goal("parallel: no failure, no hang (hull)", par_fail == 0, f"{par_fail} failures")
    if goals:
        print()
        for g in goals:
            print(f"goal {'met ' if g['met'] else 'MISS'} {g['goal']}: {g['detail']}")

    doc = {
        "meta": meta,
        "metrics": metrics_json,
        "min_memory_limit_kib": min_limit,
        "failures": failures,
        "instructions": {"tool": ins_tool, "failed": ins_failed},
        "goals": goals,
        "table": lines,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
