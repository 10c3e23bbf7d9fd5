"""The programs in examples/python are written for MLX's API: each runs unchanged but for
its import, and prints the same as under MLX itself when MLX is installed."""
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parents[2] / "examples" / "python").glob("*.py"))


def run(source):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_and_matches_mlx(path):
    source = path.read_text()
    assert "import lazuli.core as mx" in source
    ours = run(source)
    assert ours.strip()
    if importlib.util.find_spec("mlx") is None:
        pytest.skip("MLX is not installed here: ran the example without comparing")
    theirs = run(source.replace("import lazuli.core as mx", "import mlx.core as mx"))
    assert ours == theirs
