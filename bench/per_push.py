"""Prints CPU and context switches per push from two /proc snapshots taken by
bench/per-push.sh around one load run: per process, then the threads that spent
at least a tenth of a millisecond or switched at least once per push (threads of
one name within a process are summed: actix names all its arbiters alike).
Usage: per_push.py BEFORE AFTER LOADGEN_JSON."""
import collections
import json
import sys

TICK_MS = 10.0  # /proc/<pid>/stat counts CPU in 1/100 s


def read(path):
    threads = collections.defaultdict(lambda: [0.0, 0.0])
    for line in open(path):
        proc, thread, switches, ticks = line.split()
        t = threads[(proc, thread)]
        t[0] += float(switches)
        t[1] += float(ticks)
    return threads


def main():
    before, after, load = read(sys.argv[1]), read(sys.argv[2]), json.loads(sys.argv[3])
    pushes = load["requests"]
    per_thread = {k: [(after[k][i] - before.get(k, [0, 0])[i]) / pushes for i in (0, 1)] for k in after}
    per_proc = collections.defaultdict(lambda: [0.0, 0.0])
    for (proc, _), (sw, ticks) in per_thread.items():
        per_proc[proc][0] += sw
        per_proc[proc][1] += ticks
    print(f"{pushes} pushes of {load['lines'] / pushes:.0f} lines, {load['lines_per_sec']:.0f} lines/s")
    print(f"{'process':22} {'CPU ms':>8} {'switches':>9}   per push")
    for proc, (sw, ticks) in sorted(per_proc.items()):
        print(f"{proc:22} {ticks * TICK_MS:8.3f} {sw:9.1f}")
    total_sw = sum(sw for sw, _ in per_proc.values())
    total_ms = sum(t for _, t in per_proc.values()) * TICK_MS
    print(f"{'total':22} {total_ms:8.3f} {total_sw:9.1f}   ({total_ms * 1000 / (load['lines'] / pushes):.2f} µs per line)")
    busy = [(k, v) for k, v in per_thread.items() if v[1] * TICK_MS >= 0.1 or v[0] >= 1]
    for (proc, thread), (sw, ticks) in sorted(busy, key=lambda kv: -kv[1][1]):
        print(f"  {proc:20} {thread:18} {ticks * TICK_MS:8.3f} {sw:9.1f}")
    print(json.dumps({"bench": "per-push", "pushes": pushes, "cpu_ms_per_push": round(total_ms, 3),
                      "switches_per_push": round(total_sw, 1)}))


main()
