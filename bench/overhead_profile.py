"""Sorts `perf script` samples of the cluster and single-binary runs of
bench/overhead-profile.sh into categories and prints µs of CPU per line pushed:
per process kind (distributor, ingester, other roles) for the cluster, the single
binary, and the difference. A sample goes to the first category found walking its
stack from the leaf up, so kernel work is named by its syscall family before the
user code that caused it. Usage: overhead_profile.py DIR SECONDS FREQUENCY."""
import collections
import json
import re
import sys

CATEGORIES = [
    ("k:pagefault", r"^asm_exc_page_fault"),
    ("k:sched", r"^(finish_task_switch|schedule$|__schedule|epoll_wait|do_epoll_wait|__x64_sys_futex|futex_)"),
    ("k:net", r"^(tcp_|sock_|__sys_sendmsg|__sys_recvfrom|inet_|ip_|__x64_sys_recvfrom|__x64_sys_sendto|do_writev|__x64_sys_writev)"),
    ("k:io", r"^(__x64_sys_fdatasync|ksys_write|ext4_|xfs_|iowrite)"),
    ("chunk", r"lz4_flex|Encoding::compress|MemChunk|HeadBlock|chunk::block"),
    ("stream", r"StreamShardActor|TenantActor|ingester::stream|ingester::shard|ingester::tenant"),
    ("snappy", r"snap::"),
    ("push-decode", r"decode_push|distributor::decode|logproto::"),
    ("wire", r"push_wire|to_wire|from_wire|SizedCodec|SizedDecoder|rpc::codec"),
    ("dist-logic", r"Distributor|distributor::|ring::|validate|LabelCache"),
    ("http", r"actix_http|actix_web|api::push"),
    ("h2/tonic", r"h2::|hyper::|tonic::|tower::"),
    ("gossip", r"chitchat"),
    ("actix", r"actix::|actix_rt"),
    ("tokio", r"tokio::"),
    ("alloc", r"mimalloc|^mi_|^_mi_"),
]
PATTERNS = [(name, re.compile(p)) for name, p in CATEGORIES]


def samples(path):
    """(pid, thread name, frames leaf first) per sample."""
    head, frames = None, []
    with open(path) as f:
        for line in f:
            line = line.rstrip()
            if not line:
                if head:
                    yield head[0], head[1], frames
                head, frames = None, []
            elif not line.startswith(("\t", " ")):
                parts = line.split()
                head, frames = (parts[1].split("/")[0], parts[0]), []
            else:
                parts = line.strip().split(None, 1)
                if len(parts) == 2:
                    frames.append(re.sub(r"\+0x[0-9a-f]+$", "", parts[1]))
    if head:
        yield head[0], head[1], frames


def category(thread, frames):
    if thread == "wal-writer":
        return "WAL"
    for frame in frames:
        for name, pattern in PATTERNS:
            if pattern.search(frame):
                return name
    return "other"


def per_line(directory, run, kinds, secs, freq):
    lines_per_sec = json.load(open(f"{directory}/{run}.json"))["lines_per_sec"]
    counts = collections.Counter()
    for pid, thread, frames in samples(f"{directory}/{run}.txt"):
        kind = kinds.get(pid)
        if kind:
            counts[(kind, category(thread, frames))] += 1
    return {k: n / freq / secs / lines_per_sec * 1e6 for k, n in counts.items()}


def main():
    directory, secs, freq = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    kinds = {}
    for line in open(f"{directory}/pids.txt"):
        name, pid = line.split()
        kind = re.sub(r"-\d+$", "", name)
        kinds[pid] = kind if kind in ("distributor", "ingester", "single") else "other roles"
    cluster = per_line(directory, "cluster", kinds, secs, freq)
    single = per_line(directory, "single", kinds, secs, freq)
    total_c, total_s = sum(cluster.values()), sum(single.values())
    print(f"µs of CPU per line: cluster {total_c:.3f}, single binary {total_s:.3f}, ratio {total_c / total_s:.2f}")
    cols = ("distributor", "ingester", "other roles")
    cats = {c for _, c in cluster} | {c for _, c in single}
    s = {c: single.get(("single", c), 0.0) for c in cats}
    rows = [(c, [cluster.get((k, c), 0.0) for k in cols]) for c in cats]
    rows.sort(key=lambda r: -(sum(r[1]) - s[r[0]]))
    print(f"{'category':<12} {'distrib.':>8} {'ingester':>8} {'others':>8} {'single':>8} {'delta':>8}")
    for c, v in rows:
        print(f"{c:<12} {v[0]:>8.3f} {v[1]:>8.3f} {v[2]:>8.3f} {s[c]:>8.3f} {sum(v) - s[c]:>+8.3f}")
    print(json.dumps({"bench": "overhead-profile", "cluster_us_per_line": round(total_c, 3),
                      "single_us_per_line": round(total_s, 3)}))


if __name__ == "__main__":
    main()
