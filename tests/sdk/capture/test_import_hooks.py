"""Patches that wait for a framework's import: run once, after it, and never break the import."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_a_patch_runs_once_after_the_import_or_at_once_when_already_imported() -> None:
    done = _run(
        """
        import json
        from tunelab.sdk.capture.import_hooks import when_imported
        seen = []
        when_imported("json", lambda m: seen.append(("json", m.__name__)))
        when_imported("fire", lambda m: seen.append(("fire", hasattr(m, "Fire"))))
        when_imported("absl.flags", lambda m: seen.append(("absl.flags", hasattr(m, "FLAGS"))))
        assert ("fire", True) not in seen
        import fire
        from absl import flags
        import fire as again
        print(seen)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('json', 'json'), ('fire', True), ('absl.flags', True)]"


def test_a_failing_patch_is_a_warning_and_the_import_succeeds() -> None:
    done = _run(
        """
        from tunelab.sdk.capture.import_hooks import when_imported
        def patch(module):
            raise RuntimeError("cannot patch")
        when_imported("omegaconf", patch)
        import omegaconf
        print(omegaconf.OmegaConf.create({"a": 1}).a)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    assert "tunelab: could not capture the omegaconf integration: RuntimeError: cannot patch" in (
        done.stderr
    )
