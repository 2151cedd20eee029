#!/usr/bin/env bash
# Installs the real components the test suite talks to, when missing:
# skopeo, umoci and containerd (OCI: ctr is a HEAD-first client), chromium
# (index.html rendering), tidy (HTML validity), openssl (a test CA) and Ceph (a real S3
# server: a one-node cluster with radosgw, started by the tests) from Debian,
# s3rver from npm (a Garage-like S3 server without conditional writes).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
command -v skopeo >/dev/null 2>&1 || apt_packages+=(skopeo)
command -v umoci >/dev/null 2>&1 || apt_packages+=(umoci)
command -v ctr >/dev/null 2>&1 || apt_packages+=(containerd)
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v tidy >/dev/null 2>&1 || apt_packages+=(tidy)
command -v openssl >/dev/null 2>&1 || apt_packages+=(openssl)  # tests/tls_proxy.py: test CA
command -v ceph-mon >/dev/null 2>&1 || apt_packages+=(ceph-mon)
command -v ceph-osd >/dev/null 2>&1 || apt_packages+=(ceph-osd)
command -v radosgw >/dev/null 2>&1 || apt_packages+=(radosgw)
command -v ceph >/dev/null 2>&1 || apt_packages+=(ceph-common)
if [ "${#apt_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing from Debian: ${apt_packages[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

if [ ! -x node_modules/.bin/s3rver ]; then
  echo "installing s3rver from npm" >&2
  npm install --no-save --no-audit --no-fund --silent s3rver@3.7.1 >/dev/null
fi
