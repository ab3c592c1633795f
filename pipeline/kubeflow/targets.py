"""The compile targets by name, and where the image holds the project, shared by `compile`,
`run-compiled` and their tests; imports nothing.

- `kfp2`: open-source Kubeflow Pipelines 2.x (a bare PipelineSpec, schema 2.1.0).
- `vertex`: Vertex AI Pipelines (a PipelineJob, schema 2.0.0).
- `kubeflow-v1`: an Argo Workflow for Kubeflow Pipelines 1.8 (and KFP 2.x in its v1 mode).
"""
KFP2 = "kfp2"
VERTEX = "vertex"
KUBEFLOW_V1 = "kubeflow-v1"
TARGETS = (KFP2, VERTEX, KUBEFLOW_V1)
# The targets that compile to pipeline JSON: run-compiled runs each by that backend's rules.
PIPELINE_JSON = (KFP2, VERTEX)

# Where the Dockerfile puts the project inside the image (`COPY . .` under `WORKDIR /app`): compiled
# specs name the schema, data and a user's model there, and run-compiled maps it back.
IMAGE_PROJECT_ROOT = "/app"
