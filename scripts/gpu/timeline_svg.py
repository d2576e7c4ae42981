"""Draws the phase timeline of probe_decode.py as an SVG: one panel per input, one row per phase of the
three forward kernels (prenorm GEMM, coefficients, post), each bar from the phase's start to the last
block's end, waiting in grey. Needs no torch (runs anywhere with python3).

Usage: python3 scripts/gpu/timeline_svg.py --out PICTURE.svg [--T 16] [--cache warm|l2_flushed] INPUT...
INPUT: a probe_decode.py JSON, or FILE#TREE for a results file that holds several trees under
`decode_phase_timeline_us.trees` (e.g. bench/results/cuda-decode-params-h100-2026-11-26.json#base).
"""
import argparse
import json
import math
import sys
from xml.sax.saxutils import escape

KERNEL_COLOURS = {"gemm": "#4c72b0", "coef": "#dd8452", "post": "#55a868"}
WAIT = "#c8c8c8"

# (label, kernel, start, end): a time is (slot, 0) for the first block to reach the slot, (slot, 1) for the last.
ROWS = [
    ("prenorm GEMM", "gemm", ("gemm_entry", 0), ("gemm_end", 1)),
    ("  GEMM: first loads", "gemm", ("gemm_waited", 0), ("gemm_first_step", 1)),
    ("  GEMM: steps before the last", "gemm", ("gemm_first_step", 1), ("gemm_last_step", 1)),
    ("  GEMM: last step's MMAs", "gemm", ("gemm_last_step", 1), ("gemm_computed", 1)),
    ("  GEMM: partials stored", "gemm", ("gemm_computed", 1), ("gemm_end", 1)),
    ("coefficients: wait for the GEMM", None, ("coef_before_wait", 0), ("coef_waited", 0)),
    ("split-K sums", "coef", ("coef_waited", 0), ("coef_reduced", 1)),
    ("  sums: loads and in-order adds", "coef", ("coef_waited", 0), ("coef_sums_loaded", 1)),
    ("  sums: tree in shared memory", "coef", ("coef_sums_loaded", 1), ("coef_sums_tree", 1)),
    ("pre map", "coef", ("coef_reduced", 1), ("coef_pre_map_done", 1)),
    ("res constraint (Sinkhorn)", "coef", ("res_constraint_start", 0), ("res_constraint_end", 1)),
    ("coefficients: stores, end", "coef", ("res_constraint_end", 1), ("coef_end", 1)),
    ("post: wait for coefficients", None, ("post_entry", 0), ("post_waited", 0)),
    ("post: first loads", "post", ("post_waited", 0), ("post_staged", 1)),
    ("post: mix and store", "post", ("post_staged", 1), ("post_end", 1)),
]


def load(spec, T, cache):
    """(panel name, slots) of one input; exits with a message naming what is missing."""
    path, _, tree = spec.partition("#")
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        sys.exit(f"timeline_svg.py: {path}: {exc}")
    if tree:
        trees = data.get("decode_phase_timeline_us", {}).get("trees", {})
        if tree not in trees:
            sys.exit(f"timeline_svg.py: {path} has no tree {tree!r} (it has: {', '.join(trees) or 'none'})")
        node, name = trees[tree], f"{tree} ({path.rsplit('/', 1)[-1]})"
    else:
        if "T" not in data:
            sys.exit(f"timeline_svg.py: {path} is not a probe_decode.py result; for a results file name a tree: {path}#TREE")
        node, name = data["T"], path.rsplit("/", 1)[-1]
    try:
        return name, node[str(T)][cache]["slots_us_first_last_block"]
    except KeyError:
        sys.exit(f"timeline_svg.py: {spec} has no T = {T} with the L2 {cache} (T: {', '.join(node) or 'none'})")


def panel(name, slots, y0, scale, left, width):
    """SVG lines of one panel and its height."""
    row_h, bar_h = 22, 14
    out = [f'<text x="{left}" y="{y0 + 14}" font-size="13" font-weight="bold">{escape(name)}</text>']
    y = y0 + 24
    for label, kernel, (s_slot, s_i), (e_slot, e_i) in ROWS:
        if s_slot not in slots or e_slot not in slots:
            continue
        start, end = slots[s_slot][s_i], slots[e_slot][e_i]
        x0, x1 = left + start * scale, left + max(end, start) * scale
        colour = KERNEL_COLOURS[kernel] if kernel else WAIT
        out.append(f'<text x="{left - 8}" y="{y + bar_h - 3}" font-size="11" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1.0):.1f}" height="{bar_h}" fill="{colour}"/>')
        out.append(f'<text x="{x1 + 4:.1f}" y="{y + bar_h - 3}" font-size="10" fill="#444">{end - start:.2f}</text>')
        y += row_h
    return out, y - y0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--T", type=int, default=16)
    ap.add_argument("--cache", default="warm", choices=["warm", "l2_flushed"])
    ap.add_argument("inputs", nargs="+")
    args = ap.parse_args()
    panels = [load(spec, args.T, args.cache) for spec in args.inputs]
    span = math.ceil(max(max(v[1] for v in slots.values()) for _, slots in panels))
    left, width = 210, 640
    scale = width / span
    body, y = [], 44
    for name, slots in panels:
        lines, h = panel(name, slots, y, scale, left, width)
        body += lines
        y += h + 12
    axis_y = y + 4
    ticks = [f'<line x1="{left}" y1="{axis_y}" x2="{left + width}" y2="{axis_y}" stroke="#333"/>']
    for t in range(span + 1):
        x = left + t * scale
        ticks.append(f'<line x1="{x:.1f}" y1="{44}" x2="{x:.1f}" y2="{axis_y}" stroke="#eee"/>')
        ticks.append(f'<text x="{x:.1f}" y="{axis_y + 14}" font-size="10" text-anchor="middle">{t}</text>')
    ticks.append(f'<text x="{left + width / 2}" y="{axis_y + 30}" font-size="11" text-anchor="middle">microseconds after the prenorm GEMM\'s first block started</text>')
    H, W = axis_y + 44, left + width + 60
    title = f"One pre + post, T = {args.T}, C = 4096, n = 4, bf16, in a CUDA graph (L2 {'warm' if args.cache == 'warm' else 'flushed'}): start of each phase to its last block's end"
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">', f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" font-size="13" text-anchor="middle">{escape(title)}</text>', *ticks, *body, "</svg>"]
    with open(args.out, "w") as f:
        f.write("\n".join(svg) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
