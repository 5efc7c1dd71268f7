"""The cluster side of the CLI: `--kube` as a source for validate / compile / diff / apply /
lb status, `compile --kube --write-status`, and the install commands `crds` and `manifests`.
The `kubernetes` client is imported only when a command talks to a cluster."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Optional

import typer

from ..report.console import error

KUBE_HELP = "Read the manifest set from a Kubernetes cluster (kubeconfig, or the service account in a pod) instead of files."
KUBECONFIG_HELP = "With --kube: the kubeconfig file (default: $KUBECONFIG, ~/.kube/config; in a pod: in-cluster)."
CONTEXT_HELP = "With --kube: the kubeconfig context (default: its current-context)."


@dataclass
class KubeSource:
    kubeconfig: str | None = None
    context: str | None = None
    client: object = None
    cluster: object = None  # lbcli.kube.source.ClusterSet once read
    notes: list[str] = field(default_factory=list)
    node: str | None = None  # one node's plan only: only its Pods are read

    def read(self):
        """The cluster's LoadResult; connection and API errors exit 2 with the message."""
        from ..kube.client import ConfigError, KubeError, connect
        from ..kube.source import read_cluster

        try:
            self.client = connect(self.kubeconfig, self.context)
            self.cluster = read_cluster(self.client, self.node)
        except (ConfigError, KubeError) as e:
            error(f"--kube: {e}")
            raise typer.Exit(2)
        if self.cluster.missing:
            sys.stderr.write(f"note: the cluster serves no {', '.join(self.cluster.missing)} (CRDs not installed): none read\n")
        return self.cluster.load

    def allocations(self) -> dict[str, str]:
        from ..kube.source import allocations_of

        return allocations_of(self.cluster.load)


def source(kube: bool, kubeconfig: Optional[str], context: Optional[str], paths) -> KubeSource | None:
    """The cluster source when --kube (or --kubeconfig/--context) is given; PATH... with it is
    a usage error (exit 2)."""
    if not (kube or kubeconfig or context):
        return None
    if paths:
        error("give manifests (PATH...) or --kube, not both")
        raise typer.Exit(2)
    return KubeSource(kubeconfig, context)


def write_status(src: KubeSource, compiled, index, lease_namespace: str) -> None:
    """The one-shot status write: take the status Lease (or leave it to its live holder), write
    what differs, give the Lease back. Exit 1 when a write failed."""
    import os
    import socket

    from ..kube.client import KubeError
    from ..kube.lease import LeaseLock
    from ..kube.status import desired, write_status as write

    lock = LeaseLock(src.client, f"{socket.gethostname()}/cilium-lb-{os.getpid()}", lease_namespace)
    try:
        if not lock.try_acquire():
            sys.stderr.write(f"status: not written: the Lease {lease_namespace}/{lock.name} is held by "
                             f"{lock.holder()} (the cluster's status writer)\n")
            return
        try:
            result = write(src.client, src.cluster.served, desired(compiled, index))
        finally:
            lock.release()
    except KubeError as e:
        error(f"status: {e}")
        raise typer.Exit(2)
    sys.stderr.write(f"status: {len(result.written)} written, {len(result.unchanged)} unchanged"
                     + (f", {result.conflicts} conflict(s) retried" if result.conflicts else "")
                     + (f", {len(result.failed)} failed" if result.failed else "") + "\n")
    for f in result.failed:
        error(f"status: {f}")
    if result.failed:
        raise typer.Exit(1)


def crds() -> None:
    """Print the CustomResourceDefinitions (apiextensions.k8s.io/v1) of the LB kinds, generated
    from the schemas: `cilium-lb crds | kubectl apply -f -`."""
    from ..kube.crds import crds as make
    from ..kube.yaml_out import dump_all

    sys.stdout.write(dump_all(make()))


def manifests(
    namespace: str = typer.Option("kube-system", "--namespace", "-n", help="Namespace of the agent (DaemonSet, ServiceAccount, Lease)."),
    image: str = typer.Option("ghcr.io/cilium-lb/cilium-lb:latest", "--image", help="The agent's container image."),
) -> None:
    """Print the agent's DaemonSet, ServiceAccount and least-privilege RBAC (ClusterRole for
    what it reads cluster-wide, Role for its Lease): `cilium-lb manifests | kubectl apply -f -`."""
    from ..kube.deploy import manifests as make
    from ..kube.yaml_out import dump_all

    sys.stdout.write(dump_all(make(namespace, image)))


def register(app: typer.Typer) -> None:
    app.command("crds")(crds)
    app.command("manifests")(manifests)
