#!/usr/bin/env bash
# Set up cilium-lb on a fresh Debian machine (run as root).
#   scripts/setup.sh         the CLI (validate, compile, diff, status): Python package only
#   scripts/setup.sh --dev   also the node-side tools the agent and the test suite use
#                            (clang/libbpf/bpftool for the eBPF datapath, BIRD, FRR, HAProxy,
#                            nftables, traffic tools) and the test dependencies
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[[ "${1:-}" == "--dev" ]] && dev=1
PY=${PYTHON:-python3}

# both set-ups: a C compiler, Python's headers and libyaml's to build the optional accelerators
# (setup.py: lbcli.model._maglev, lbcli.manifest._yamlpos); without them pip still installs the
# package and the pure-Python paths run. python3-dev: for Debian's python3 (or a venv of it); a PYTHON
# built elsewhere (pyenv) brings its own headers.
pkgs=(gcc libc6-dev libyaml-dev)
[[ "$("$PY" -c 'import sys; print(sys.base_prefix)' 2>/dev/null)" == /usr ]] && pkgs+=(python3-dev)
if (( dev )); then
  pkgs+=(clang llvm libbpf-dev bpftool iproute2 bird2 frr haproxy nftables tcpdump iperf3 wrk
         curl openssl dnsmasq socat iputils-ping ethtool hyperfine netsniff-ng)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if (( dev )); then
  # the distribution's FRR/BIRD services are not used: each lab router/node runs its own daemon
  for svc in frr bird haproxy dnsmasq; do
    systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
  done
  "$PY" -m pip install -q --disable-pip-version-check -e '.[test]'
else
  "$PY" -m pip install -q --disable-pip-version-check -e .
fi
# An editable install runs from these sources: byte-compile them now, so a shell that sets
# PYTHONDONTWRITEBYTECODE (this machine's does) does not compile the CLI on every start
# (~0.3 s of a pre-commit hook's `cilium-lb validate`); a changed file is recompiled, not misread.
"$PY" -m compileall -q -j 0 lbcli >/dev/null
