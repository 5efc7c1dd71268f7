"""Kubernetes as the source of truth: read the manifest set from a cluster, watch it, write
status back, and generate what installs cilium-lb into a cluster (CRDs, DaemonSet, RBAC).

Everything here imports the `kubernetes` client lazily (inside functions): the CLI starts in
pre-commit hooks, and `kubernetes.client` alone costs ~0.8 s of imports.

- resources.py   the API resources cilium-lb reads and writes (group, version, plural)
- permissions.py every call the code makes, as RBAC rules (the ClusterRole is rendered from it)
- client.py      connect (kubeconfig / context / in-cluster) and the few REST calls, raw JSON
- source.py      cluster objects -> the loader's LoadResult (same pipeline as files)
- watch.py       list + watch per kind (resourceVersion, bookmarks, 410 relist, backoff, resync)
- feed.py        the agent's copy of the cluster: one reflector per kind, debounced changes
- lease.py       coordination.k8s.io Lease: one status writer for the whole cluster
- leader.py      the agent's status writer: renews the Lease, writes status while it holds it
- status.py      compile results -> LBVIP/LBService status, written with optimistic concurrency
- crds.py        apiextensions.k8s.io/v1 CRDs from lbcli/schemas (structural)
- deploy.py      the agent's DaemonSet, ServiceAccount and least-privilege RBAC
"""
