"""The modules that draw (plotting, the benchmark report, the hpo report) leave the caller's
matplotlib alone: importing and drawing keep the backend the caller chose and the figures the
caller has open (a notebook's inline backend and figures must survive a report)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("optuna")
REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys
from pathlib import Path
import matplotlib
matplotlib.use("svg")
import matplotlib.pyplot as plt
mine = plt.figure()

import optuna
from optuna.distributions import FloatDistribution
from fastscratch.benchtools.speedup_report import write_report as bench_report
from fastscratch.hpo.report import write_report as hpo_report
from fastscratch.plotting import plot_training

out = Path(sys.argv[1])
plot_training({"train_loss": [2.0, 1.0, 0.5], "epochs": [
    {"epoch": 1, "train_acc": 0.5, "test_acc": 0.4}]}, out / "training.png")
bench_report(out / "bench.json", out / "bench")
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(direction="maximize")
space = {"lr": FloatDistribution(1e-4, 1, log=True),
         "weight_decay": FloatDistribution(1e-8, 0.1, log=True)}
for i in range(4):
    study.add_trial(optuna.trial.create_trial(
        params={"lr": 10.0 ** -(i + 1), "weight_decay": 10.0 ** -(i + 3)}, distributions=space,
        value=0.5 + i / 10, user_attrs={"val_acc": [0.3, 0.5 + i / 10],
                                        "train_acc": [0.4, 0.6]}))
rows, paths, skipped = hpo_report(study, out / "hpo")
print(json.dumps({"backend": matplotlib.get_backend(), "figures": plt.get_fignums(),
                  "mine": mine.number, "written": sorted(map(str, paths)),
                  "skipped": skipped}))
"""


def test_drawing_keeps_the_callers_backend_and_figures(tmp_path):
    bench = {"machine_info": {}, "benchmarks": [
        {"name": f"test_kernel[adam-10-{impl}]", "group": "kernel adam 10",
         "extra_info": {"kind": "kernel", "name": "adam", "case": "10", "impl": impl,
                        "reference": "numpy", "baseline": "numpy"},
         "stats": {"median": median, "min": median}}
        for impl, median in (("numpy", 4e-3), ("serial", 1e-3))]}
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    env.pop("MPLBACKEND", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["backend"] == "svg"
    assert result["figures"] == [result["mine"]]  # the report's own figures are closed
    assert (tmp_path / "training.png").stat().st_size > 0
    assert (tmp_path / "bench" / "speedup_kernel.png").stat().st_size > 0
    assert (tmp_path / "hpo" / "best_curves.png").stat().st_size > 0
    assert "optimization_history" in result["written"], result["skipped"]
