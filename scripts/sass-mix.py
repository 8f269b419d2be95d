#!/usr/bin/env python3
"""sass-mix.py — the machine-code mix of every recipe's GPU forward kernel,
so that two builds of attnc can be compared (a code-generation refactor
that should not change the code: same instruction classes per kernel).

  scripts/sass-mix.py run ATTNC [-o OUT.tsv] [-j N] [--keep DIR]
      compiles recipes/*.attn and bench/recipes/*.attn with `ATTNC ptx`
      under each configuration of CONFIGS (sm_80; sm_90a default, which
      takes the TMA producer on sequences and grid boxes, also under
      ATTNC_TMA_FENCE=0; sm_90a mma=sync;
      the producer with cp.async; overlap=1 and 2; the split producer),
      runs `ptxas -v` and `cuobjdump -sass` and writes one line per kernel:
      config, recipe, status, registers, spill bytes (stores, loads), the
      counts of each class of CLASSES and the total.
  scripts/sass-mix.py bwd TEST_PTX_BACKWARD [-o OUT.tsv] [-j N]
      the backward's modules instead (codegen/nvptx_bwd*.c): runs the
      build's tests/ptx test_ptx_test_ptx_backward under each of
      BWD_CONFIGS (mma.sync on sm_80 and sm_90a; the wgmma backward with
      ATTNC_BWD_PRODUCER=0/1/2, the SDP pipe, overlap 3, 64-key dK/dV
      tiles), each build for the dQ kernel (deterministic), atomic and bulk
      dQ, with ATTNC_PTX_DUMP (ptxas stubbed: the modules are assembled
      here), and writes one line per kernel of each module (recipe:
      MODULE:KERNEL), in the same columns, so `compare` reads it.
  scripts/sass-mix.py compare BEFORE.tsv AFTER.tsv
      per kernel: the classes that differ (the gate: none), and per
      configuration the sums of registers, spills and instructions.

Tools: $PTXAS (default /usr/local/cuda/bin/ptxas), $CUOBJDUMP (default
cuobjdump on PATH, then /usr/local/cuda/bin/cuobjdump; a CUDA 13 cuobjdump
needs nvdisasm on PATH or in $NVDISASM_PATH). A configuration a
recipe cannot take (e.g. overlap on a recipe whose tiles do not allow it)
is recorded as its first error line; both builds should refuse the same.
"""
import argparse
import collections
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

# name, arch, --schedule (None: the default; a list: alternatives, the
# first the recipe accepts: a sequence's tiles, then a 2-D and a 3-D grid's
# boxes, as test_gpu_grid_tma takes them), extra environment
SEQ_TILES = "q=128 kv=128 stages=2 warps=8"
GRID_TILES = ["q=8x16 kv=16x8 stages=2 warps=8", "q=4x8x4 kv=4x4x4 stages=2 warps=8"]


def alts(fields):
    return [fields] + [f"{g} {fields}" for g in GRID_TILES]


CONFIGS = [
    ("sm80", "sm_80", None, {}),
    ("sm90", "sm_90a", None, {}),
    ("sm90_sync", "sm_90a", "mma=sync", {}),
    ("sm90_nofence", "sm_90a", None, {"ATTNC_TMA_FENCE": "0"}),
    ("ws", "sm_90a", alts("mma=wgmma_ws"), {}),
    ("ws_cpasync", "sm_90a", alts("mma=wgmma_ws"), {"ATTNC_GRID_TMA": "0"}),
    ("ov1", "sm_90a", alts("mma=wgmma_ws overlap=1"), {}),
    ("ov1_seq128", "sm_90a", SEQ_TILES + " mma=wgmma_ws overlap=1", {}),
    ("ov2_seq128", "sm_90a", SEQ_TILES + " mma=wgmma_ws overlap=2", {}),
    ("ov1_split", "sm_90a", SEQ_TILES + " mma=wgmma_ws overlap=1", {"ATTNC_OVL_SPLIT_PRODUCER": "1"}),
    ("ov1_cpasync", "sm_90a", alts("mma=wgmma_ws overlap=1"), {"ATTNC_GRID_TMA": "0"}),
    ("ov2_grid", "sm_90a", [f"{g} mma=wgmma_ws overlap=2" for g in GRID_TILES], {}),
]
# SASS opcode (before the first '.') -> class
CLASSES = ["MMA", "LDSM", "G2S", "BAR", "SYNCS", "MUFU", "WARPGROUP", "DEPBAR", "total"]
CLASS_OF = {
    "HMMA": "MMA", "HGMMA": "MMA",
    "LDSM": "LDSM",
    "LDGSTS": "G2S", "UTMALDG": "G2S", "UBLKCP": "G2S",
    "BAR": "BAR",
    "SYNCS": "SYNCS",
    "MUFU": "MUFU",
    "WARPGROUP": "WARPGROUP",
    "DEPBAR": "DEPBAR", "LDGDEPBAR": "DEPBAR",
}
# the backward's modes: name, environment of test_ptx_backward
BWD_CONFIGS = [
    ("bwd_sync", {"ATTNC_PTX_SYNC_ONLY": "1"}),
    ("bwd_p0", {"ATTNC_PTX_WGMMA_ONLY": "1", "ATTNC_BWD_PRODUCER": "0"}),
    ("bwd_p1", {"ATTNC_PTX_WGMMA_ONLY": "1", "ATTNC_BWD_PRODUCER": "1"}),
    ("bwd_p2", {"ATTNC_PTX_WGMMA_ONLY": "1", "ATTNC_BWD_PRODUCER": "2"}),
    ("bwd_pipe_sdp", {"ATTNC_PTX_WGMMA_ONLY": "1", "ATTNC_BWD_PIPE": "2"}),
    ("bwd_ov3", {"ATTNC_PTX_WGMMA_ONLY": "1", "ATTNC_BWD_OVERLAP": "3"}),
    ("bwd_keys64", {"ATTNC_PTX_WGMMA_ONLY": "1", "ATTNC_BWD_DKV_KEYS": "64", "ATTNC_BWD_DKV_BOX": "off"}),
]
FIELDS = ["config", "recipe", "status", "regs", "spill_st", "spill_ld"] + CLASSES


def tool(env_name, names):
    if os.environ.get(env_name):
        return os.environ[env_name]
    for n in names:
        p = shutil.which(n) or (n if os.path.isfile(n) else None)
        if p:
            return p
    sys.exit(f"sass-mix: no {names[0]} (set ${env_name})")


def opcode_counts(sass):
    """Counts per full opcode (e.g. HMMA.16816.F32.BF16) of cuobjdump's text."""
    counts = collections.Counter()
    for line in sass.splitlines():
        m = re.match(r"\s*/\*[0-9a-f]{4,}\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", line)
        if m:
            counts[m.group(2)] += 1
    return counts


def one(attnc, ptxas, cuobjdump, cfg, recipe, keep):
    name, arch, sched, extra = cfg
    env = dict(os.environ, **extra)
    row = {"config": name, "recipe": os.path.basename(recipe)[:-5]}
    with tempfile.TemporaryDirectory() as tmp:
        ptx, cubin = os.path.join(tmp, "k.ptx"), os.path.join(tmp, "k.cubin")
        for spec in sched if isinstance(sched, list) else [sched]:
            cmd = [attnc, "ptx", recipe, "--arch", arch, "-o", ptx] + (["--schedule", spec] if spec else [])
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if not r.returncode:
                break
        if r.returncode:
            why = (r.stderr.strip().splitlines() or ["failed"])[-1]
            row["status"] = "refused:" + re.sub(r"\s+", "_", why)[:80]
            return row, None
        r = subprocess.run([ptxas, "-v", f"-arch={arch}", "-o", cubin, ptx], capture_output=True, text=True)
        if r.returncode:
            row["status"] = "ptxas_failed"
            return row, None
        m = re.search(r"Used (\d+) registers", r.stderr)
        s = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", r.stderr)
        row["regs"] = int(m.group(1)) if m else -1
        row["spill_st"], row["spill_ld"] = (int(s.group(1)), int(s.group(2))) if s else (-1, -1)
        r = subprocess.run([cuobjdump, "-sass", cubin], capture_output=True, text=True)
        sass, ops = r.stdout, opcode_counts(r.stdout)
        if not ops:  # e.g. a cuobjdump that cannot find its nvdisasm ($NVDISASM_PATH)
            sys.exit(f"sass-mix: no SASS from {cuobjdump}: {r.stderr.strip()}")
        if keep:
            base = os.path.join(keep, f"{name}.{row['recipe']}")
            shutil.copy(ptx, base + ".ptx")
            with open(base + ".sass", "w") as f:
                f.write(sass)
    for c in CLASSES:
        row[c] = 0
    for op, n in ops.items():
        c = CLASS_OF.get(op.split(".")[0])
        if c:
            row[c] += n
        row["total"] += n
    row["status"] = "ok"
    return row, ops


def split_sass(sass):
    """cuobjdump's text per function: {name: text}."""
    out, name = {}, None
    for line in sass.splitlines():
        m = re.match(r"\s*Function : (\S+)", line)
        if m:
            name = m.group(1)
            out[name] = []
        elif name:
            out[name].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def bwd_module(ptxas, cuobjdump, cfg, path):
    """One dumped module (NAME.ARCH.DQ.MMA.ptx): a row per kernel."""
    stem = os.path.basename(path)[:-4]
    arch = stem.split(".")[-3]
    key = cfg + ":" + stem.replace(".attn", "")
    with tempfile.TemporaryDirectory() as tmp:
        cubin = os.path.join(tmp, "k.cubin")
        r = subprocess.run([ptxas, "-v", f"-arch={arch}", "-o", cubin, path], capture_output=True, text=True)
        if r.returncode:
            return [({"config": cfg, "recipe": stem, "status": "ptxas_failed"}, None)]
        info = {}
        for m in re.finditer(r"entry function '(\w+)'.*?(\d+) bytes spill stores, (\d+) bytes spill loads"
                             r".*?Used (\d+) registers", r.stderr, re.S):
            info[m.group(1)] = (int(m.group(4)), int(m.group(2)), int(m.group(3)))
        r = subprocess.run([cuobjdump, "-sass", cubin], capture_output=True, text=True)
        funcs = split_sass(r.stdout)
        if not funcs:
            sys.exit(f"sass-mix: no SASS from {cuobjdump}: {r.stderr.strip()}")
    rows = []
    for fn, text in sorted(funcs.items()):
        ops = opcode_counts(text)
        regs, st, ld = info.get(fn, (-1, -1, -1))
        row = {"config": cfg, "recipe": f"{key.split(':', 1)[1]}:{fn}", "status": "ok", "regs": regs,
               "spill_st": st, "spill_ld": ld}
        for c in CLASSES:
            row[c] = 0
        for op, n in ops.items():
            c = CLASS_OF.get(op.split(".")[0])
            if c:
                row[c] += n
            row["total"] += n
        rows.append((row, ops))
    return rows


def cmd_bwd(a):
    test = os.path.abspath(a.test)
    ptxas = tool("PTXAS", ["/usr/local/cuda/bin/ptxas", "ptxas"])
    cuobjdump = tool("CUOBJDUMP", ["cuobjdump", "/usr/local/cuda/bin/cuobjdump"])
    jobs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in BWD_CONFIGS:
            if a.config and name not in a.config:
                continue
            d = os.path.join(tmp, name)
            os.makedirs(d)
            env = dict(os.environ, ATTNC_PTXAS="/bin/true", ATTNC_PTX_DUMP=d, **extra)
            subprocess.run([test], env=env, capture_output=True, text=True)
            jobs += [(name, p) for p in sorted(glob.glob(os.path.join(d, "*.ptx")))]
        with concurrent.futures.ThreadPoolExecutor(a.j) as ex:
            results = [r for rows in ex.map(lambda j: bwd_module(ptxas, cuobjdump, *j), jobs) for r in rows]
    out = open(a.o, "w") if a.o else sys.stdout
    print("\t".join(FIELDS), file=out)
    for row, _ in results:
        print("\t".join(str(row.get(f, "")) for f in FIELDS), file=out)
    if a.o:
        out.close()


def cmd_run(a):
    attnc = os.path.abspath(a.attnc)
    ptxas = tool("PTXAS", ["/usr/local/cuda/bin/ptxas", "ptxas"])
    cuobjdump = tool("CUOBJDUMP", ["cuobjdump", "/usr/local/cuda/bin/cuobjdump"])
    recipes = sorted(glob.glob("recipes/*.attn")) + sorted(glob.glob("bench/recipes/*.attn"))
    if not recipes:
        sys.exit("sass-mix: run from the repository root (no recipes/*.attn)")
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
    jobs = [(c, r) for c in CONFIGS if not a.config or c[0] in a.config for r in recipes]
    with concurrent.futures.ThreadPoolExecutor(a.j) as ex:
        results = list(ex.map(lambda cr: one(attnc, ptxas, cuobjdump, cr[0], cr[1], a.keep), jobs))
    out = open(a.o, "w") if a.o else sys.stdout
    print("\t".join(FIELDS), file=out)
    for row, ops in results:
        print("\t".join(str(row.get(f, "")) for f in FIELDS), file=out)
        if a.opcodes and ops:
            with open(os.path.join(a.opcodes, f"{row['config']}.{row['recipe']}.ops"), "w") as f:
                for op, n in sorted(ops.items()):
                    f.write(f"{op}\t{n}\n")
    if a.o:
        out.close()


def load(path):
    rows = {}
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            d = dict(zip(head, line.rstrip("\n").split("\t")))
            rows[(d["config"], d["recipe"])] = d
    return rows


def cmd_compare(a):
    before, after = load(a.before), load(a.after)
    differ = 0
    sums = collections.OrderedDict()
    order = [c[0] for c in CONFIGS] + [c[0] for c in BWD_CONFIGS]
    for key in sorted(set(before) | set(after), key=lambda k: ((order + [k[0]]).index(k[0]), k[1])):
        b, n = before.get(key), after.get(key)
        if not b or not n:
            print(f"{key[0]} {key[1]}: only in {'after' if n else 'before'}")
            differ += 1
            continue
        if b["status"] != n["status"]:
            print(f"{key[0]} {key[1]}: status {b['status']} -> {n['status']}")
            differ += 1
            continue
        if b["status"] != "ok":
            continue
        moved = [f"{c} {b[c]}->{n[c]}" for c in CLASSES if c != "total" and b[c] != n[c]]
        if moved:
            print(f"{key[0]} {key[1]}: " + ", ".join(moved))
            differ += 1
        s = sums.setdefault(key[0], collections.Counter())
        s["kernels"] += 1
        for f in ("regs", "spill_st", "total"):
            s[f + "_b"] += int(b[f])
            s[f + "_a"] += int(n[f])
        d = int(n["regs"]) - int(b["regs"])
        s["rmin"], s["rmax"] = min(s["rmin"], d), max(s["rmax"], d)
    print()
    print("| config | kernels | registers, summed change (per kernel) | spill stores before→after | "
          "SASS instructions before→after |")
    print("|---|---|---|---|---|")
    for cfg, s in sums.items():
        dr = s["regs_a"] - s["regs_b"]
        pct = 100.0 * (s["total_a"] - s["total_b"]) / max(s["total_b"], 1)
        print(f"| {cfg} | {s['kernels']} | {dr:+d} ({s['rmin']:+d}…{s['rmax']:+d}) | "
              f"{s['spill_st_b']}→{s['spill_st_a']} | {s['total_b']}→{s['total_a']} ({pct:+.2f}%) |")
    print()
    print(f"{differ} kernel(s) with a different instruction-class mix or status")
    return 1 if differ else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("attnc")
    r.add_argument("-o", help="write the table here (default stdout)")
    r.add_argument("-j", type=int, default=2, help="parallel kernels (default 2)")
    r.add_argument("--config", action="append", help="only these configurations (repeatable)")
    r.add_argument("--keep", help="keep each kernel's PTX and SASS in this folder")
    r.add_argument("--opcodes", help="write each kernel's per-opcode counts into this folder")
    w = sub.add_parser("bwd")
    w.add_argument("test", help="the build's tests/ptx/test_ptx_test_ptx_backward")
    w.add_argument("-o", help="write the table here (default stdout)")
    w.add_argument("-j", type=int, default=2, help="parallel modules (default 2)")
    w.add_argument("--config", action="append", help="only these configurations (repeatable)")
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    a = p.parse_args()
    if a.cmd == "run":
        if a.opcodes:
            os.makedirs(a.opcodes, exist_ok=True)
        cmd_run(a)
        return 0
    if a.cmd == "bwd":
        cmd_bwd(a)
        return 0
    return cmd_compare(a)


if __name__ == "__main__":
    sys.exit(main())
