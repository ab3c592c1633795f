"""The exit handler as TFX builds one for Kubeflow V2 (`tfx.orchestration.kubeflow.decorators.exit_handler`).

TFX's KubeflowV2DagRunner puts the pipeline's tasks in a sub-DAG (`tfx-dag`) and this step after
it, with KFP's trigger policy ALL_UPSTREAM_TASKS_COMPLETED: it runs whether the tasks succeeded or
not, and its `final_status` input is the sub-DAG's PipelineTaskFinalStatus as JSON text. The work is
in pipeline/kubeflow/exit_handler.py.
"""
from tfx.dsl.component.experimental.annotations import Parameter
from tfx.orchestration.kubeflow.decorators import exit_handler


@exit_handler
def NotifyOnExit(final_status: Parameter[str], notify_urls: Parameter[str], pipeline: Parameter[str],  # noqa: N802
                 data_root: Parameter[str], pipeline_root: Parameter[str], serving_dir: Parameter[str],
                 run_created: Parameter[str]) -> None:
    """Posts the run's outcome to each URL in `notify_urls` (none: does nothing); never fails."""
    import logging
    from pipeline.kubeflow import exit_handler as handler
    logging.getLogger().setLevel(logging.INFO)
    status = handler.parse_final_status(final_status)
    try:
        handler.notify_exit(status, notify_urls, pipeline=pipeline, run_id=status["run"] or "",
                            data_root=data_root, output_dir=pipeline_root, serving_dir=serving_dir,
                            created=run_created)
    except Exception:  # pylint: disable=broad-except  # the run's outcome is the pipeline's
        logging.exception("exit handler failed; the run's outcome is unchanged")
