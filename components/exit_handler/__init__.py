"""NotifyOnExit: the compiled pipeline's exit handler (kfp2, vertex), posting the run's outcome.

Importable without TFX: only names here (run-compiled and the compiler's post-processing use them).
"""
EXIT_HANDLER = "NotifyOnExit"
# TFX's name for the sub-DAG that holds the pipeline's tasks when there is an exit handler
# (tfx.orchestration.kubeflow.v2.compiler_utils.TFX_DAG_NAME).
TFX_DAG = "tfx-dag"
FINAL_STATUS = "final_status"
