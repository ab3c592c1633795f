"""Which files are the user's: the prototype and the helper modules it imports, found without
importing them; their hash is the Trainer's cache key."""
from __future__ import annotations

import os

from components.trainer import user_model, user_sources
from tests.components.trainer.test_user_model import _module


def test_the_hash_covers_the_users_helper_modules_and_nothing_else(tmp_path):
    """An edit to a helper the prototype imports (plainly, from a package, relatively, or two
    imports deep) changes the hash, so the Trainer runs again; library modules do not count."""
    (tmp_path / "helpers.py").write_text("import deeper\nWIDTH = 8\n")
    (tmp_path / "deeper.py").write_text("SCALE = 1.0\n")
    package = tmp_path / "mylib"
    (package / "text").mkdir(parents=True)
    (package / "__init__.py").write_text("raise SystemExit('imported while hashing')\n")
    (package / "text" / "__init__.py").write_text("")
    (package / "text" / "clean.py").write_text("from . import rules\n")
    (package / "text" / "rules.py").write_text("LOWER = True\n")
    _module(tmp_path, """
        import os, json
        import numpy as np
        import helpers
        from mylib.text import clean
        def build():
            return helpers.WIDTH
    """)
    spec = user_model.parse_spec("proto.py:build", search_path=str(tmp_path))
    sources = user_sources.user_sources(spec.module, [str(tmp_path)])
    assert sorted(os.path.relpath(s, os.path.realpath(tmp_path)) for s in sources) == sorted([
        "proto.py", "helpers.py", "deeper.py", "mylib/__init__.py", "mylib/text/__init__.py",
        "mylib/text/clean.py", "mylib/text/rules.py"])
    before = spec.source_sha256
    for helper, text in [("helpers.py", "import deeper\nWIDTH = 16\n"), ("deeper.py", "SCALE = 2.0\n"),
                         ("mylib/text/rules.py", "LOWER = False\n")]:
        (tmp_path / helper).write_text(text)
        after = user_model.parse_spec("proto.py:build", search_path=str(tmp_path)).source_sha256
        assert after != before, helper
        before = after
    # Unchanged files: the same hash (a rerun is served from the cache).
    assert user_model.parse_spec("proto.py:build", search_path=str(tmp_path)).source_sha256 == before
