"""bench/report_bulkload.py: the section of bench/RESULTS.md on the bulk load
of a replaced table (issue 14), for bench/report.py.

The methods are named bl_*: every one runs BEGIN; TRUNCATE; COPY; COMMIT into
ti (t's columns and primary key, plus secondary indexes on ts and uid) or
into t (primary key only).  Each is compared with the server-side floor into
the same table (bl_floor_idx, bl_floor_pk).  pgcopyman's runs also report
their phases (extras "phase load", "phase rebuild", "phase object NAME").
Standard library only.
"""
import statistics

TARGET_1 = 0.5    # 1->1 into ti: wall <= 0.5 x the server-side floor into ti
TARGET_2 = 0.6    # 1->2 into ti: wall <= 0.6 x that floor


def is_bulk(m):
    return m["name"].startswith("bl_")


def table_of(m):
    return "ti" if "_idx" in m["name"] else "t"


def label(m):
    table = "ti (pk + 2 indexes)" if table_of(m) == "ti" else "t (pk only)"
    if m["tool"] == "floor":
        return "floor: server COPY FROM file into %s" % table
    extra = ", --no-defer-indexes" if m["name"].endswith("_nodefer") else ""
    return "%s 1→%d into %s%s" % (m["tool"], m["targets"], table, extra)


def median_extra(extras, name, key):
    values = extras.get((name, key))
    return statistics.median(float(v) for v in values) if values else None


def phases(extras, name):
    """The median of each phase over the runs: {"load": s, "rebuild": s, "object X": s, ...}."""
    out = {}
    for (method, key), values in extras.items():
        if method == name and key.startswith("phase "):
            out[key[len("phase "):]] = statistics.median(float(v) for v in values)
    return out


def verdict(value, limit):
    if value is None:
        return "not measured"
    if value <= limit:
        return "**met**: %.2f × ≤ %.2f ×" % (value, limit)
    return "**missed** by %.0f%%: %.2f × > %.2f ×" % ((value / limit - 1) * 100, value, limit)


def section(methods, extras, rows, nproc):
    """The section's Markdown lines and its lines for the terminal, from the bulk methods."""
    bulk = [m for m in methods if is_bulk(m)]
    if not bulk:
        return [], []
    by_name = {m["name"]: m for m in bulk}
    for m in bulk:
        floor = by_name.get("bl_floor_idx" if table_of(m) == "ti" else "bl_floor_pk")
        m["x_bl_floor"] = (m["wall"] / floor["wall"]
                           if floor and floor["wall"] and m["wall"] is not None else None)
    head = ("| method | median wall s (min–max) | × floor into the same table | client CPU s "
            "| servers' CPU s | machine busy (others' CPU s) | client peak RSS MiB "
            "| pgcopyman's phases, median s | rows checked |")
    lines = [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    order = sorted(bulk, key=lambda m: (table_of(m) != "ti", m["targets"], m["tool"] != "floor",
                                        m["tool"] != "pgcopyman", m["name"]))
    for m in order:
        wall = ("%.2f (%.2f–%.2f)" % (m["wall"], m["wall_min"], m["wall_max"])
                if m["wall"] is not None else "FAILED")
        ph = phases(extras, m["name"])
        text = ""
        if ph:
            objs = sorted((k[len("object "):], v) for k, v in ph.items() if k.startswith("object "))
            text = "load %.2f, rebuild %.2f" % (ph.get("load", 0), ph.get("rebuild", 0))
            if objs:
                text += " (%s)" % ", ".join("%s %.2f" % o for o in objs)
        checked = "%d × %d on %d/%d runs" % (m["targets"], rows, m["good"], m["runs"])
        if m["good"] != m["runs"]:
            checked = "**WRONG** on %d/%d runs: %s" % (m["runs"] - m["good"], m["runs"],
                                                        "; ".join(m["notes"]))
        ratio = "—" if m["x_bl_floor"] is None or m["tool"] == "floor" else "%.2f" % m["x_bl_floor"]
        server = median_extra(extras, m["name"], "server_cpu")
        busy = median_extra(extras, m["name"], "machine_busy")
        busy_text = "—"
        if busy is not None and server is not None and m["wall"]:
            busy_text = "%.0f%% (%.1f)" % (100.0 * busy / (m["wall"] * nproc),
                                           max(0.0, busy - server - m["cpu"]))
        lines.append("| %s | %s | %s | %.2f | %s | %s | %.1f | %s | %s |" % (
            label(m), wall, ratio, m["cpu"], "—" if server is None else "%.2f" % server, busy_text,
            m["rss"], text or "—", checked))

    targets = []
    for name, limit in (("bl_pgcm_1_idx", TARGET_1), ("bl_pgcm_2_idx", TARGET_2)):
        m = by_name.get(name)
        if m:
            targets.append("- %s ≤ %.2f × the server-side floor into ti: %s" % (
                label(m), limit, verdict(m["x_bl_floor"], limit)))
    p1, nd = by_name.get("bl_pgcm_1_idx"), by_name.get("bl_pgcm_1_idx_nodefer")
    if p1 and nd:
        targets.append("- peak RSS unchanged by the deferral: %.1f MiB with it, %.1f MiB with "
                       "--no-defer-indexes" % (p1["rss"], nd["rss"]))

    md = ["## Bulk load of a replaced table (issue 14)", "",
          "Every method runs `BEGIN; TRUNCATE; COPY; COMMIT` on the target: into `ti` (t's "
          "columns and primary key, and secondary indexes on `ts` (timestamptz) and `uid` "
          "(uuid)), or into `t` (primary key only). pgcopyman (`--truncate`) drops the indexes "
          "after the TRUNCATE, loads with COPY FREEZE and re-creates them before the commit; "
          "its phases come from its `--json` (the slowest target's: load = from the drops to "
          "the end of the COPY, rebuild = re-creating and checking every index). The ratios "
          "are to the server-side floor into the same table. Servers' CPU: user + system "
          "seconds of the three clusters' processes during the run (background work included: "
          "autovacuum after the previous load, checkpoints; a process that ended during the run "
          "counts whole, so this can exceed the run's share); machine busy: the share of "
          "the %d CPUs busy during the run (all processes), and in parentheses the CPU seconds "
          "neither the client nor the servers used (other work on the machine)." % nproc, ""]
    md.extend(lines)
    md.append("")
    md.append("| method | command |")
    md.append("| --- | --- |")
    for m in order:
        md.append("| %s | `%s` |" % (label(m), m["command"].replace("|", "\\|")))
    md.append("")
    md.append("Targets:")
    md.append("")
    md.extend(targets)
    md.append("")
    return md, lines + [""] + targets
