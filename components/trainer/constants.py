"""Names the Trainer shares with the pipeline: its custom_config keys, the files of its run
folder, its progress logger, and what its exported model holds (signatures, their keys, files
beside it).

Shared by what writes the Trainer's settings (`pipeline/pipeline.py`) and everything that reads
a model the pipeline pushed (the serving check, `serve`, `predict`): the one place these names
are spelled. Importable without TensorFlow.
See README "What a run produces, and where" for the whole serving contract.
"""

# Keys of the Trainer's custom_config (written by pipeline.pipeline.create_pipeline, read by
# components.trainer.task.trainer_settings).
LABEL_KEY = "label"
HPARAMS_KEY = "hparams"
SEED_KEY = "seed"
MODEL_KEY = "model"          # a user's model function (user_model.ModelSpec as a dict)
INPUT_MAP_KEY = "input_map"  # --input-map: model input name -> feature

# Files in the Trainer's model_run/ folder.
BINDING_FILE = "binding.json"        # which feature fed which input of a user's model
WARM_START_REPORT = "warm_start.json"  # which weights a warm start copied

# Training progress records go to this plain Python logger: the local CLI forwards them to the
# terminal (pipeline.logs.Progress); elsewhere (Kubeflow) they are ordinary log lines.
PROGRESS_LOGGER = "keras_tfx.training"

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
