#!/usr/bin/env bash
# Regenerates requirements.lock from requirements.in (see README, "Dependencies").
# tfx / ml-pipelines-sdk declare Requires-Python <3.11 and kfp 1.8 declares protobuf<4,
# so those four are appended by hand and installed with --no-deps.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp)
python3 -m uv pip compile requirements.in --quiet --no-header \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o "$tmp"
{
  echo "# Resolved for Python 3.11 by tools/make_lock.sh:"
  echo "#   uv pip compile requirements.in --python-version 3.11 --python-platform x86_64-manylinux_2_28"
  echo "# then the four packages at the end added by hand. Install with --no-deps (make venv)."
  cat "$tmp"
  cat <<'TAIL'

# Installed without their declared dependencies: tfx and ml-pipelines-sdk declare
# Requires-Python <3.11, and kfp 1.8 declares protobuf<4, which on Python 3.11 would
# force pure-Python protobuf (about 10x slower ExampleGen). kfp-pipeline-spec 0.3.0 is the
# first release generated for protobuf 4; the v1 and v2 Kubeflow compilers work with it.
tfx==1.15.1
ml-pipelines-sdk==1.15.1
kfp==1.8.22
kfp-pipeline-spec==0.3.0
TAIL
} > requirements.lock
rm -f "$tmp"
echo "wrote requirements.lock ($(grep -cE '^[a-zA-Z0-9]' requirements.lock) pins)"
