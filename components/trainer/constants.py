"""Names of what the Trainer's exported model holds: signatures, their keys, files beside it.

Shared by everything that reads a model the pipeline pushed (the serving check, `serve`,
`predict`): the one place these names are spelled. Importable without TensorFlow.
See README "What a run produces, and where" for the whole serving contract.
"""

# Signature over serialized tf.Examples (TFMA, `predict`, RunInference).
DEFAULT_SIGNATURE = "serving_default"
EXAMPLES_INPUT = "examples"        # its one input: DT_STRING [n], serialized tf.Examples

# Signature over raw feature values (JSON clients: TF Serving's REST API, KServe):
# one input per feature the model reads, keyed by the schema's feature name, shape [n],
# dtype string / float32 / int64 as the schema's type BYTES / FLOAT / INT.
RAW_SIGNATURE = "serving_raw"

# Outputs.
PROBABILITIES = "probabilities"    # both signatures: float32 [n, 1] (binary: the positive
                                   # class) or [n, classes]
ALL_CLASSES = "all_classes"        # serving_default: string [n, k], the class of each column
CLASS_NAME = "class_name"          # serving_raw: string [n], the predicted class
CLASS_ID = "class_id"              # serving_raw: int64 [n], its index in the label's classes
# A regression model (a number to predict) has one output in both signatures, under the key the
# Estimator's regression head gives its predictions in a predict signature:
PREDICTIONS = "predictions"        # float32 [n, 1], in the label's units
BINARY_THRESHOLD = 0.5             # a binary label's class_id is 1 when probability >= this

# How a JSON client sends a missing value to serving_raw (what an absent feature in a
# tf.Example becomes): a number as NaN (TF Serving's REST API and Python's json accept the
# literal NaN), an integer as int64's minimum, a string as "".
MISSING_RAW_INT = -(2**63)
MISSING_RAW_STRING = ""

# Files beside the model (model servers ignore assets.extra/, TF Serving reads the warm-up file).
ASSETS_EXTRA = "assets.extra"
SCHEMA_FILE = "schema.pbtxt"
LABEL_FILE = "label.txt"
# TF Serving's warm-up file: a TFRecord of tensorflow_serving PredictionLogs, in pairs
# (serving_default, then serving_raw over the same rows): the first eval row, then up to
# WARMUP_MAX_ROWS eval rows.
WARMUP_FILE = "tf_serving_warmup_requests"
WARMUP_MAX_ROWS = 100
