#!/usr/bin/env python3
"""GF/s of mosaic (2 ranks, 1 rank) and ScaLAPACK (2 ranks) per routine and size, from
the summary lines benches/mpi/run.sh prints, as an SVG bar chart.
Usage: plot.py results.txt out.svg "title"
"""
import re
import sys

lines = open(sys.argv[1]).read().splitlines()
title = sys.argv[3] if len(sys.argv) > 3 else "GF/s"
rows = {}
for line in lines:
    m = re.match(r"(mosaic|scalapack) routine=(\w+) n=(\d+) .*?grid=(\S+)(?: ranks=(\d+))?.*gflops=([\d.]+)", line)
    if not m:
        continue
    who, routine, n, grid, ranks, gf = m.groups()
    routine = routine.replace("pd", "")
    label = "ScaLAPACK, 2 ranks" if who == "scalapack" else f"mosaic, {ranks} rank{'s' if ranks != '1' else ''}"
    rows.setdefault((routine, int(n)), {})[label] = float(gf)
series = ["mosaic, 2 ranks", "ScaLAPACK, 2 ranks", "mosaic, 1 rank"]
colours = ["#1f77b4", "#ff7f0e", "#9ecae1"]
groups = sorted(rows, key=lambda k: (k[1], ["potrf", "getrf", "geqrf"].index(k[0])))
top = max(v for r in rows.values() for v in r.values()) * 1.15
w, h, left, bottom, plot_h = max(560, 120 + 110 * len(groups)), 380, 60, 320, 260
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
       f'<rect width="{w}" height="{h}" fill="white"/>',
       f'<text x="{left}" y="20" font-size="14">{title}</text>']
for t in range(0, int(top) + 1, 20):
    y = bottom - t / top * plot_h
    out.append(f'<line x1="{left}" x2="{w - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
    out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{t}</text>')
for g, key in enumerate(groups):
    x0 = left + 20 + g * 110
    for s, name in enumerate(series):
        v = rows[key].get(name)
        if v is None:
            continue
        bh = v / top * plot_h
        out.append(f'<rect x="{x0 + s * 26}" y="{bottom - bh:.1f}" width="24" height="{bh:.1f}" fill="{colours[s]}"><title>{name}: {v} GF/s</title></rect>')
        out.append(f'<text x="{x0 + s * 26 + 12}" y="{bottom - bh - 4:.1f}" text-anchor="middle" font-size="9">{v:.0f}</text>')
    out.append(f'<text x="{x0 + 39}" y="{bottom + 16}" text-anchor="middle">{key[0]}</text>')
    out.append(f'<text x="{x0 + 39}" y="{bottom + 30}" text-anchor="middle">n = {key[1]}</text>')
for s, name in enumerate(series):
    x = left + s * 170
    out.append(f'<rect x="{x}" y="{h - 22}" width="12" height="12" fill="{colours[s]}"/><text x="{x + 16}" y="{h - 12}">{name}</text>')
out.append('</svg>')
open(sys.argv[2], "w").write("\n".join(out) + "\n")
