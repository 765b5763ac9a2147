"""Renders deploy/helm/skald with Helm's own engine (helm-python-sdk binds Helm's Go
SDK) and checks what a cluster would be given: helm lint --strict passes; every
manifest is valid against the Kubernetes schema; every Service selects pods the
chart runs; every address in the Skald config and the gateway's routing names a
rendered Service; each workload's exact args load the rendered config in Skald
(-verify-config); the gateway's nginx.conf passes `nginx -t`.

Run by tests/helm.rs: python3 check_chart.py <chart dir> <skald binary> <seed values>.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import helm_python as helm
import kubernetes_validate
import yaml

CHART, SKALD, SEED_VALUES = sys.argv[1], sys.argv[2], sys.argv[3]
KUBE = "1.30.0"
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def render(values):
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values, name="logs", namespace="logging")
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def pod_labels(doc):
    return doc["spec"]["template"]["metadata"]["labels"]


def host_of(addr):
    """Service name of `name:port`, `http://name:port` or `name.ns.svc...:port`."""
    addr = re.sub(r"^\w+://", "", addr)
    return addr.split(":")[0].split(".")[0]


def verify_config(config_text, workload, env_ok_keys):
    """Runs the workload's own args against the rendered config file."""
    container = workload["spec"]["template"]["spec"]["containers"][0]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "config.yaml")
        with open(path, "w") as f:
            f.write(config_text)
        args = [a.replace("/etc/skald/config.yaml", path) for a in container["args"]]
        args.append("-common.path-prefix=" + d)
        env = dict(os.environ, POD_IP="10.1.2.3")
        p = subprocess.run([SKALD, *args, "-verify-config"], capture_output=True, text=True, env=env)
    name = workload["metadata"]["name"]
    check(p.returncode == 0, f"{name}: skald {' '.join(args)} -verify-config failed: {p.stderr}")
    if not env_ok_keys:
        check("ignored" not in p.stderr, f"{name}: the chart's own config has keys Skald ignores: {p.stderr}")
    return p.returncode == 0


def nginx_test(conf):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory() as d:
        # the container's paths (/tmp/...) become the scratch directory's
        conf = conf.replace("/tmp/", d + "/")
        path = os.path.join(d, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        p = subprocess.run([nginx, "-t", "-p", d, "-c", path], capture_output=True, text=True)
    return check(p.returncode == 0, f"nginx -t: {p.stderr}")


def scenario(name, values, expect, env_ok_keys=False):
    docs = render(values)
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d)
        try:
            kubernetes_validate.validate(d, KUBE, strict=True)
        except Exception as e:  # a schema error names the field
            check(False, f"{name}: {d['kind']}/{d['metadata']['name']} is not valid Kubernetes {KUBE}: {e}")
    workloads = kinds.get("Deployment", []) + kinds.get("StatefulSet", [])
    services = {s["metadata"]["name"]: s for s in kinds.get("Service", [])}
    config_maps = {c["metadata"]["name"]: c for c in kinds.get("ConfigMap", [])}

    # which Skald targets run, as what, how many
    skald = [w for w in workloads if w["spec"]["template"]["spec"]["containers"][0]["name"] not in ("nginx", "memcached")]
    targets = {}
    for w in skald:
        args = w["spec"]["template"]["spec"]["containers"][0]["args"]
        t = [a.split("=", 1)[1] for a in args if a.startswith("-target=")]
        check(len(t) == 1, f"{name}: {w['metadata']['name']} has no single -target")
        targets[t[0]] = (w["kind"], w["spec"]["replicas"], bool(w["spec"].get("volumeClaimTemplates")))
    for target, (kind, replicas, claims) in expect.items():
        check(targets.get(target) == (kind, replicas, claims),
              f"{name}: target {target}: expected {(kind, replicas, claims)}, rendered {targets.get(target)}")
    check(set(targets) == set(expect), f"{name}: targets {sorted(targets)}, expected {sorted(expect)}")

    # every Service selects pods of some workload
    for sname, s in services.items():
        sel = s["spec"]["selector"]
        hit = [w for w in workloads if all(pod_labels(w).get(k) == v for k, v in sel.items())]
        check(hit, f"{name}: Service {sname} selects no pod")
    members = services.get("logs-skald-memberlist")
    if check(members is not None, f"{name}: no memberlist Service"):
        sel = members["spec"]["selector"]
        for w in skald:
            check(all(pod_labels(w).get(k) == v for k, v in sel.items()),
                  f"{name}: {w['metadata']['name']} is not behind the memberlist Service")

    # the config: every address names a rendered Service; every workload's args load it
    text = config_maps["logs-skald"]["data"]["config.yaml"]
    cfg = yaml.safe_load(text)
    addrs = list(cfg.get("memberlist", {}).get("join_members", []))
    addrs += [cfg.get(s, {}).get("scheduler_address", "") for s in ("frontend", "frontend_worker")]
    addrs.append(cfg.get("frontend", {}).get("tail_proxy_url", ""))
    addrs.append(cfg.get("storage_config", {}).get("tsdb_shipper", {}).get("index_gateway_client", {}).get("server_address", ""))
    for a in filter(None, addrs):
        check(host_of(a) in services, f"{name}: config address {a} names no rendered Service")
    mc = cfg.get("chunk_store_config", {}).get("chunk_cache_config", {}).get("memcached_client", {})
    if mc:
        # one address per memcached pod: <statefulset>-<i>.<headless service>:11211
        pods = mc["addresses"].split(",")
        sts = [w for w in workloads if w["spec"]["template"]["spec"]["containers"][0]["name"] == "memcached"]
        check(len(sts) == 1 and sts[0]["kind"] == "StatefulSet", f"{name}: memcached is not one StatefulSet")
        if sts:
            check(len(pods) == sts[0]["spec"]["replicas"], f"{name}: memcached addresses {pods}")
            for i, a in enumerate(pods):
                pod, svc = a.split(":")[0].split(".")[:2]
                check(pod == f"{sts[0]['metadata']['name']}-{i}" and svc == sts[0]["spec"]["serviceName"]
                      and services.get(svc, {}).get("spec", {}).get("clusterIP") == "None",
                      f"{name}: memcached address {a} is not a pod of the headless Service")
    for w in skald:
        verify_config(text, w, env_ok_keys)

    # the gateway routes to rendered Services and its nginx.conf loads
    gw = config_maps.get("logs-skald-gateway")
    if gw:
        conf = gw["data"]["nginx.conf"]
        routed = re.findall(r"set \$\w+\s+([^;]+);", conf)
        rules = "ruler" in expect or "all" in expect
        check(len(routed) == (4 if rules else 3), f"{name}: gateway routes {routed}")
        check(("/prometheus/api/v1/" in conf) == rules, f"{name}: ruler routes present: {not rules}")
        for r in routed:
            check(host_of(r) in services, f"{name}: gateway routes to {r}, not a rendered Service")
        check("client_max_body_size 100M;" in conf, f"{name}: the gateway keeps nginx's 1 MB body limit")
        nginx_test(conf)
        deploy = [w for w in workloads if w["metadata"]["name"] == "logs-skald-gateway"][0]
        got = deploy["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        check(got == hashlib.sha256(conf.rstrip("\n").encode()).hexdigest(),
              f"{name}: the gateway pods' checksum is not the hash of their nginx.conf")
    return docs, cfg


def main():
    lint = helm.lint(CHART, strict=True)
    bad = [m for m in lint["messages"] if m["severity"] >= 2] + lint["errors"]
    check(not bad, f"helm lint --strict: {bad}")

    gw = {"gateway": {"resolver": "127.0.0.1"}}
    distributed = {
        "distributor": ("Deployment", 2, False),
        "ingester": ("StatefulSet", 3, True),
        "querier": ("Deployment", 2, False),
        "query-frontend": ("Deployment", 2, False),
        "query-scheduler": ("Deployment", 1, False),
        "index-gateway": ("StatefulSet", 1, False),
    }
    _, cfg = scenario("default", gw, distributed)
    check(cfg["common"]["replication_factor"] == 3, "default: replication factor is not 3")

    extra = dict(distributed, ruler=("StatefulSet", 1, False), compactor=("StatefulSet", 1, False))
    on = {"enabled": True}
    _, cfg = scenario("ruler+compactor+memcached",
                      {**gw, "ruler": on, "compactor": on, "memcachedChunks": {"enabled": True, "replicas": 2}}, extra)
    check("memcached_client" in json.dumps(cfg), "memcached on: the config has no memcached_client")

    _, cfg = scenario("single binary", {**gw, "deploymentMode": "SingleBinary", "storage": {"type": "filesystem"}},
                      {"all": ("StatefulSet", 1, True)})
    check(cfg["common"]["replication_factor"] == 1, "single binary, one replica: replication factor is not 1")
    check("filesystem" in cfg["storage_config"], "filesystem storage: no storage_config.filesystem")

    # the seed deployment's values (written for loki-distributed) work unchanged
    with open(SEED_VALUES) as f:
        seed = helm.values_from_yaml(f.read())  # Helm's own YAML reading (dates stay strings)
    seed.setdefault("gateway", {})["resolver"] = "127.0.0.1"
    seeded = dict(distributed, ingester=("StatefulSet", 2, True), querier=("StatefulSet", 2, True))
    docs, cfg = scenario("seed values", seed, seeded, env_ok_keys=True)
    check(cfg["common"]["replication_factor"] == 1, "seed values (2 ingesters): replication factor is not 1")
    check(cfg["storage_config"]["aws"]["bucketnames"] == "loki-data", "seed values: structuredConfig not merged")
    check(cfg["schema_config"]["configs"][0]["store"] == "boltdb-shipper", "seed values: schema_config not merged")
    claims = [d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"].endswith("-ingester")]
    sc = claims[0]["spec"]["volumeClaimTemplates"][0]["spec"] if claims else {}
    check(sc.get("storageClassName") == "local-path" and sc["resources"]["requests"]["storage"] == "1Gi",
          f"seed values: ingester persistence {sc}")
    gwconf = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "logs-skald-gateway"][0]
    check("client_max_body_size 100M;" in gwconf["data"]["nginx.conf"], "seed values: nginx snippets missing")

    # values that cannot work are errors, not a broken release
    for bad, says in [
        ({"deploymentMode": "Distributd"}, "deploymentMode"),
        ({"loki": {"replicationFactor": 3}, "ingester": {"replicas": 2}}, "replicationFactor"),
        ({"storage": {"type": "filesystem"}}, "filesystem"),
        ({"deploymentMode": "SingleBinary", "storage": {"type": "filesystem"}, "singleBinary": {"replicas": 2}},
         "filesystem"),
    ]:
        try:
            render(bad)
            check(False, f"{bad} rendered")
        except Exception as e:
            check(says in str(e), f"{bad}: {e}")

    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print("chart ok: lint, 4 value sets, Kubernetes schema, services, skald -verify-config, nginx -t")


main()
