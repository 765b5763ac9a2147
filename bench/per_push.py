"""CPU and context switches per push for bench/per-push.sh.
  per_push.py snapshot NAME=PID...          one line per thread: process, thread name,
                                            context switches, CPU ticks (from /proc)
  per_push.py report BEFORE AFTER LOADGEN_JSON
The report gives per push what each process spent, then the threads that spent at
least a tenth of a millisecond or switched at least once (threads of one name
within a process are summed: actix names all its arbiters alike)."""
import collections
import glob
import json
import sys

TICK_MS = 10.0  # /proc/<pid>/stat counts CPU in 1/100 s


def snapshot(procs):
    for np in procs:
        name, pid = np.split("=", 1)
        for task in glob.glob(f"/proc/{pid}/task/*"):
            try:
                comm = open(f"{task}/comm").read().strip().replace(" ", "_")
                status = open(f"{task}/status").read().splitlines()
                # the command name may hold spaces and parentheses: fields count from the last ')'
                stat = open(f"{task}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the thread ended meanwhile (tokio's idle blocking threads do)
            switches = sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
            # utime and stime: fields 14 and 15 of stat, 12th and 13th after the command name
            print(name, comm, switches, int(stat[11]) + int(stat[12]))


def read(path):
    threads = collections.defaultdict(lambda: [0.0, 0.0])
    for line in open(path):
        proc, thread, switches, ticks = line.split()
        t = threads[(proc, thread)]
        t[0] += float(switches)
        t[1] += float(ticks)
    return threads


def report(before_path, after_path, load_json):
    before, after, load = read(before_path), read(after_path), json.loads(load_json)
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


if __name__ == "__main__":
    if sys.argv[1:2] == ["snapshot"]:
        snapshot(sys.argv[2:])
    else:
        report(*sys.argv[2:5])
