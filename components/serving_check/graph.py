"""Ops in a SavedModel's graph that no server can run, read from saved_model.pb (TensorFlow's protos
only: `predict` uses it too, without TFX)."""
from __future__ import annotations

import os
from typing import List, Tuple

# tf.py_function / tf.numpy_function: they call back into the Python process that built the model.
PYTHON_OPS = ("PyFunc", "EagerPyFunc", "PyFuncStateless")


def python_ops(model_dir: str) -> List[Tuple[str, str]]:
    """[(op type, node name)] of every op in the SavedModel that calls back into Python."""
    from tensorflow.core.protobuf import saved_model_pb2
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    found = []
    for meta_graph in saved_model.meta_graphs:
        nodes = list(meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            nodes += list(function.node_def)
        found += [(node.op, node.name) for node in nodes if node.op in PYTHON_OPS]
    return sorted(set(found), key=lambda op: op[1])


def layer_of(node_name: str) -> str:
    """The name scope an op was made in, which is the Keras layer's name: 'model/lambda/EagerPyFunc'
    -> 'lambda'. A name without scope gives ''."""
    scopes = [s for s in node_name.split("/")[:-1] if s]
    return scopes[-1] if scopes else ""


def python_ops_reason(ops: List[Tuple[str, str]]) -> str:
    """Why such a model cannot be served, naming the layer(s), and what to do instead."""
    layers = sorted({layer_of(name) for _, name in ops if layer_of(name)})
    where = (f" (layer {', '.join(repr(l) for l in layers)})" if layers
             else f" (op {ops[0][1]})")
    return (f"the model calls tf.py_function{where}: a SavedModel cannot carry Python code, so TF Serving and "
            "every other process fail on it; do the cleaning with tf.strings ops or "
            "TextVectorization(standardize=...)")


