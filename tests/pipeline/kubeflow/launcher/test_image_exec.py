"""The image's engines, as the run's record and the steps' logs name them; no engine, a clear refusal."""
from __future__ import annotations

from unittest import mock

import pytest

from pipeline.kubeflow.launcher import image_exec
from pipeline.kubeflow.launcher.image_exec import ImageExec, ImageError


@pytest.mark.parametrize("engine, how", [
    ("docker", "docker run"), ("podman", "podman run"),
    ("podman-chroot", "podman mount + chroot (podman run does not work here)")])
def test_each_engine_is_named_in_the_record_and_the_log_header(engine, how):
    image = ImageExec("keras-tfx:local", "/root", engine)
    assert image.describe() == f"image keras-tfx:local ({how})"
    assert image.where() == f" in image keras-tfx:local ({how})"


def test_without_docker_or_podman_the_image_is_refused_naming_the_fix():
    with mock.patch.object(image_exec.shutil, "which", return_value=None):
        with pytest.raises(ImageError, match="neither docker .* nor podman is here; install one, or run "
                                             "without --image"):
            ImageExec.detect("keras-tfx:local", "/root")
