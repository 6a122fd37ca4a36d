"""Plots GF/s against the host budget (n = 8192) from a benches/out_of_core.sh log.

python3 docs/runs/plot_out_of_core.py docs/runs/out-of-core-2026-12-07.txt out.svg
"""
import sys

rows = []
for line in open(sys.argv[1]):
    if line.startswith("op="):
        rows.append(dict(kv.split("=", 1) for kv in line.split()))
data = {}
for r in rows:
    if r["n"] != "8192":
        continue
    data.setdefault(r["op"], {}).setdefault(int(r["budget_mib"]), []).append(float(r["gflops"]))

budgets = [0, 256, 128, 64]  # 0: no limit; the matrix is 512 MiB
labels = ["no limit", "1/2 (256 MiB)", "1/4 (128 MiB)", "1/8 (64 MiB)"]
colors = {"potrf": "#1f77b4", "getrf": "#d62728", "geqrf": "#2ca02c"}
names = {"potrf": "Cholesky", "getrf": "LU", "geqrf": "QR"}
W, H, L, R, T, B = 640, 400, 60, 150, 40, 60
ymax = max(max(v) for d in data.values() for v in d.values()) * 1.1
x = lambda i: L + i * (W - L - R) / (len(budgets) - 1)
y = lambda v: H - B - v / ymax * (H - T - B)
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W/2 - 60}" y="20" font-size="14">f64, n = 8192: GF/s against host budget</text>']
for k in range(0, int(ymax) + 1, 20):
    out.append(f'<line x1="{L}" x2="{W-R}" y1="{y(k)}" y2="{y(k)}" stroke="#ddd"/>')
    out.append(f'<text x="{L-8}" y="{y(k)+4}" text-anchor="end">{k}</text>')
for i, lab in enumerate(labels):
    out.append(f'<text x="{x(i)}" y="{H-B+20}" text-anchor="middle">{lab}</text>')
out.append(f'<text x="15" y="{H/2}" transform="rotate(-90 15 {H/2})" text-anchor="middle">GF/s (median)</text>')
for j, (op, d) in enumerate(sorted(data.items())):
    pts = []
    for i, b in enumerate(budgets):
        if b in d:
            v = sorted(d[b])[len(d[b]) // 2]
            pts.append((x(i), y(v)))
    c = colors.get(op, "black")
    out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (c, " ".join(f"{a},{b}" for a, b in pts)))
    for a, b in pts:
        out.append(f'<circle cx="{a}" cy="{b}" r="3" fill="{c}"/>')
    out.append(f'<text x="{W-R+15}" y="{T+20+18*j}" fill="{c}">{names.get(op, op)}</text>')
out.append("</svg>")
open(sys.argv[2], "w").write("\n".join(out))
