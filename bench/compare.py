"""Join attnc's benchmark (attnc_bench.jsonl from scripts/gpu-run.sh) with the
anchors of the same run (anchors.jsonl from bench/anchors.py) and print a
markdown table of TFLOP/s and ratios (attnc / anchor; > 1 means attnc is faster).

usage: python3 bench/compare.py OUT_DIR   (writes OUT_DIR/results.md too)
"""
import json, os, sys


def load(path):
    rows = []
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    return rows


def anchor(anchors, case, n, d, impl):
    for a in anchors:
        if a.get("case") == case and a.get("impl") == impl and "tflops" in a:
            if a.get("N") in (None, n) and a.get("D") in (None, d):
                return a["tflops"]
    return None


def cell(x):
    return "—" if x is None else "%.0f" % x


def ratio(a, b):
    return "—" if a is None or not b else "%.2f" % (a / b)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUT", ".")
    ours, anchors = load(os.path.join(out, "attnc_bench.jsonl")), load(os.path.join(out, "anchors.jsonl"))
    lines = ["| case | N | D | attnc TFLOP/s | ms | FA2 | ×FA2 | cuDNN | ×cuDNN | Flex | ×Flex | cold compile ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in ours:
        r = row.get("result") or {}
        case, n, d = row.get("anchor"), r.get("tokens"), r.get("head_dim")
        t = r.get("tflops")
        fa2, cud, flex = (anchor(anchors, case, n, d, i) for i in ("sdpa_flash2", "sdpa_cudnn", "flex_attention"))
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row.get("name"), n, d, cell(t), "%.3f" % r["time_ms"] if "time_ms" in r else "—",
            cell(fa2), ratio(t, fa2), cell(cud), ratio(t, cud), cell(flex), ratio(t, flex),
            "%.0f" % r["compile_ms"] if "compile_ms" in r else row.get("error", "—")))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
