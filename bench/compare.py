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


# Sparse cases measured against dense attention on the same tokens: the
# anchor there is cuDNN dense (speedup = its time / attnc's time, NATTEN's
# measure) and attnc's own dense on the same tokens (useful TFLOP/s ratio,
# GNA's "speed of light" is 1.0).
SAME_TOKENS = {"flux_na": "flux_dense", "flux_gna": "flux_dense",
               "hunyuan_na": "hunyuan_dense", "hunyuan_gna": "hunyuan_dense"}


def dense_table(ours, anchors):
    lines = ["| case | attnc ms | attnc TFLOP/s | cuDNN dense ms | speedup vs cuDNN dense | attnc dense TFLOP/s | useful / own dense |",
             "|---|---|---|---|---|---|---|"]
    for row in ours:
        dense = SAME_TOKENS.get(row.get("anchor"))
        r = row.get("result") or {}
        if not dense or "time_ms" not in r:
            continue
        cud = next((a for a in anchors if a.get("case") == dense and a.get("impl") == "sdpa_cudnn" and "ms" in a), None)
        own = next(((o.get("result") or {}) for o in ours if o.get("anchor") == dense and "time_ms" in (o.get("result") or {})), {})
        lines.append("| %s | %.3f | %s | %s | %s | %s | %s |" % (
            row.get("name"), r["time_ms"], cell(r.get("tflops")), "%.3f" % cud["ms"] if cud else "—",
            "%.2f" % (cud["ms"] / r["time_ms"]) if cud else "—", cell(own.get("tflops")),
            ratio(r.get("tflops"), own.get("tflops"))))
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""


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
    extra = dense_table(ours, anchors)
    if extra:
        text += "\nSparse cases against dense attention on the same tokens:\n\n" + extra
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
