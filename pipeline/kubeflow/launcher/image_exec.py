"""Runs a compiled step's command inside the project's image, for `run-compiled --image`: the
StepProcess (process.py) of a run with an image.

Engines, first that works: `docker run`; `podman run`; and, where podman cannot start a
container (here: crun cannot set RLIMIT_NPROC), podman without a runtime: `podman create` +
`podman mount` give a fresh writable copy of the image's root for each step, and the step's
command runs there under `chroot`, in a private mount namespace (`unshare`) with /proc, /dev and
the pipeline root bound in at their own paths. That last one needs root.

Each step gets a fresh container, as on a cluster; the pipeline root is mounted at the same
path inside, so the URIs in the ExecutorInput mean the same file inside and out.
"""
from __future__ import annotations

import dataclasses
import shutil
import subprocess
from typing import List, Sequence, TextIO

# The environment a step sees inside the image: the Dockerfile's, nothing from this process.
IMAGE_ENV = {
    "PATH": "/opt/venv/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
}
WORKDIR = "/app"

# Runs inside `unshare --mount`: binds /proc, /dev and the pipeline root into the container's
# root, then the step's command under chroot with the image's environment, from /app.
_CHROOT_SCRIPT = r'''
set -e
root="$1"; shared="$2"; shift 2
mount --bind /proc "$root/proc"
mount --rbind /dev "$root/dev"
mkdir -p "$root$shared"
mount --bind "$shared" "$root$shared"
exec chroot "$root" /usr/bin/env -i "$@"
'''


class ImageError(Exception):
    """The image cannot be used here; the message says why and what to do."""


def _works(argv: Sequence[str]) -> bool:
    try:
        return subprocess.run(list(argv), capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclasses.dataclass
class ImageExec:
    """A process.StepProcess: each step's command in a fresh container of the image."""
    image: str
    shared_dir: str        # bound into every step at the same path (the pipeline root)
    engine: str            # "docker", "podman" or "podman-chroot"

    in_image = True        # not a field: the command's `python` is the image's

    @classmethod
    def detect(cls, image: str, shared_dir: str) -> "ImageExec":
        """The first engine that can run `true` in the image; ImageError if none."""
        if shutil.which("docker") and _works(["docker", "info"]):
            if not _works(["docker", "image", "inspect", image]):
                raise ImageError(f"--image {image}: docker has no such image; build it with `make image "
                                 f"IMAGE={image}`")
            return cls(image, shared_dir, "docker")
        if not shutil.which("podman"):
            raise ImageError(f"--image {image}: neither docker (with a running engine) nor podman is here; "
                             "install one, or run without --image")
        if not _works(["podman", "image", "exists", image]):
            raise ImageError(f"--image {image}: podman has no such image; build it with `make image "
                             f"IMAGE={image}`")
        if _works(["podman", "run", "--rm", "--pull=never", image, "true"]):
            return cls(image, shared_dir, "podman")
        if not shutil.which("unshare") or not _works(["unshare", "--mount", "true"]):
            raise ImageError(f"--image {image}: `podman run` does not work here, and the fallback (podman "
                             "mount + chroot in a private mount namespace) needs root; run as root")
        return cls(image, shared_dir, "podman-chroot")

    def _env_args(self) -> List[str]:
        return [f"{k}={v}" for k, v in IMAGE_ENV.items()]

    def where(self) -> str:
        return f" in {self.describe()}"

    def run(self, argv: Sequence[str], log: TextIO) -> int:
        """Runs `argv` (the step's command and args) in a fresh container; output to `log`."""
        if self.engine in ("docker", "podman"):
            command = [self.engine, "run", "--rm", "--network=host", "-v", f"{self.shared_dir}:{self.shared_dir}",
                       "-w", WORKDIR, *sum((["-e", e] for e in self._env_args()), []), self.image, *argv]
            return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
        container = self._podman(["create", "--pull=never", self.image, "true"]).strip()
        try:
            root = self._podman(["mount", container]).strip()
            inner = [*self._env_args(), "/bin/sh", "-c", f'cd {WORKDIR} && exec "$@"', "step", *argv]
            command = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", _CHROOT_SCRIPT,
                       "chroot-step", root, self.shared_dir, *inner]
            return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
        finally:
            subprocess.run(["podman", "umount", container], capture_output=True, check=False)
            subprocess.run(["podman", "rm", "-f", container], capture_output=True, check=False)

    def _podman(self, args: Sequence[str]) -> str:
        result = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ImageError(f"podman {' '.join(args)} failed: {result.stderr.strip()[-500:]}")
        return result.stdout

    def describe(self) -> str:
        how = {"docker": "docker run", "podman": "podman run",
               "podman-chroot": "podman mount + chroot (podman run does not work here)"}[self.engine]
        return f"image {self.image} ({how})"

