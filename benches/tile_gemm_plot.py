#!/usr/bin/env python3
"""GFLOP/s of one tile product against the tile size, from the table the tile_gemm bench
prints: a panel per element type, a colour per library (mosaic's kernel on packed operands
apart), solid for A·Bᵀ, dashed for A·B, dotted for syrk.
Usage: tile_gemm_plot.py table.txt out.svg "title"
"""
import sys

rows = {}
for line in open(sys.argv[1]):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 7 or cells[0] not in ("f64", "f32"):
        continue
    ty, product, n = cells[0], cells[1], int(cells[2])
    for lib, v in zip(("mosaic", "mosaic, packed", "faer", "OpenBLAS"), cells[3:7]):
        if v not in ("–", "-"):
            rows.setdefault((ty, product, lib), []).append((n, float(v)))
title = sys.argv[3] if len(sys.argv) > 3 else "tile product"
colours = {"mosaic": "#d62728", "mosaic, packed": "#ff7f0e", "faer": "#1f77b4", "OpenBLAS": "#2ca02c"}
W, H, pad = 420, 300, 50
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 40}" font-family="sans-serif" font-size="12">',
       f'<text x="{W}" y="18" text-anchor="middle" font-size="14">{title}</text>']
for panel, ty in enumerate(("f64", "f32")):
    series = {k: v for k, v in rows.items() if k[0] == ty}
    if not series:
        continue
    ns = sorted({n for v in series.values() for n, _ in v})
    top = max(g for v in series.values() for _, g in v) * 1.1
    x0, y0 = panel * W + pad, 30
    w, h = W - pad - 20, H - pad - 10
    sx = lambda n: x0 + (ns.index(n)) / max(1, len(ns) - 1) * w
    sy = lambda g: y0 + h - g / top * h
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 - 2}" text-anchor="middle">{ty}, one thread</text>')
    for n in ns:
        out.append(f'<text x="{sx(n)}" y="{y0 + h + 15}" text-anchor="middle">{n}</text>')
    for t in range(0, 6):
        g = top * t / 5
        out.append(f'<text x="{x0 - 5}" y="{sy(g) + 4}" text-anchor="end">{g:.0f}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 32}" text-anchor="middle">tile size n (GFLOP/s up)</text>')
    for (t, product, lib), pts in sorted(series.items()):
        pts.sort()
        path = " ".join(f"{sx(n):.1f},{sy(g):.1f}" for n, g in pts)
        dash = {"A·Bᵀ": '', "A·B": ' stroke-dasharray="5,3"'}.get(product, ' stroke-dasharray="1,3"')
        out.append(f'<polyline points="{path}" fill="none" stroke="{colours[lib]}" stroke-width="2"{dash}/>')
    for i, lib in enumerate(colours):
        ly = y0 + h - 75 + i * 15
        out.append(f'<line x1="{x0 + w - 150}" y1="{ly}" x2="{x0 + w - 130}" y2="{ly}" stroke="{colours[lib]}" stroke-width="2"/>')
        out.append(f'<text x="{x0 + w - 125}" y="{ly + 4}">{lib}</text>')
    out.append(f'<text x="{x0 + w - 150}" y="{y0 + h - 8}">solid A·Bᵀ, dashed A·B, dotted syrk</text>')
out.append("</svg>")
open(sys.argv[2], "w").write("\n".join(out))
