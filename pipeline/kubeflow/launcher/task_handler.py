"""The interface of the task handlers, one per task kind (as kfp.local's ITaskHandler):
container_handler, importer_handler and resolver_handler; and StepFailed, which a handler raises
when a step exits non-zero."""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

from pipeline.kubeflow.launcher.graph import downstream_of
from pipeline.kubeflow.launcher.records import StepResult

if TYPE_CHECKING:  # run.py imports the handlers
    from pipeline.kubeflow.launcher.run import Run

LOG_TAIL_LINES = 25


class TaskHandler(Protocol):
    """Runs one task of the run (its kind's way) once the tasks it waits for have finished."""

    def __call__(self, run: Run, task_name: str) -> StepResult:
        """Args:
          run: the run so far (its spec, parameters, finished steps' outputs, earlier runs).
          task_name: a task of run.tasks.

        Returns:
          The step's state, time and outputs, for run.json.

        Raises:
          StepFailed: the step's command exited non-zero.
        """


class StepFailed(Exception):
    """A step exited non-zero: its name, exit code and the last lines of its log."""

    def __init__(self, task: str, exit_code: int, log_path: str, log_tail: str,
                 not_run: Sequence[str]):
        self.task, self.exit_code, self.log_path, self.log_tail = task, exit_code, log_path, log_tail
        self.not_run = list(not_run)
        downstream = (f"; not run: {', '.join(self.not_run)}" if self.not_run else "")
        tail = "\n".join("  " + line for line in log_tail.splitlines())
        super().__init__(f"step {task} failed with exit code {exit_code}{downstream}.\n"
                         f"Last lines of its log ({log_path}):\n{tail}")


def step_failed(run: Run, task_name: str, code: int) -> StepFailed:
    """The StepFailed for a step of `run` that exited with `code`: its log's tail, what it leaves unrun."""
    return StepFailed(task_name, code, run.log_path(task_name), _tail(run.log_path(task_name)),
                      downstream_of(task_name, run.tasks))


def _tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return "(no log)"
