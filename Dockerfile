# The image every compiled Kubeflow step runs in: the committed lock plus this project,
# so steps reference user code by dotted path (components.trainer.task.run_fn, ...).
#   docker build -t REGISTRY/keras-tfx:TAG . && docker push REGISTRY/keras-tfx:TAG
# `make image` builds it here (docker, or podman on a local Debian base: tools/build_image.sh).
#
# BASE_IMAGE: the public Python 3.11 image by default. PYTHON_FROM=debian takes Python 3.11
# from Debian's packages instead, for a plain Debian bookworm base (python3.11 is bookworm's).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG PYTHON_FROM=image
# Where uv keeps downloaded wheels during the build; a build may mount a warm cache here.
ARG UV_CACHE_DIR=/tmp/uv-cache
# Behind a TLS-inspecting proxy: a CA bundle (mounted into the build) for pip and uv; not kept.
ARG HOST_CA_BUNDLE=

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PATH=/opt/venv/bin:$PATH

RUN if [ "$PYTHON_FROM" = debian ]; then \
      apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           python3.11 python3.11-venv ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && python3.11 -m venv /opt/venv

WORKDIR /app
COPY requirements.lock ./
# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set, Python never caches bytecode, so
# without it every step (a fresh container) would compile TensorFlow, TFX and TFMA from source
# before doing anything (importing TensorFlow: 12 s instead of 3 s on a 2-core machine).
RUN if [ -n "$HOST_CA_BUNDLE" ]; then export PIP_CERT="$HOST_CA_BUNDLE" SSL_CERT_FILE="$HOST_CA_BUNDLE"; fi \
 && python -m pip install --quiet uv==0.13.9 \
 && UV_CACHE_DIR=$UV_CACHE_DIR uv pip install --quiet --python /opt/venv/bin/python --no-deps \
      --compile-bytecode -r requirements.lock \
 && rm -rf /tmp/uv-cache

# The project: code, schemas and the bundled data (the data_root default in compiled specs).
COPY . .
RUN if [ -n "$HOST_CA_BUNDLE" ]; then export SSL_CERT_FILE="$HOST_CA_BUNDLE"; fi \
 && UV_CACHE_DIR=$UV_CACHE_DIR uv pip install --quiet --python /opt/venv/bin/python --no-deps \
      --compile-bytecode . \
 && rm -rf /tmp/uv-cache \
 && python -c "from google.protobuf.internal import api_implementation as a; assert a.Type() == 'upb'" \
 && python -c "import components.trainer.task, components.run_parameters.executor, components.strict_example_validator.executor, components.latest_pushed_model.executor, components.atomic_pusher.executor, examples.text_classifier, tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor, tfx.orchestration.kubeflow.container_entrypoint" \
 && python -c "import pipeline.__main__, pipeline.kubeflow.launcher.run, pipeline.kubeflow.launcher.outcome, pipeline.report.page as p; p.template()"
