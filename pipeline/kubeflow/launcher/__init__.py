"""`run-compiled`'s launcher: runs a compiled pipeline (kfp2 or vertex JSON) here, step by step, as a
KFP launcher would (modelled on kfp.local's small modules).

For each task, in dependency order (graph.py), it builds the step's ExecutorInput from the task spec
(executor_io.py: constant and run-time parameters, values.py; upstream artifacts with the URIs and
metadata their producers wrote in their executor output), substitutes the `{{$}}` placeholder and
runs the step's own container command and args (process.py) in a subprocess of this environment
(this checkout plays the image's `/app`, and the image's `python` becomes `sys.executable`), or
inside the image itself with `--image` (image_exec.py). Each task kind has its handler behind
task_handler.TaskHandler: container_handler.py, importer_handler.py, resolver_handler.py.

Two backends, each with its rules (spec.py):
- `kfp2` (default for a bare PipelineSpec, what `compile --target kfp2` writes): open-source
  Kubeflow Pipelines 2.x. Before anything runs, the spec is held to what KFP's backend accepts
  (KFP_RULES, each with the backend source it comes from); parameters reach the steps only as
  `inputs.parameterValues`; container and importer tasks run; `lifecycle.preCacheCheck` is not
  run, because KFP's backend never runs it.
- `vertex` (default for a PipelineJob, what `compile --target vertex` writes): Vertex AI
  Pipelines. Parameters go in the form Vertex sends for a schema 2.0.0 spec (`inputs.parameters`);
  the ExampleGen driver (`lifecycle.preCacheCheck`) runs first; resolver tasks are answered from
  the artifacts that earlier runs under the same pipeline root recorded in
  `<pipeline-root>/run-compiled/<run id>/run.json` (records.py).

With `--image`, every step's command runs inside the built image instead: the spec, the image and
the steps are then checked together.

A step whose task enables caching and whose command and inputs (after its driver) equal those of
a step in an earlier run under the root is taken from that run, as KFP's cache would (cache.py;
`--no-cache` runs every step). What differs from a cluster on purpose: tasks run one at a time
(run.py), and the compiled pipeline root is replaced by `--pipeline-root` wherever the spec names it.

This process never imports TensorFlow or TFX: the steps do, each in its own process.
"""
