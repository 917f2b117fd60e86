"""Every example script (chapters 6 and 7) runs in --quick mode and writes its figures. One thread
each: on a shared 2-core machine that is several times faster than two spinning threads."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FIGURES = {
    "optimizer_compare_naive": ["optimizer_compare_naive.png"],
    "optimizer_compare_mnist": ["optimizer_compare_mnist.png"],
    "weight_init_activation_histogram": [f"activation_histogram_{a}.png"
                                         for a in ("sigmoid", "tanh", "relu")],
    "weight_init_compare": ["weight_init_compare.png"],
    "batch_norm_test": ["batch_norm_test.png"],
    "overfit_weight_decay": ["overfit_weight_decay.png"],
    "overfit_dropout": ["overfit_dropout.png"],
    "hyperparameter_optimization": ["hyperparameter_optimization.png"],
    "batch_norm_gradient_check": ["batch_norm_gradient_check.png"],
    "train_convnet": ["train_convnet.png", "convnet_filters.png"],
}


def test_every_script_is_listed():
    scripts = {p.stem for p in (REPO / "examples").glob("*.py") if not p.stem.startswith("_")}
    assert scripts == set(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_quick_run_writes_figures(name, tmp_path, mnist_dir):
    env = dict(os.environ, FASTSCRATCH_DATA=str(mnist_dir))
    command = [sys.executable, str(REPO / "examples" / f"{name}.py"), "--quick", "--threads",
               "1", "--out", str(tmp_path)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for figure in FIGURES[name]:
        assert (tmp_path / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"wrote {tmp_path / figure}" in result.stdout
    assert "done in" in result.stdout
