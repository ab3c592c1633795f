"""Distributed training the Estimator way: a local TF cluster on 127.0.0.1 runs the same run_fn.

Three processes, each `components.trainer.task.run_fn` with its own TF_CONFIG: a parameter
server (holds the variables), a chief and a worker (both train, between-graph replication,
asynchronous). The chief exports the model; the test then serves it.

Ports: every task's address must be in every TF_CONFIG before any server starts (the Estimator
even dials its own TF_CONFIG address as the session master, so 127.0.0.1:0 cannot stand for "any
port"). So the OS assigns each port when the test binds a socket to port 0, and the test keeps
that socket bound (SO_REUSEADDR, not listening) until training is over: meanwhile the OS gives
the port to no one else (no other bind to port 0, no outgoing connection) and a bind without
SO_REUSEADDR is refused, while the replica's gRPC server, which sets SO_REUSEADDR, binds it.
(Binding, closing and handing the number on would race with any process binding meanwhile.)
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from pipeline import config as config_lib
from tests.conftest import read_taxi_rows

pytestmark = [pytest.mark.e2e, pytest.mark.worker_seconds(50)]

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Long enough that the chief still trains when the worker joins (the Estimator starts worker 0
# 5 s late; a worker that finds max_steps checkpointed already trains nothing).
TRAIN_STEPS = 3000
TIMEOUT_S = 600  # all three replicas; the whole run took 66 s on an idle machine


def _reserved_ports(n):
    """n sockets bound to ports the OS picks, held (see the module's docstring)."""
    sockets = []
    for _ in range(n):
        held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", 0))
        sockets.append(held)
    return sockets


def _start(task_type, cluster, fn_args, log_path):
    env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster,
                                                  "task": {"type": task_type, "index": 0}}),
               PYTHONPATH=PROJECT_ROOT, CUDA_VISIBLE_DEVICES="")
    log = open(log_path, "wb")
    return subprocess.Popen([sys.executable, "-m", "components.trainer.replica", json.dumps(fn_args)],
                            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), log


def _tail(path, n=3000):
    with open(path, "rb") as f:
        return f.read()[-n:].decode("utf-8", "replace")


def test_chief_worker_and_ps_on_localhost_train_one_model_that_serves(tmp_path, taxi_records,
                                                                       taxi_features):
    from components.trainer import constants
    from pipeline.serving import model as serving, predict
    import tensorflow as tf

    held = _reserved_ports(3)
    chief_port, worker_port, ps_port = (s.getsockname()[1] for s in held)
    cluster = {"chief": [f"127.0.0.1:{chief_port}"], "worker": [f"127.0.0.1:{worker_port}"],
               "ps": [f"127.0.0.1:{ps_port}"]}
    fn_args = {
        "train_files": [os.path.join(taxi_records, "Split-train", "*")],
        "eval_files": [os.path.join(taxi_records, "Split-eval", "*")],
        "schema_path": config_lib.DEFAULT_SCHEMA,
        "model_run_dir": str(tmp_path / "model_run"),  # shared by all tasks, like a gs:// dir
        "serving_model_dir": str(tmp_path / "model" / "Format-Serving"),
        "train_steps": TRAIN_STEPS, "eval_steps": None,
        "custom_config": {constants.LABEL_KEY: config_lib.DEFAULT_LABEL, constants.HPARAMS_KEY: {},
                          constants.SEED_KEY: 7},
    }
    processes = {}
    try:
        for role in ("ps", "worker", "chief"):
            processes[role] = _start(role, cluster, fn_args, str(tmp_path / f"{role}.log"))
        deadline = time.time() + TIMEOUT_S
        for role in ("chief", "worker"):
            process, _ = processes[role]
            try:
                code = process.wait(timeout=max(1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"the {role} did not finish in {TIMEOUT_S} s:\n"
                            + _tail(str(tmp_path / f"{role}.log")))
            assert code == 0, f"the {role} failed:\n" + _tail(str(tmp_path / f"{role}.log"))
        assert processes["ps"][0].poll() is None, "the parameter server should serve until stopped"
    finally:
        for process, log in processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
            log.close()
        for s in held:
            s.close()

    # Both replicas trained against the parameter server: one global step counter.
    chief_log, worker_log = _tail(str(tmp_path / "chief.log"), 10**7), _tail(str(tmp_path / "worker.log"), 10**7)
    for role, log in (("chief", chief_log), ("worker", worker_log)):
        assert "Loss for final step" in log, f"the {role} ran no training step:\n{log[-2000:]}"
        # The Estimator logs each replica's first step: both began before the last one.
        first_step = int(re.search(r"loss = [-\d.e]+, step = (\d+)", log).group(1))
        assert first_step < TRAIN_STEPS, f"the {role} joined after training ended:\n{log[-2000:]}"
    assert "task {'type': 'worker', 'index': 0} finished" in worker_log
    checkpoint = tf.train.latest_checkpoint(fn_args["model_run_dir"])
    assert checkpoint is not None and int(checkpoint.rsplit("-", 1)[1]) >= TRAIN_STEPS, (checkpoint, chief_log[-2000:])

    # The chief's export serves raw CSV rows.
    served = fn_args["serving_model_dir"]
    assert os.path.isfile(os.path.join(served, "saved_model.pb"))
    _, rows = read_taxi_rows(every=500)
    probabilities = predict.score(predict.load_signature(served), [serving.to_example(r, taxi_features) for r in rows],
                                  taxi_features.label)
    assert probabilities.shape == (len(rows), 1)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
