"""The objects that install the cilium-lb agent into a cluster: ServiceAccount, RBAC rendered
from permissions.py (exactly the calls the code makes), and the DaemonSet.

The DaemonSet runs on every node with the host's network namespace (the node's uplink, its
routes and VIPs are the host's), the capabilities the reconcilers use — NET_ADMIN (netlink:
links, addresses, routes, tc; nftables), BPF and PERFMON (load tc programs and maps),
SYS_ADMIN (mount bpffs, pin objects), NET_BIND_SERVICE and NET_RAW (HAProxy, BIRD listen on
privileged ports and BFD/ICMP), SYS_RESOURCE (memlock for maps on older kernels) — all others
dropped, and the host paths it writes: the bpffs (`--bpf-root` lives there), the state
directory, and /proc/sys/net (sysctls: a container's /proc/sys is read-only otherwise).

The container runs `cilium-lb agent --kube --node $(NODE_NAME)`: it watches the cluster,
keeps its node converged, and takes part in the election of the status writer (the Lease in
the agent's namespace, $(POD_NAMESPACE)).
"""

from __future__ import annotations

from .permissions import permissions

NAME = "cilium-lb"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": NAME}
STATE_DIR = "/var/lib/cilium-lb"
BPF_FS = "/sys/fs/bpf"
CAPABILITIES = ["NET_ADMIN", "BPF", "PERFMON", "SYS_ADMIN", "NET_BIND_SERVICE", "NET_RAW", "SYS_RESOURCE"]


def rbac(namespace: str) -> list[dict]:
    cluster, local = [], []
    for p in permissions():
        rule = {"apiGroups": [p.group], "resources": [p.resource], "verbs": list(p.verbs)}
        (local if p.namespaced else cluster).append(rule)
    meta = {"name": NAME, "labels": dict(LABELS)}
    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}]
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta, "rules": cluster},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME}, "subjects": subject},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {**meta, "namespace": namespace},
         "rules": local},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {**meta, "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME}, "subjects": subject},
    ]


def daemonset(namespace: str, image: str) -> dict:
    command = ["cilium-lb", "agent", "--kube", "--node", "$(NODE_NAME)", "--lease-namespace", "$(POD_NAMESPACE)",
               "--state-dir", STATE_DIR, "--bpf-root", f"{BPF_FS}/cilium-lb", "--log-format", "json"]
    host = [("bpffs", BPF_FS, "DirectoryOrCreate", "HostToContainer"),
            ("state", STATE_DIR, "DirectoryOrCreate", None),
            ("proc-sys-net", "/proc/sys/net", "Directory", None)]
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": namespace, "labels": dict(LABELS)},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": NAME,
                    "hostNetwork": True,
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [{
                        "name": NAME, "image": image, "imagePullPolicy": "IfNotPresent",
                        "command": command,
                        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                        "securityContext": {"privileged": False, "runAsUser": 0,
                                            "capabilities": {"add": list(CAPABILITIES), "drop": ["ALL"]},
                                            "seLinuxOptions": {"type": "spc_t", "level": "s0"}},
                        "volumeMounts": [{"name": n, "mountPath": p, **({"mountPropagation": prop} if prop else {})}
                                         for n, p, _, prop in host],
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                    }],
                    "volumes": [{"name": n, "hostPath": {"path": p, "type": t}} for n, p, t, _ in host],
                },
            },
        },
    }


def manifests(namespace: str = "kube-system", image: str = "ghcr.io/cilium-lb/cilium-lb:latest") -> list[dict]:
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, "namespace": namespace, "labels": dict(LABELS)}}
    return [sa, *rbac(namespace), daemonset(namespace, image)]
