"""Renders an HTML file in headless Chromium (Debian's `chromium` package): its screenshot or its DOM.

`make test` / `.ci/run` install Chromium when it is missing (`make browser`). Without it, a
browser test fails when the CI variable is set and is skipped otherwise (a developer machine
without root).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Dict, Tuple

import pytest


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    message = "chromium is not installed (run `make browser`, which installs Debian's chromium package)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message + "; this test fails instead of skipping when CI is set")


def _offline(tmp_dir: str) -> list:
    """Headless Chromium with every host name unresolvable (the report must need no network)."""
    return [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={os.path.join(tmp_dir, 'chromium-profile')}"]


def screenshot(html_path: str, png_path: str, tmp_dir: str, size: Tuple[int, int] = (1200, 6000)) -> str:
    """Renders `html_path` offline into `png_path`."""
    command = _offline(tmp_dir) + [f"--screenshot={png_path}", f"--window-size={size[0]},{size[1]}",
                                   "file://" + os.path.abspath(html_path)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0 and os.path.isfile(png_path), completed.stderr[-2000:]
    return png_path


def dom(html_path: str, tmp_dir: str) -> str:
    """The document as Chromium parsed it, serialized (`--dump-dom`): a text node's `<` comes back
    as `&lt;`, an element as a tag."""
    completed = subprocess.run(_offline(tmp_dir) + ["--dump-dom", "file://" + os.path.abspath(html_path)],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0 and "</html>" in completed.stdout, completed.stderr[-2000:]
    return completed.stdout


def color_pixels(png_path: str, colors: Dict[str, str], tolerance: int = 10) -> Dict[str, int]:
    """How many pixels of the screenshot have each '#rrggbb' color (within `tolerance` per channel)."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(png_path).convert("RGB")).astype(int)
    counts = {}
    for name, color in colors.items():
        rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])
        counts[name] = int((np.abs(pixels - rgb).max(axis=2) <= tolerance).sum())
    return counts
