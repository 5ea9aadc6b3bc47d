#!/usr/bin/python3
"""bench/report.py: turn bench/run.sh's measurements into bench/RESULTS.md.

    report.py --meta META --methods METHODS.tsv --results RESULTS.tsv
              [--profile PROFILE.txt] --out RESULTS.md

META is key=value lines (machine, versions, table); METHODS.tsv is
name, targets, tool, format, command; RESULTS.tsv is one line per run:
name, run, wall s, client CPU s, client peak RSS KiB, ok (1/0), load, note.
Writes the Markdown report and prints the results table on stdout.
Standard library only.
"""
import argparse
import os
import statistics
import sys

import report_bulkload
import report_cost

# The targets (project issue 6, item 1).
TARGET_WALL_1 = 0.75      # 1->1 default wall <= 0.75 x floor (text)
TARGET_WALL_JOBS = 0.60   # 1->1 --jobs 2 wall <= 0.6 x floor
TARGET_WALL_2 = 1.0       # 1->2 default wall <= 1.0 x floor (text)
TARGET_CPU = 0.6          # client CPU <= 0.6 x pgcopydb's
TARGET_RSS_MIB = 12.0     # client peak RSS <= 12 MiB, 1->1 and 1->2


def read_meta(path):
    meta = {}
    with open(path, newline="\n") as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                meta[k] = v.replace("\r", "\n").strip("\n")
    return meta


def read_methods(path):
    methods = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            name, targets, tool, fmt, command = line.rstrip("\n").split("\t", 4)
            methods.append({"name": name, "targets": int(targets), "tool": tool,
                            "format": fmt, "command": command})
    return methods


def read_results(path):
    runs = {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            p = line.rstrip("\n").split("\t")
            p += [""] * (8 - len(p))
            runs.setdefault(p[0], []).append({
                "run": int(p[1]), "wall": float(p[2]), "cpu": float(p[3]),
                "rss": int(p[4]) / 1024.0, "ok": p[5] == "1", "load": p[6], "note": p[7]})
    return runs


def duration(s):
    """pgcopydb's '1s447', '850ms', '2m03s', '1h02m' -> seconds (None if unknown)."""
    import re
    if not s:
        return None
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(\d+)?(?:(\d+)ms)?", s)
    if not m or not any(m.groups()):
        return None
    h, mi, sec, frac, ms = m.groups()
    t = int(h or 0) * 3600 + int(mi or 0) * 60 + int(sec or 0)
    if frac:
        t += int(frac) / 10.0 ** len(frac)
    if ms:
        t += int(ms) / 1000.0
    return t


def read_extras(path):
    extras = {}
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) == 4:
                    extras.setdefault((p[0], p[2]), []).append(p[3])
    return extras


def machine():
    info = {"cpu": "unknown", "mem": "unknown"}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem"] = "%.1f GiB" % (int(line.split()[1]) / 1048576.0)
                    break
    except OSError:
        pass
    return info


def label(m):
    arrow = "1→%d" % m["targets"] if m["targets"] else "→ file"
    if m["tool"] == "floor":
        return "floor: server COPY FROM file, %s" % m["format"]
    fmt = {"auto": "default (auto)", "jobs2": "default, --jobs 2"}.get(m["format"], m["format"])
    return "%s %s %s" % (m["tool"], arrow, fmt)


def fmt_ratio(x):
    return "—" if x is None else "%.2f" % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meta", required=True)
    ap.add_argument("--methods", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--profile")
    ap.add_argument("--extras")
    ap.add_argument("--programs")
    ap.add_argument("--cost")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    meta = read_meta(a.meta)
    methods = [m for m in read_methods(a.methods)]
    runs = read_results(a.results)
    methods = [m for m in methods if m["name"] in runs]
    by_name = {m["name"]: m for m in methods}

    # Per method: medians over the successful runs.
    for m in methods:
        rs = runs[m["name"]]
        good = [r for r in rs if r["ok"]]
        m["runs"] = len(rs)
        m["good"] = len(good)
        use = good or rs
        m["wall"] = statistics.median(r["wall"] for r in use) if good else None
        m["wall_min"] = min(r["wall"] for r in use)
        m["wall_max"] = max(r["wall"] for r in use)
        m["cpu"] = statistics.median(r["cpu"] for r in use)
        m["rss"] = max(r["rss"] for r in use)
        m["notes"] = sorted({r["note"] for r in rs if r["note"]})

    # The bulk load's methods have their own floors and section (report_bulkload.py).
    bulk = [m for m in methods if report_bulkload.is_bulk(m)]
    methods = [m for m in methods if not report_bulkload.is_bulk(m)]
    by_name = {m["name"]: m for m in methods}
    floor = by_name.get("floor_text", {}).get("wall")
    best_other = {}
    for n in (0, 1, 2):
        others = [m for m in methods if m["targets"] == n and m["tool"] != "floor"
                  and not m["tool"].startswith("pgcopyman") and m["wall"] is not None]
        if others:
            best_other[n] = min(others, key=lambda m: m["wall"])
    for m in methods:
        m["x_floor"] = m["wall"] / floor if (floor and m["wall"] is not None) else None
        b = best_other.get(m["targets"])
        m["x_best"] = (m["wall"] / b["wall"]) if (b and m["wall"] is not None
                                                  and m["tool"] != "floor") else None

    rows = int(meta["rows"])
    text_mib = int(meta["text_bytes"]) / 1048576.0
    bin_mib = int(meta["binary_bytes"]) / 1048576.0

    # The table.
    head = ("| method | median wall s (min–max) | × floor | × best other tool | client CPU s "
            "| client peak RSS MiB | rows checked |")
    sep = "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
    lines = [head, sep]
    order = sorted(methods, key=lambda m: (m["targets"], m["tool"] != "floor",
                                           not m["tool"].startswith("pgcopyman")))
    for m in order:
        wall = ("%.2f (%.2f–%.2f)" % (m["wall"], m["wall_min"], m["wall_max"])
                if m["wall"] is not None else "FAILED")
        checked = ("%d × %d on %d/%d runs" % (m["targets"], rows, m["good"], m["runs"]) if m["targets"]
                   else "%d lines in the file on %d/%d runs" % (rows, m["good"], m["runs"]))
        if m["good"] != m["runs"]:
            checked = "**WRONG** on %d/%d runs: %s" % (m["runs"] - m["good"], m["runs"],
                                                        "; ".join(m["notes"]))
        lines.append("| %s | %s | %s | %s | %.2f | %.1f | %s |" % (
            label(m), wall, fmt_ratio(m["x_floor"]), fmt_ratio(m["x_best"]),
            m["cpu"], m["rss"], checked))
    table = "\n".join(lines)

    # The targets.
    def verdict(value, limit, what, unit=""):
        if value is None or limit is None:
            return "not measured (%s)" % what
        what = what + " " if what else ""
        if value <= limit:
            return "**met**: %s%.2f%s ≤ %.2f%s" % (what, value, unit, limit, unit)
        return "**missed** by %.0f%%: %s%.2f%s > %.2f%s" % (
            (value / limit - 1) * 100, what, value, unit, limit, unit)

    t = []
    p1 = by_name.get("pgcm_1_auto")
    p2 = by_name.get("pgcm_2_auto")
    if p1:
        t.append("- 1→1 default wall ≤ %.2f × floor: %s" % (
            TARGET_WALL_1, verdict(p1["x_floor"], TARGET_WALL_1, "× floor")))
        others1 = [m for m in methods if m["targets"] == 1 and m["tool"] != "floor"
                   and not m["tool"].startswith("pgcopyman") and m["wall"] is not None]
        if others1 and p1["wall"] is not None:
            b = best_other[1]
            slower = [label(m) for m in others1 if m["wall"] <= p1["wall"]]
            if not slower:
                t.append("- 1→1 default below every other tool: **met**: %.2f s vs the best other, "
                         "%s, %.2f s (%.2f ×)" % (p1["wall"], label(b), b["wall"], p1["x_best"]))
            else:
                t.append("- 1→1 default below every other tool: **missed** by %.0f%%: %.2f s vs "
                         "%s %.2f s; not faster than: %s" % (
                             (p1["x_best"] - 1) * 100, p1["wall"], label(b), b["wall"],
                             ", ".join(slower)))
    if p2:
        t.append("- 1→2 default wall ≤ %.2f × floor: %s" % (
            TARGET_WALL_2, verdict(p2["x_floor"], TARGET_WALL_2, "× floor")))
    pc = by_name.get("pgcopydb_1")
    if p1 and pc:
        for m in [p1] + [by_name[n] for n in ("pgcm_1_text", "pgcm_1_binary") if n in by_name]:
            ratio = m["cpu"] / pc["cpu"] if pc["cpu"] > 0 else None
            t.append("- %s client CPU ≤ %.1f × pgcopydb's (%.2f s): %s" % (
                label(m), TARGET_CPU, pc["cpu"],
                verdict(ratio, TARGET_CPU, "%.2f s =" % m["cpu"], " ×")))
    for m in (p1, p2):
        if m:
            t.append("- %s client peak RSS ≤ %.0f MiB: %s" % (
                label(m), TARGET_RSS_MIB, verdict(m["rss"], TARGET_RSS_MIB, "", " MiB")))
    pj = by_name.get("pgcm_1_jobs2")
    if pj:
        t.append("- 1→1 --jobs 2 wall ≤ %.2f × floor: %s" % (
            TARGET_WALL_JOBS, verdict(pj["x_floor"], TARGET_WALL_JOBS, "× floor")))

    cost_md, cost_t = report_cost.section(report_cost.read(a.cost), meta, by_name, verdict)

    mach = machine()
    loads = [r["load"] for rs in runs.values() for r in rs if r["load"]]
    loadf = sorted(float(x) for x in loads) if loads else []

    md = []
    md.append("# pgcopyman benchmark results")
    md.append("")
    md.append("Written by `bench/run.sh` (`make bench`) on %s; do not edit by hand, run it again." %
              meta.get("started", "?"))
    md.append("")
    md.append("## Machine")
    md.append("")
    md.append("- CPU: %s, nproc %s" % (mach["cpu"], meta.get("nproc", "?")))
    md.append("- memory: %s" % mach["mem"])
    md.append("- kernel: %s" % meta.get("kernel", "?"))
    md.append("- load average (1, 5, 15 min) at start: %s; at end: %s; 1-min load at the end of "
              "each run: %s–%s" % (meta.get("load_start", "?"), meta.get("load_end", "?"),
                                   loadf[0] if loadf else "?", loadf[-1] if loadf else "?"))
    load0 = float(meta.get("load_start", "0 0 0").split()[0] or 0)
    if load0 > 0.5:
        md.append("- **the machine was shared**: the 1-min load average was %.2f before the "
                  "benchmark started anything (its own clusters start idle), so other work "
                  "competed for the %s CPUs and the disk during the runs; compare methods within "
                  "this run (round-robin spreads the disturbance), and read absolute times as "
                  "indicative" % (load0, meta.get("nproc", "?")))
    if meta.get("note"):
        md.append("- note: %s" % meta["note"])
    md.append("- all three clusters, the clients and the export files on the same machine "
              "and disk; unix sockets")
    md.append("")
    md.append("## Versions")
    md.append("")
    for k, name in (("server", "PostgreSQL server"), ("server_settings", "server settings"),
                    ("libpq", "libpq"), ("pgcopyman", "pgcopyman"),
                    ("baseline", "pgcopyman baseline (BENCH_BASELINE)"), ("pgcopydb", "pgcopydb"),
                    ("psql", "psql"), ("python", "Python (/usr/bin/python3)"),
                    ("py_postgresql", "py-postgresql"), ("psycopg", "psycopg"),
                    ("coreutils_tee", "tee")):
        if k != "baseline" or k in meta:
            md.append("- %s: %s" % (name, meta.get(k, "?")))
    md.append("")
    md.append("## Table")
    md.append("")
    md.append("%d rows, %.1f MiB as COPY text (%.1f MiB as COPY binary). On the source and on "
              "both targets:" % (rows, text_mib, bin_mib))
    md.append("")
    md.append("```sql")
    md.append(meta.get("table_sql", "?"))
    md.append("```")
    md.append("")
    md.append("Filled on the source with:")
    md.append("")
    md.append("```sql")
    md.append(meta.get("fill_sql", "?"))
    md.append("```")
    md.append("")
    md.append("## Method")
    md.append("")
    md.append("- %s runs of each method, round-robin (every method's run 1, then every "
              "method's run 2, ...); before every run both targets get `TRUNCATE t` and "
              "`CHECKPOINT`. One untimed load (the text floor's) comes first, to warm the caches. "
              "Time of the timed runs: %s s; of the whole script: %s s." % (
                  meta.get("runs"), meta.get("bench_seconds", "?"), meta.get("script_seconds", "?")))
    md.append("- wall: the whole command, from start to the exit of its last process; median "
              "over the runs, with the range.")
    md.append("- client CPU: user + system seconds of the client processes only (not the "
              "servers), each under `/usr/bin/time -f '%U %S %M'`; for pipes the sum over the "
              "processes (psql, psql, and tee for 1→2); pgcopydb's includes its worker "
              "processes (waited for). Median over the runs.")
    md.append("- client peak RSS: the largest maximum resident set size of any one client "
              "process, over all runs.")
    md.append("- × floor: median wall / the text floor's median wall. × best other tool: median "
              "wall / the fastest non-pgcopyman tool with the same number of targets.")
    md.append("- rows checked: after every run, `count(*)` on each target equals the source's "
              "rows.")
    md.append("- The floor runs the COPY in the target server from a file that the source "
              "server exported once (`COPY t TO '/path/t.txt'` and `COPY t TO '/path/t.bin' "
              "(FORMAT binary)`); its client is a psql that only waits.")
    md.append("- Server settings are PostgreSQL's defaults (fsync on) except `listen_addresses "
              "= ''`, `unix_socket_directories` and `port`; each cluster made by `initdb -A "
              "trust -E UTF8 --locale=C.UTF-8`.")
    md.append("")
    md.append("Commands (`$SRC`, `$T1`, `$T2` are `host=SOCKETDIR port=5432 dbname=postgres "
              "user=postgres`; `*_URI` the same as `postgresql:///postgres?host=SOCKETDIR&...`; "
              "every psql also gets `-X -q`). The 1→2 psql pipes run the second target's psql "
              "on a FIFO that tee writes, which is `tee >(psql ...)` but waitable:")
    md.append("")
    md.append("| method | command |")
    md.append("| --- | --- |")
    for m in methods:
        md.append("| %s | `%s` |" % (label(m), m["command"].replace("|", "\\|")))
    md.append("")
    md.append("## Results")
    md.append("")
    md.append(table)
    md.append("")
    notes = []
    pgc = read_extras(a.extras).get(("pgcopydb_1", "pgcopydb_copy"))
    if pgc and "pgcopydb_1" in by_name:
        secs = [duration(x) for x in pgc]
        secs = [x for x in secs if x is not None]
        if secs:
            notes.append("- pgcopydb 0.10's `copy table-data` also runs `VACUUM ANALYZE` on the "
                         "target table (0.10 has no option to skip it; it runs beside the COPY "
                         "once that is done); its wall above includes it. pgcopydb's own "
                         "\"COPY (cumulative)\" time: median %.2f s (%s)." % (
                             statistics.median(secs), ", ".join(pgc)))
    extras = read_extras(a.extras)
    for name in ("pgcm_zst", "psql_zst"):
        sizes = extras.get((name, "file_bytes"))
        if sizes and name in by_name:
            notes.append("- %s wrote a %.1f MiB .zst file (median over the runs)." % (
                label(by_name[name]), statistics.median(int(x) for x in sizes) / 1048576.0))
    if notes:
        md.extend(notes)
        md.append("")
    bulk_md, bulk_print = report_bulkload.section(bulk, read_extras(a.extras), rows,
                                                  int(meta.get("nproc", "1") or 1))
    md.extend(bulk_md)
    md.append("## The issue's targets (issue 6, item 1)")
    md.append("")
    md.extend(t)
    md.append("")
    if cost_md or cost_t:
        md.append("## The client's cost per byte and per target (issue 18)")
        md.append("")
        if meta.get("load_after_cost"):
            md.append("1-min, 5-min, 15-min load average after these measurements: %s." %
                      meta["load_after_cost"])
            md.append("")
        md.extend(cost_md)
        md.append("The issue's targets (issue 18):")
        md.append("")
        md.extend(cost_t)
        md.append("")
    if a.programs and os.path.exists(a.programs) and os.path.getsize(a.programs) > 0:
        md.append("## Other bench programs")
        md.append("")
        md.append("```")
        with open(a.programs) as f:
            md.append(f.read().rstrip("\n"))
        md.append("```")
        md.append("")
    if a.profile and os.path.exists(a.profile) and os.path.getsize(a.profile) > 0:
        md.append("## Where the client's time goes")
        md.append("")
        md.append("`BENCH_PROFILE=1`: one more pgcopyman run, after the timed runs.")
        md.append("")
        md.append("```")
        with open(a.profile) as f:
            md.append(f.read().rstrip("\n"))
        md.append("```")
        md.append("")

    with open(a.out, "w") as f:
        f.write("\n".join(md))
    print(table)
    print()
    print("\n".join(t + cost_t))
    if bulk_print:
        print()
        print("\n".join(bulk_print))
    return 0


if __name__ == "__main__":
    sys.exit(main())
