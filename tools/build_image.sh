#!/usr/bin/env bash
# Builds the steps' image (Dockerfile) and prints its tag: `make image [IMAGE=name:tag]`.
# With a Docker engine: `docker build` on the Dockerfile's default base (python:3.11-slim).
# Without one (these machines): podman, rootful, with chroot isolation, on a Debian bookworm
# base made here by debootstrap (Python 3.11 from Debian's packages), and the host's uv cache
# mounted so wheels are not downloaded again. Needs root for debootstrap and podman.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${1:-keras-tfx:local}"
BASE="${KERAS_TFX_DEBIAN_BASE:-localhost/debian-bookworm-minbase:local}"

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  docker build -t "$TAG" .
  echo "built image $TAG (docker)"
  exit 0
fi
if ! command -v podman >/dev/null 2>&1; then
  echo "error: no Docker engine and no podman here. Install Docker, or (Debian, as root):" >&2
  echo "  apt-get install -y podman debootstrap   then rerun: make image" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: the podman build here runs as root (debootstrap, chroot isolation); rerun as root" >&2
  exit 1
fi
if ! podman image exists "$BASE"; then
  command -v debootstrap >/dev/null 2>&1 || { echo "error: debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }
  rootfs="$(mktemp -d /var/tmp/keras-tfx-base.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  echo "making the Debian bookworm base $BASE (debootstrap --variant=minbase)"
  debootstrap --variant=minbase bookworm "$rootfs" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log" >&2; echo "error: debootstrap failed (log: $rootfs.log)" >&2; exit 1; }
  tar -C "$rootfs" -c . | podman import - "$BASE" >/dev/null
  rm -f "$rootfs.log"
fi
cache_args=()
uv_cache="$(.venv/bin/python -m uv cache dir 2>/dev/null || true)"
if [ -n "$uv_cache" ] && [ -d "$uv_cache" ]; then
  cache_args=(--volume "$uv_cache:/var/cache/uv-host" --build-arg UV_CACHE_DIR=/var/cache/uv-host)
fi
# Behind a TLS-inspecting proxy the host trusts its CA through SSL_CERT_FILE; the build needs it too.
if [ -n "${SSL_CERT_FILE:-}" ] && [ -f "$SSL_CERT_FILE" ]; then
  cache_args+=(--volume "$SSL_CERT_FILE:/etc/ssl/host-ca-bundle.pem:ro" --build-arg HOST_CA_BUNDLE=/etc/ssl/host-ca-bundle.pem)
fi
podman build --isolation=chroot --build-arg BASE_IMAGE="$BASE" --build-arg PYTHON_FROM=debian \
  "${cache_args[@]}" -t "$TAG" .
echo "built image $TAG (podman, base $BASE)"
