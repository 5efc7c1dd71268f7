"""Manifest text for the pod networking rule tests."""


def node(name: str, ip: str, cidrs: list[str] | None = None, single: str | None = None) -> str:
    spec = ""
    if cidrs is not None:
        spec = "spec:\n  podCIDRs:\n" + "".join(f"  - {c}\n" for c in cidrs)
    elif single:
        spec = f"spec:\n  podCIDR: {single}\n"
    return (f"---\napiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n{spec}"
            f"status:\n  addresses:\n  - {{type: InternalIP, address: {ip}}}\n")


def pod(name: str, node_name: str | None, ip: str | None = None, ips: list[str] | None = None,
        annotations: dict[str, str] | None = None) -> str:
    ann = ""
    if annotations:
        ann = "  annotations:\n" + "".join(f"    {k}: \"{v}\"\n" for k, v in annotations.items())
    spec = f"spec:\n  nodeName: {node_name}\n" if node_name else ""
    status = ""
    if ip or ips:
        status = "status:\n"
        if ip:
            status += f"  podIP: {ip}\n"
        if ips:
            status += "  podIPs:\n" + "".join(f"  - ip: \"{i}\"\n" for i in ips)
    return f"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: default\n{ann}{spec}{status}"


def config(**data: str) -> str:
    body = "".join(f"  {k}: \"{v}\"\n" for k, v in data.items())
    return f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cilium-config\n  namespace: kube-system\ndata:\n{body}"
