#!/usr/bin/env python3
"""Checks the Kubernetes manifests under deploy/kubernetes, offline.

For every overlay: render it with `kubectl kustomize`, validate every object strictly (unknown
fields and kinds fail) against the schemas of two Kubernetes minor versions with
`kubernetes-validate`, then check what schemas cannot see:

- every Service selects the pods of a workload of the overlay;
- every named target port of a Service is a container port of those pods, same protocol;
- gossip is exposed over both UDP and TCP (SWIM datagrams and rumor streams share the port);
- probes are Warren's: liveness `/healthz`, readiness `/readyz`, on the HTTP port Warren listens
  on (`--listen-http`);
- no workload selects on the role label (it changes with every election);
- a StatefulSet's `serviceName` is a headless Service of the overlay;
- every Warren container's `args` parse with Warren's own CLI parser (`warren check-args`).

`--self-test` breaks a rendered overlay on purpose (a selector, a target port, an argument) and
fails unless each break is caught. Usage: check-manifests.py WARREN_BINARY [--self-test].
"""

import copy
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = ROOT / "deploy" / "kubernetes" / "overlays"
KUBERNETES_VERSIONS = ["1.36.0", "1.37.0"]
WORKLOADS = {"DaemonSet", "StatefulSet", "Deployment"}
ROLE_LABEL = "role"
GOSSIP_PORT = 9638
# Values the kubelet would substitute for `$(VAR)` in args, from the downward API.
DOWNWARD = {"POD_IP": "10.0.0.1", "POD_NAME": "pod-0", "POD_NAMESPACE": "default"}


def render(overlay: Path) -> str:
    return subprocess.run(
        ["kubectl", "kustomize", str(overlay)], check=True, capture_output=True, text=True
    ).stdout


def validate(text: str, name: str) -> list[str]:
    errors = []
    for version in KUBERNETES_VERSIONS:
        r = subprocess.run(
            ["kubernetes-validate", "--strict", "--quiet", "-k", version, "-"],
            input=text,
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            errors.append(f"{name}: invalid against Kubernetes {version}: {r.stdout}{r.stderr}")
    return errors


def pod_spec(w: dict) -> dict:
    return w["spec"]["template"]["spec"]


def pod_labels(w: dict) -> dict:
    return w["spec"]["template"]["metadata"].get("labels", {})


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def listen_port(args: list[str], flag: str) -> int | None:
    for a in args:
        if a.startswith(flag + "="):
            return int(a.rsplit(":", 1)[1])
    return None


def semantics(docs: list[dict], warren: str, name: str) -> list[str]:
    errors = []
    services = [d for d in docs if d["kind"] == "Service"]
    workloads = [d for d in docs if d["kind"] in WORKLOADS]
    for w in workloads:
        wname = f"{name}: {w['kind']}/{w['metadata']['name']}"
        if ROLE_LABEL in w["spec"]["selector"].get("matchLabels", {}):
            errors.append(f"{wname}: selects on the role label {ROLE_LABEL!r}")
        if not matches(w["spec"]["selector"].get("matchLabels", {}), pod_labels(w)):
            errors.append(f"{wname}: its selector does not match its pod template")
        if w["kind"] == "StatefulSet":
            svc = next(
                (s for s in services if s["metadata"]["name"] == w["spec"].get("serviceName")),
                None,
            )
            if svc is None or svc["spec"].get("clusterIP") != "None":
                errors.append(f"{wname}: serviceName is not a headless Service of the overlay")
        for c in pod_spec(w)["containers"]:
            cname = f"{wname} container {c['name']}"
            args = [re.sub(r"\$\((\w+)\)", lambda m: DOWNWARD.get(m[1], m[0]), a)
                    for a in c.get("args", [])]
            r = subprocess.run([warren, "check-args", "--", *args], capture_output=True, text=True)
            if r.returncode != 0:
                errors.append(f"{cname}: args do not parse: {r.stderr.strip()}")
            ports = {p["name"]: p for p in c.get("ports", [])}
            http = listen_port(args, "--listen-http") or 9631
            gossip = {p["protocol"] for p in c.get("ports", []) if p["containerPort"] == GOSSIP_PORT}
            if gossip != {"UDP", "TCP"}:
                errors.append(f"{cname}: gossip port {GOSSIP_PORT} not over both UDP and TCP")
            for probe, path in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]:
                get = c.get(probe, {}).get("httpGet")
                if get is None:
                    errors.append(f"{cname}: no {probe}")
                    continue
                port = get["port"]
                number = ports[port]["containerPort"] if port in ports else port
                if get.get("path") != path or number != http:
                    errors.append(f"{cname}: {probe} is not {path} on the HTTP port {http}")
    for s in services:
        sname = f"{name}: Service/{s['metadata']['name']}"
        selected = [w for w in workloads if matches(s["spec"].get("selector", {}), pod_labels(w))]
        if not selected:
            errors.append(f"{sname}: its selector matches no workload's pods")
            continue
        protocols = set()
        for p in s["spec"]["ports"]:
            protocol = p.get("protocol", "TCP")
            if p["port"] == GOSSIP_PORT:
                protocols.add(protocol)
            target = p.get("targetPort", p["port"])
            for w in selected:
                found = any(
                    cp.get("name") == target if isinstance(target, str) else
                    cp["containerPort"] == target
                    for c in pod_spec(w)["containers"]
                    for cp in c.get("ports", [])
                    if cp.get("protocol", "TCP") == protocol
                )
                if not found:
                    errors.append(f"{sname}: target port {target!r}/{protocol} is no container "
                                  f"port of {w['kind']}/{w['metadata']['name']}")
        if protocols and protocols != {"UDP", "TCP"}:
            errors.append(f"{sname}: gossip port {GOSSIP_PORT} not over both UDP and TCP")
    return errors


def check_overlay(overlay: Path, warren: str) -> tuple[list[str], list[dict]]:
    text = render(overlay)
    docs = [d for d in yaml.safe_load_all(text) if d]
    return validate(text, overlay.name) + semantics(docs, warren, overlay.name), docs


def self_test(docs: list[dict], warren: str) -> list[str]:
    """Breaks the overlay on purpose; every break must be caught."""

    def broken(change) -> list[dict]:
        d = copy.deepcopy(docs)
        change(d)
        return d

    def service(d):
        return next(x for x in d if x["kind"] == "Service")

    def container(d):
        return pod_spec(next(x for x in d if x["kind"] in WORKLOADS))["containers"][0]

    def bad_selector(d):
        service(d)["spec"]["selector"] = {"app.kubernetes.io/name": "no-such-pods"}

    def bad_port(d):
        service(d)["spec"]["ports"][0]["targetPort"] = "no-such-port"

    def bad_arg(d):
        container(d)["args"].append("--no-such-flag")

    def bad_probe(d):
        container(d)["readinessProbe"]["httpGet"]["path"] = "/healthz"

    def unknown_field(d):
        service(d)["spec"]["bogusField"] = 1

    missed = []
    for name, change in [("selector", bad_selector), ("target port", bad_port),
                         ("argument", bad_arg), ("probe", bad_probe)]:
        if not semantics(broken(change), warren, f"broken {name}"):
            missed.append(f"self-test: a broken {name} went unnoticed")
    if not validate(yaml.safe_dump_all(broken(unknown_field)), "unknown field"):
        missed.append("self-test: an unknown field went unnoticed by strict validation")
    return missed


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    warren = sys.argv[1]
    errors = []
    overlays = sorted(p for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists())
    first_docs = None
    for overlay in overlays:
        errs, docs = check_overlay(overlay, warren)
        first_docs = first_docs or docs
        errors += errs
        print(f"{overlay.name}: {len(docs)} objects, {'ok' if not errs else 'FAILED'}")
    if "--self-test" in sys.argv and first_docs:
        errors += self_test(first_docs, warren)
        print("self-test: every deliberate break caught" if not errors else "self-test done")
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
