#!/usr/bin/env python3
"""The SASS lines with the most stall samples in an Nsight Compute source page
(`ncu -i REP --page source --csv --print-source sass`), with each line's main
stall reasons: usage `sass_stalls.py FILE.csv [N]`."""
import csv
import sys


def num(v):
    try:
        return float(v.replace(",", ""))
    except (ValueError, AttributeError):
        return 0.0


def main():
    path, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with open(path, newline="", errors="replace") as f:
        rows = [r for r in csv.reader(f)]
    head = next((i for i, r in enumerate(rows) if any("Source" == c.strip() for c in r)), None)
    if head is None:
        print(f"top {path}: no source table ({len(rows)} lines)")
        for r in rows[:5]:
            print("  ", ",".join(r)[:200])
        return
    cols, body = rows[head], rows[head + 1:]
    src = next(i for i, c in enumerate(cols) if c.strip() == "Source")
    total = next((i for i, c in enumerate(cols) if "Warp Stall Sampling (All" in c), None)
    reasons = [i for i, c in enumerate(cols) if c.startswith("stall_") or "Stall" in c and i != total]
    if total is None:
        print(f"top {path}: no stall column; columns: {cols[:20]}")
        return
    body = [r for r in body if len(r) > total]
    all_samples = sum(num(r[total]) for r in body) or 1.0
    print(f"top {n} of {len(body)} SASS lines by stall samples ({int(all_samples)} samples), {path}")
    for r in sorted(body, key=lambda r: -num(r[total]))[:n]:
        why = sorted(((num(r[i]), cols[i]) for i in reasons if i < len(r)), reverse=True)[:2]
        whys = "; ".join(f"{c[:28]} {v:.0f}" for v, c in why if v > 0)
        print(f"{100 * num(r[total]) / all_samples:5.1f}%  {r[src].strip()[:70]:70s}  {whys}")


if __name__ == "__main__":
    main()
