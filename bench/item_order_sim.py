#!/usr/bin/env python3
"""item_order_sim.py — the two simulations behind the persistent kernel's
item order (codegen/nvptx_fa2_persist.c) and the GNA query-tile order
(schedule qgroup=, codegen/nvptx_fa2_coords.c group_index); numbers quoted
in bench/RESULTS.md (2026-12-04 runs 24-26). No GPU, no attnc.

  bench/item_order_sim.py balance
      causal work per block (key tiles + 2 per item for its start and end)
      under a static stride over head-major items, the snake over items
      ordered by query tile rank, and a longest-first greedy schedule (the
      hardware's dispatch of a plain grid behaves like it): the max over
      132 blocks against the mean.
  bench/item_order_sim.py windows
      the K/V a resident set of 132 consecutive query tiles reads (the
      union of their GNA windows, in MB per head at D=128 bf16, K and V),
      for row-major tile numbering, for slabs of a stride group's tiles
      along the first dim (qgroup=N) and, in 3-D, for a slab's positions
      in chunks of the last dim (qchunk=C), HunyuanVideo and FLUX geometries.
  bench/item_order_sim.py locality
      causal items (query tile rank x (head, batch) pair) on 132 persistent
      blocks under the snake, for three item orders: by rank with the pairs
      fastest (persist=1's order), pair-major, and by rank inside groups of G
      pairs; per order the busiest block against the mean, and the K/V
      (MB, D=128 bf16) of the distinct pairs whose items run at the same
      time, sampled over the run: what the L2 (50 MB on H100/H200) must hold.
      run48 (2026-12-05): persist=1 lost 39% at B=8 N=8192, level-ish at
      B=2 (bench/RESULTS.md).
  bench/item_order_sim.py light
      sinks(4) || window 2047 items (128-row tiles: merged key tiles, the
      sink tile an eighth once apart, + 0.5 a item for its start and end)
      under the snake: pair-major (the default order there), pair-major with
      the first 17 query tiles last by rank, and by rank; the busiest block
      against the mean. The light-last order predicted 1.031 -> 1.003 here;
      as a kernel switch it was 0.7% slower on an H100 (run97, 2026-12-07)
      and was removed: kept as the record of a prediction that missed.
"""
import heapq
import itertools
import sys

SMS = 132


def balance():
    def loads(items, order):
        out = [0] * SMS
        for i, w in enumerate(items):
            k, b = divmod(i, SMS)
            out[b if order == "stride" or k % 2 == 0 else SMS - 1 - b] += w + 2
        return max(out)

    def greedy(items):
        h = [(0, b) for b in range(SMS)]
        for w in items:
            t, b = heapq.heappop(h)
            heapq.heappush(h, (t + w + 2, b))
        return max(t for t, _ in h)

    print(f"{'nq x heads x batch':>20} {'mean':>7} {'stride, head-major':>19} {'snake, by rank':>15} {'greedy':>7}")
    for nq, heads, batch in [(128, 16, 1), (64, 16, 2), (32, 16, 4), (256, 16, 1)]:
        head_major = [nq - x for _ in range(heads * batch) for x in range(nq)]
        by_rank = [nq - x for x in range(nq) for _ in range(heads * batch)]
        mean = sum(w + 2 for w in by_rank) / SMS
        print(f"{f'{nq} x {heads} x {batch}':>20} {mean:7.0f} {loads(head_major, 'stride'):19d} "
              f"{loads(by_rank, 'snake'):15d} {greedy(by_rank):7d}")


def windows():
    def key_tiles(tile, box, stride, window, ext):
        ranges = []
        for d in range(len(box)):
            p = tile[d] * box[d]
            center = (p // stride[d]) * stride[d] + stride[d] // 2
            start = min(max(center - window[d] // 2, 0), ext[d] - window[d])
            ranges.append(range(start // box[d], (start + window[d] - 1) // box[d] + 1))
        return set(itertools.product(*ranges))

    def slab_major(nt, group, chunk=0):
        """qgroup=group, and qchunk=chunk (chunks of the last dim inside a slab)"""
        out = []
        last = nt[-1]
        chunk = chunk if chunk > 1 else last
        for s in range(0, nt[0], group):
            for c0 in range(0, last, chunk):
                for mid in itertools.product(*[range(n) for n in nt[1:-1]]):
                    for w in range(c0, min(c0 + chunk, last)):
                        for t in range(s, min(s + group, nt[0])):
                            out.append((t,) + mid + (w,))
        return out

    cases = [("HunyuanVideo 30x48x80", (30, 48, 80), (2, 8, 8), (16, 8, 8), (18, 24, 24)),
             ("FLUX 256x256", (256, 256), (8, 16), (16, 16), (80, 80))]
    for name, ext, box, stride, window in cases:
        nt = [(e + b - 1) // b for e, b in zip(ext, box)]
        group = stride[0] // box[0]
        orders = [("row-major", list(itertools.product(*[range(n) for n in nt]))),
                  (f"qgroup={group}", slab_major(nt, group))]
        if len(nt) == 3:
            orders += [(f"qgroup={group} qchunk={c}", slab_major(nt, group, c)) for c in (4, 2)]
        for label, order in orders:
            sets = [key_tiles(t, box, stride, window, ext) for t in order]
            total = count = 0
            for i in range(0, len(order) - SMS, 11):
                total += len(set().union(*sets[i:i + SMS]))
                count += 1
            print(f"{name:24} {label:19} {total / count * 64 / 1024:6.1f} MB of K/V per head in flight")


def locality():
    def run(items, dynamic=False):
        """items: (work, pair) in order; the snake assigns item i to a
        block (dynamic: the first free block takes it, as the hardware
        dispatches a plain grid or an atomic counter would); returns
        (max/mean load, mean distinct pairs in flight)"""
        t = [0] * SMS
        spans = []
        free = [(0, b) for b in range(SMS)]
        for i, (w, pair) in enumerate(items):
            if dynamic:
                _, b = heapq.heappop(free)
            else:
                k, b = divmod(i, SMS)
                b = b if k % 2 == 0 else SMS - 1 - b
            spans.append((t[b], t[b] + w + 2, pair))
            t[b] += w + 2
            if dynamic:
                heapq.heappush(free, (t[b], b))
        end = max(t)
        events = sorted(spans)
        pairs = 0.0
        samples = 200
        for j in range(samples):
            at = end * (j + 0.5) / samples
            pairs += len({p for a, e, p in events if a <= at < e})
        return end / (sum(t) / SMS), pairs / samples

    def grouped(nq, npairs, g):
        return [(nq - r, p) for p0 in range(0, npairs, g) for r in range(nq)
                for p in range(p0, min(p0 + g, npairs))]

    print(f"{'case':>18} {'order':>16} {'max/mean':>9} {'pairs':>6} {'K/V MB':>7}")
    for name, nq, npairs, tokens in [("B=8 N=8192", 64, 128, 8192), ("B=2 N=8192", 64, 32, 8192),
                                     ("B=1 N=16384", 128, 16, 16384), ("B=16 N=4096", 32, 256, 4096),
                                     ("B=1 N=32768", 256, 16, 32768)]:
        mb = tokens * 128 * 2 * 2 / 2**20
        orders = [("by rank", [(nq - r, p) for r in range(nq) for p in range(npairs)]),
                  ("pair-major", [(nq - r, p) for p in range(npairs) for r in range(nq)])]
        for g in (2, 4, 8):
            orders.append((f"groups of {g}", grouped(nq, npairs, g)))
        orders.append(("dynamic, pairs", orders[1][1]))
        for label, items in orders:
            imb, pairs = run(items, label.startswith("dynamic"))
            print(f"{name:>18} {label:>16} {imb:9.3f} {pairs:6.1f} {pairs * mb:7.0f}")


def light():
    def weight(x):
        lo = max(0, (128 * x - 2047) // 128)
        return x - lo + 1 + (0.125 if lo > 0 else 0) + 0.5

    def snake(items):
        out = [0.0] * SMS
        for i, w in enumerate(items):
            k, b = divmod(i, SMS)
            out[b if k % 2 == 0 else SMS - 1 - b] += w
        return max(out)

    print(f"{'nq x pairs':>12} {'mean':>8} {'pair-major':>11} {'light last':>11} {'by rank':>8}")
    for nq, hb in [(256, 16), (128, 16), (256, 8), (512, 16), (64, 32)]:
        lt = min(17, nq)
        pairs = [weight(nq - 1 - i % nq) for i in range(nq * hb)]
        last = [weight(nq - 1 - i % (nq - lt)) for i in range(hb * (nq - lt))] + \
               [weight(lt - 1 - j // hb) for j in range(hb * lt)]
        by_rank = [weight(nq - 1 - x) for x in range(nq) for _ in range(hb)]
        mean = sum(pairs) / SMS
        print(f"{f'{nq} x {hb}':>12} {mean:8.1f} {snake(pairs) / mean:11.3f} {snake(last) / mean:11.3f} "
              f"{snake(by_rank) / mean:8.3f}")


if __name__ == "__main__":
    {"balance": balance, "windows": windows, "locality": locality, "light": light}.get(sys.argv[1] if len(sys.argv) > 1 else "", lambda: sys.exit(__doc__))()
