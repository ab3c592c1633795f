"""Keras prototype to TFX production: pipeline, components and CLI."""
from setuptools import find_packages, setup

setup(
    name="keras-tfx-bridge",
    version="0.1.0",
    description="A TFX pipeline that trains a Keras model as an Estimator, evaluates and pushes it.",
    python_requires="==3.11.*",
    packages=find_packages(include=["pipeline", "pipeline.*", "components", "components.*"]),
    # The report's templates are read at run time (jinja2.PackageLoader): they must be installed
    # with the code, since the image installs the project non-editable (`uv pip install .`).
    # `serve` builds its environment from the server's lock, read at run time like the templates.
    package_data={"": ["*.pbtxt"], "pipeline.report": ["templates/*"],
                  "pipeline.serving.server": ["requirements.in", "requirements.lock"],
                  "pipeline.serving": ["kserve/*.yaml"]},
    # Dependencies are pinned in requirements.lock and installed with --no-deps
    # (tfx 1.15.1 declares Requires-Python <3.11; see README "Dependencies").
    install_requires=[],
    entry_points={"console_scripts": ["keras-tfx=pipeline.__main__:main"]},
)
