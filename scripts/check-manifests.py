#!/usr/bin/env python3
"""Checks the Kubernetes manifests under deploy/kubernetes, offline.

For every overlay: render it with `kubectl kustomize`, validate every object strictly (unknown
fields and kinds fail) against the schemas of two Kubernetes minor versions with
`kubernetes-validate`, then check what schemas cannot see:

- every Service selects the pods of a workload of the overlay; the role label (the key a
  container gives `--kubernetes-role-label`) may be in a Service's selector, with a value Warren
  sets (`leader`, `follower`), and the rest of the selector must match the pod template;
- every named target port of a Service is a container port of those pods, same protocol;
- gossip is exposed over both UDP and TCP (SWIM datagrams and rumor streams share the port);
- probes are Warren's: liveness `/healthz`, readiness `/readyz`, on the HTTP port Warren listens
  on (`--listen-http`);
- no workload or PodDisruptionBudget selects on the role label (it changes with every
  election);
- a StatefulSet's `serviceName` is a headless Service of the overlay;
- every Warren container's `args` parse with Warren's own CLI parser (`warren check-args`);
- RBAC: a workload that labels its pod (`--kubernetes-role-label`) mounts its service-account
  token, and the Roles bound to its ServiceAccount grant exactly what `warren-k8s` calls, no more
  and no less; a workload that does not mounts no token and has no Role; every Role is bound, and
  every RoleBinding names a Role and a ServiceAccount of the overlay.

What `warren-k8s` calls is read from its source, `crates/warren-k8s/src/client.rs` (see
`k8s_calls`): every `Request::<method>(<path>)` outside its tests is one call; the HTTP method
gives the verb and the path (which must name a pod path) the resource. A new call there changes
the expected Role at once, so the manifests cannot silently fall behind the client.

`--self-test` breaks a rendered overlay on purpose (a selector, a target port, an argument, a
probe, a field, the role label in a workload selector, a role value, an extra and a missing
verb in the Role, a RoleBinding to another ServiceAccount) and fails unless each break is
caught. Usage: check-manifests.py WARREN_BINARY [--self-test].
"""

import copy
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = ROOT / "deploy" / "kubernetes" / "overlays"
K8S_CLIENT = ROOT / "crates" / "warren-k8s" / "src" / "client.rs"
KUBERNETES_VERSIONS = ["1.36.0", "1.37.0"]
WORKLOADS = {"DaemonSet", "StatefulSet", "Deployment"}
ROLE_LABEL = "role"
ROLE_FLAG = "--kubernetes-role-label"
# The values Warren's labeler sets (warren-k8s `LabelerOptions` defaults).
ROLE_VALUES = {"leader", "follower"}
# HTTP method of a request on one object → the RBAC verb it needs.
HTTP_VERBS = {"get": "get", "patch": "patch", "put": "update", "post": "create",
              "delete": "delete"}
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


def flag_values(args: list[str], flag: str) -> list[str]:
    """The values of `flag` in `args`, given as `--flag=v` or `--flag v`."""
    out = []
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            out.append(a.split("=", 1)[1])
        elif a == flag and i + 1 < len(args):
            out.append(args[i + 1])
    return out


def role_keys(w: dict) -> set[str]:
    """The role label keys the workload's containers set (`--kubernetes-role-label KEY`)."""
    return {k for c in pod_spec(w)["containers"] for k in flag_values(c.get("args", []), ROLE_FLAG)}


def selects(selector: dict, w: dict) -> bool:
    """A Service selector selects the workload's pods: the role label aside, which the pods get
    at run time, it matches the pod template."""
    static = {k: v for k, v in selector.items() if k not in role_keys(w)}
    return matches(static, pod_labels(w))


def k8s_calls(source: Path = K8S_CLIENT) -> dict[tuple[str, str], set[str]]:
    """What warren-k8s calls, from its client's source: {(apiGroup, resource): verbs}.

    Every `Request::<method>(<path>)` before the `#[cfg(test)]` module is one call. A path that
    names no pod (`pod_path`) is refused rather than guessed: teach this function the new
    resource when the client grows one."""
    text = source.read_text().split("#[cfg(test)]", 1)[0]
    if re.search(r"Request::builder|\.method\(", text):
        raise SystemExit(f"{source}: a request built with an explicit method; "
                         "teach check-manifests.py k8s_calls to read it")
    calls: dict[tuple[str, str], set[str]] = {}
    for method, path in re.findall(r"Request::(\w+)\(\s*([^;]*?)\)\s*\.", text):
        if method not in HTTP_VERBS:
            raise SystemExit(f"{source}: unknown request method Request::{method}")
        if "pod" not in path:
            raise SystemExit(f"{source}: Request::{method}({path}): cannot tell its resource; "
                             "teach check-manifests.py k8s_calls")
        calls.setdefault(("", "pods"), set()).add(HTTP_VERBS[method])
    if not calls:
        raise SystemExit(f"{source}: found no request; check-manifests.py k8s_calls is out of date")
    return calls


def role_grants(role: dict, where: str, errors: list[str]) -> dict[tuple[str, str], set[str]]:
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in role.get("rules", []):
        if rule.get("resourceNames") or rule.get("nonResourceURLs"):
            errors.append(f"{where}: a rule with resourceNames or nonResourceURLs")
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                grants.setdefault((group, resource), set()).update(rule.get("verbs", []))
    return grants


def rbac(docs: list[dict], name: str, expected: dict) -> list[str]:
    errors = []

    def by(kind: str) -> dict[str, dict]:
        return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}

    roles, bindings, accounts = by("Role"), by("RoleBinding"), by("ServiceAccount")
    for b in bindings.values():
        bname = f"{name}: RoleBinding/{b['metadata']['name']}"
        if b["roleRef"]["kind"] != "Role" or b["roleRef"]["name"] not in roles:
            errors.append(f"{bname}: binds no Role of the overlay")
        for sub in b.get("subjects", []):
            if sub["kind"] != "ServiceAccount" or sub["name"] not in accounts:
                errors.append(f"{bname}: subject {sub['kind']}/{sub['name']} is no ServiceAccount "
                              "of the overlay")
    bound = {b["roleRef"]["name"] for b in bindings.values()}
    for r in roles:
        if r not in bound:
            errors.append(f"{name}: Role/{r} is bound to nothing")
    for w in docs:
        if w["kind"] not in WORKLOADS:
            continue
        wname = f"{name}: {w['kind']}/{w['metadata']['name']}"
        spec = pod_spec(w)
        sa = spec.get("serviceAccountName", "default")
        token = spec.get("automountServiceAccountToken",
                         accounts.get(sa, {}).get("automountServiceAccountToken", True))
        grants: dict[tuple[str, str], set[str]] = {}
        for b in bindings.values():
            if any(s["kind"] == "ServiceAccount" and s["name"] == sa for s in b.get("subjects", [])):
                role = roles.get(b["roleRef"]["name"])
                if role is not None:
                    for k, v in role_grants(role, f"{name}: Role/{role['metadata']['name']}",
                                            errors).items():
                        grants.setdefault(k, set()).update(v)
        if role_keys(w):
            if not token:
                errors.append(f"{wname}: labels its pod but mounts no service-account token")
            if grants != expected:
                errors.append(f"{wname}: ServiceAccount {sa} is granted {fmt_grants(grants)}; "
                              f"warren-k8s calls exactly {fmt_grants(expected)}")
        else:
            if token:
                errors.append(f"{wname}: mounts a service-account token it does not use")
            if grants:
                errors.append(f"{wname}: ServiceAccount {sa} is granted {fmt_grants(grants)} "
                              "but the workload calls no API")
    return errors


def fmt_grants(grants: dict) -> str:
    return "; ".join(f"{sorted(v)} on {r} (apiGroup {g!r})"
                     for (g, r), v in sorted(grants.items())) or "nothing"


def listen_port(args: list[str], flag: str) -> int | None:
    for a in args:
        if a.startswith(flag + "="):
            return int(a.rsplit(":", 1)[1])
    return None


def semantics(docs: list[dict], warren: str, name: str, expected: dict) -> list[str]:
    errors = rbac(docs, name, expected)
    services = [d for d in docs if d["kind"] == "Service"]
    workloads = [d for d in docs if d["kind"] in WORKLOADS]
    for w in workloads:
        wname = f"{name}: {w['kind']}/{w['metadata']['name']}"
        for key in ({ROLE_LABEL} | role_keys(w)) & set(w["spec"]["selector"].get("matchLabels", {})):
            errors.append(f"{wname}: selects on the role label {key!r}")
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
    for p in (d for d in docs if d["kind"] == "PodDisruptionBudget"):
        pname = f"{name}: PodDisruptionBudget/{p['metadata']['name']}"
        selector = p["spec"].get("selector", {}).get("matchLabels", {})
        if ROLE_LABEL in selector or any(k in selector for w in workloads for k in role_keys(w)):
            errors.append(f"{pname}: selects on the role label")
        if not any(matches(selector, pod_labels(w)) for w in workloads):
            errors.append(f"{pname}: its selector matches no workload's pods")
    for s in services:
        sname = f"{name}: Service/{s['metadata']['name']}"
        selector = s["spec"].get("selector", {})
        selected = [w for w in workloads if selects(selector, w)]
        if not selected:
            errors.append(f"{sname}: its selector matches no workload's pods")
            continue
        for w in selected:
            for key in role_keys(w) & set(selector):
                if selector[key] not in ROLE_VALUES:
                    errors.append(f"{sname}: selects {key}={selector[key]!r}, a value Warren never "
                                  f"sets (it sets {sorted(ROLE_VALUES)})")
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


def check_overlay(overlay: Path, warren: str, expected: dict) -> tuple[list[str], list[dict]]:
    text = render(overlay)
    docs = [d for d in yaml.safe_load_all(text) if d]
    return validate(text, overlay.name) + semantics(docs, warren, overlay.name, expected), docs


def self_test(docs: list[dict], warren: str, expected: dict) -> list[str]:
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

    def labelling(d):
        return next(x for x in d if x["kind"] in WORKLOADS and role_keys(x))

    def role_in_workload_selector(d):
        w = labelling(d)
        key = sorted(role_keys(w))[0]
        w["spec"]["selector"]["matchLabels"][key] = "leader"
        w["spec"]["template"]["metadata"]["labels"][key] = "leader"

    def bad_role_value(d):
        key = sorted(role_keys(labelling(d)))[0]
        s = next(x for x in d if x["kind"] == "Service" and key in x["spec"].get("selector", {}))
        s["spec"]["selector"][key] = "master"

    def role(d):
        return next(x for x in d if x["kind"] == "Role")

    def extra_verb(d):
        verbs = set().union(*expected.values())
        extra = next(v for v in ["delete", "update", "list", "watch", "get"] if v not in verbs)
        role(d)["rules"][0]["verbs"].append(extra)

    def missing_verb(d):
        role(d)["rules"][0]["verbs"].pop()

    def other_account(d):
        next(x for x in d if x["kind"] == "RoleBinding")["subjects"][0]["name"] = "default"

    breaks = [("selector", bad_selector), ("target port", bad_port), ("argument", bad_arg),
              ("probe", bad_probe)]
    if any(d["kind"] == "Role" for d in docs):
        breaks += [("role label in a workload selector", role_in_workload_selector),
                   ("role value in a Service selector", bad_role_value),
                   ("Role (an extra verb)", extra_verb), ("Role (a missing verb)", missing_verb),
                   ("RoleBinding subject", other_account)]
    missed = []
    for name, change in breaks:
        found = semantics(broken(change), warren, f"broken {name}", expected)
        if not found:
            missed.append(f"self-test: a broken {name} went unnoticed")
        else:
            print(f"self-test: broken {name}: caught ({found[0].splitlines()[0]})")
    if not validate(yaml.safe_dump_all(broken(unknown_field)), "unknown field"):
        missed.append("self-test: an unknown field went unnoticed by strict validation")
    return missed


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    warren = sys.argv[1]
    errors = []
    expected = k8s_calls()
    print(f"warren-k8s calls: {fmt_grants(expected)}")
    overlays = sorted(p for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists())
    rendered = []
    for overlay in overlays:
        errs, docs = check_overlay(overlay, warren, expected)
        rendered.append(docs)
        errors += errs
        print(f"{overlay.name}: {len(docs)} objects, {'ok' if not errs else 'FAILED'}")
    # The self-test breaks the overlay with the most to break: one with RBAC if there is one.
    test_docs = next((d for d in rendered if any(x["kind"] == "Role" for x in d)),
                     rendered[0] if rendered else None)
    if "--self-test" in sys.argv and test_docs:
        errors += self_test(test_docs, warren, expected)
        print("self-test: every deliberate break caught" if not errors else "self-test done")
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
