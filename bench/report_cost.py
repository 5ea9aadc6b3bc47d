"""bench/report_cost.py: the section of bench/RESULTS.md on the client's cost
per byte and per target (issue 18), for bench/report.py.

Reads what bench/client_cost.sh measured: instructions per byte of whole 1->1
client runs under callgrind (pgcopyman, psql pipes, pgcopydb), and
bench_fanout's instructions and CPU into 1, 2, 4 and 8 receivers; the issue's
targets use the timed runs of report.py too.  Standard library only.
"""
import os
import statistics

# The targets (issue 18).
TARGET_CPU_PSQL = 0.6     # 1->1 binary client CPU <= 0.6 x psql's binary pipe (both processes)
TARGET_CPU_PGCOPYDB = 1.0  # 1->1 binary client CPU <= pgcopydb's
TARGET_ADDED = 0.3        # each added target <= 0.3 x the cost of the first


def read(path):
    """client_cost.sh's measurements (see its header), by kind."""
    cost = {"bytes": {}, "ir": {}, "fan_ir": {}, "fan_cpu": {}}
    if not path or not os.path.exists(path):
        return cost
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "bytes" and len(p) == 3:
                cost["bytes"][p[1]] = int(p[2])
            elif p[0] == "ir" and len(p) == 5:
                cost["ir"][(p[1], p[2])] = (int(p[3] or 0), p[4] == "1")
            elif p[0] == "fan_ir" and len(p) == 6 and p[4]:
                cost["fan_ir"][(p[1], int(p[2]))] = (int(p[3] or 0), int(p[4]), p[5] == "1")
            elif p[0] == "fan_cpu" and len(p) == 8 and p[7] == "1" and p[4] and p[6]:
                cost["fan_cpu"].setdefault((p[1], int(p[2])), []).append(
                    (float(p[4]), float(p[5]), int(p[6])))
    return cost


COST_CLIENTS = (  # name, label, format
    ("pgcm_binary", "pgcopyman", "binary"),
    ("pgcm_text", "pgcopyman", "text"),
    ("base_binary", "pgcopyman (baseline)", "binary"),
    ("psql_binary", "psql pipe (both processes)", "binary"),
    ("psql_text", "psql pipe (both processes)", "text"),
    ("pgcopydb_text", "pgcopydb (every process)", "text"),
)


def ratio(a, b):
    return a / b if (a is not None and b) else None


def added_ratio(first, n_cost, n):
    """What each receiver past the first costs, over what the first (with the producer) costs."""
    if first is None or n_cost is None or not first or n < 2:
        return None
    return (n_cost - first) / (n - 1) / first


def section(cost, meta, by_name, verdict):
    """The section's Markdown lines and the issue's target lines."""
    md, t = [], []
    per_byte = {}
    for name, _, fmt in COST_CLIENTS:
        got, gone = cost["ir"].get((name, "cost")), cost["ir"].get((name, "cost0"))
        nbytes = cost["bytes"].get(fmt)
        if got and gone and nbytes and got[1] and gone[1]:
            per_byte[name] = (got[0] - gone[0]) / float(nbytes)
    if per_byte:
        md.append("Instructions per byte of COPY data: user-space instructions under callgrind of a "
                  "whole 1→1 client run on %s rows (database `cost`) minus the same run on none "
                  "(`cost0`), so starting, connecting and reading catalogs do not count; both "
                  "processes of a psql pipe, every process pgcopydb starts. Kernel work (the socket "
                  "and pipe copies, poll) is not in these; the timed client CPU above has it. "
                  "glibc's memcpy copies with vector instructions at every size under callgrind "
                  "(`GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=...`): callgrind counts each "
                  "byte of a `rep movsb` as an instruction." % meta.get("cost_rows", "?"))
        md.append("")
        md.append("| client, 1→1 | format | instructions per byte | × psql binary pipe "
                  "| × pgcopydb (text) |")
        md.append("| --- | --- | ---: | ---: | ---: |")
        for name, lab, fmt in COST_CLIENTS:
            if name in per_byte:
                md.append("| %s | %s | %.3f | %s | %s |" % (
                    lab, fmt, per_byte[name], fmt_ratio(ratio(per_byte[name], per_byte.get("psql_binary"))),
                    fmt_ratio(ratio(per_byte[name], per_byte.get("pgcopydb_text")))))
        bad = [n for n, _, _ in COST_CLIENTS
               if any(cost["ir"].get((n, db), (0, True))[1] is False for db in ("cost", "cost0"))]
        if bad:
            md.append("")
            md.append("**WRONG**: a run of %s failed or loaded the wrong rows (see the log)" % ", ".join(bad))
        md.append("")

    fan = {}
    for kind in ("null", "devnull", "pg"):
        for n in (1, 2, 4, 8):
            ir = cost["fan_ir"].get((kind, n))
            cpus = cost["fan_cpu"].get((kind, n))
            fan[(kind, n)] = {
                "ir": ir[0] / float(ir[1]) if ir and ir[1] and ir[2] else None,
                "cpu": statistics.median(c[0] for c in cpus) / cpus[0][2] * 1e9 if cpus else None,
                "runs": len(cpus) if cpus else 0,
            }
    if any(v["ir"] is not None or v["cpu"] is not None for v in fan.values()):
        md.append("Fan-out (`build/bench/bench_fanout`): one `COPY t TO STDOUT (FORMAT binary)` into "
                  "N receivers of one kind, through `pgcm_copy_run()`: `null` (the client's own work, "
                  "nothing written), `devnull` (a file receiver on /dev/null: one write(2) per chunk), "
                  "`pg` (connections to the two targets' unlogged `sink`, alternately, each inside "
                  "BEGIN, rolled back). Instructions: callgrind on `pgcm_copy_run` only "
                  "(`--toggle-collect`), %s rows. CPU: user + system seconds of the process around "
                  "`pgcm_copy_run`, median of the runs, the whole table. Each added receiver ÷ the "
                  "first: (cost(N) − cost(1)) / (N − 1) / cost(1), where cost(1) includes the "
                  "producer." % meta.get("cost_rows", "?"))
        md.append("")
        md.append("| kind | receivers | instructions per byte | each added ÷ the first "
                  "| CPU ns per byte | each added ÷ the first |")
        md.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        for kind in ("null", "devnull", "pg"):
            for n in (1, 2, 4, 8):
                v, one = fan[(kind, n)], fan[(kind, 1)]
                md.append("| %s | %d | %s | %s | %s | %s |" % (
                    kind, n, "%.3f" % v["ir"] if v["ir"] is not None else "—",
                    fmt_ratio(added_ratio(one["ir"], v["ir"], n)),
                    "%.2f" % v["cpu"] if v["cpu"] is not None else "—",
                    fmt_ratio(added_ratio(one["cpu"], v["cpu"], n))))
        md.append("")

    # The targets.
    p1, ps, pc = by_name.get("pgcm_1_binary"), by_name.get("psql_1_binary"), by_name.get("pgcopydb_1")
    p2 = by_name.get("pgcm_2_binary")
    if p1 and ps:
        t.append("- 1→1 binary client CPU ≤ %.1f × psql's binary pipe: timed: %s; instructions: %s" % (
            TARGET_CPU_PSQL,
            verdict(ratio(p1["cpu"], ps["cpu"]), TARGET_CPU_PSQL, "%.2f s / %.2f s =" % (p1["cpu"], ps["cpu"]), " ×"),
            verdict(ratio(per_byte.get("pgcm_binary"), per_byte.get("psql_binary")), TARGET_CPU_PSQL, "", " ×")))
    if p1 and pc:
        t.append("- 1→1 binary client CPU ≤ pgcopydb's (text; 0.10 has no binary): timed: %s; "
                 "instructions: %s (pgcopyman text: %s)" % (
                     verdict(ratio(p1["cpu"], pc["cpu"]), TARGET_CPU_PGCOPYDB,
                             "%.2f s / %.2f s =" % (p1["cpu"], pc["cpu"]), " ×"),
                     verdict(ratio(per_byte.get("pgcm_binary"), per_byte.get("pgcopydb_text")),
                             TARGET_CPU_PGCOPYDB, "", " ×"),
                     fmt_ratio(ratio(per_byte.get("pgcm_text"), per_byte.get("pgcopydb_text")))))
    added = []
    if p1 and p2:
        added.append("1→2 binary timed %s" % verdict(added_ratio(p1["cpu"], p2["cpu"], 2), TARGET_ADDED,
                                                      "", " ×"))
    for kind in ("null", "devnull", "pg"):
        v8, v1 = fan.get((kind, 8), {}), fan.get((kind, 1), {})
        if v8.get("ir") is not None:
            added.append("%s ×8 instructions %s" % (kind, verdict(added_ratio(v1["ir"], v8["ir"], 8),
                                                                 TARGET_ADDED, "", " ×")))
        if v8.get("cpu") is not None:
            added.append("%s ×8 CPU %s" % (kind, verdict(added_ratio(v1["cpu"], v8["cpu"], 8),
                                                        TARGET_ADDED, "", " ×")))
    if added:
        t.append("- each added target ≤ %.1f × the cost of the first: %s" % (TARGET_ADDED, "; ".join(added)))
    for n in (1, 2):
        new, old = by_name.get("pgcm_%d_binary" % n), by_name.get("pgcm_base_%d_binary" % n)
        if new and old and new["wall"] is not None and old["wall"] is not None:
            t.append("- 1→%d binary wall and peak RSS not worse than the baseline: wall %s; RSS %s" % (
                n, verdict(new["wall"], old["wall"], "", " s"), verdict(new["rss"], old["rss"], "", " MiB")))
    if not (by_name.get("pgcm_base_1_binary") or by_name.get("pgcm_base_2_binary")):
        t.append("- wall time and peak RSS not worse: not measured in this run (give the previous "
                 "binary as BENCH_BASELINE to run it beside this one)")
    return md, t


def fmt_ratio(x):
    return "—" if x is None else "%.2f" % x
