"""What a study found: a table of the best trials (CSV, Markdown), the book's figure of their
accuracy curves, and Optuna's standard plots where matplotlib can draw them."""
import csv
import functools
import math
import os
import warnings

from optuna.trial import TrialState
from optuna.visualization import matplotlib as optuna_plots

from ..plotting import new_figure

OPTUNA_PLOTS = {
    "optimization_history": optuna_plots.plot_optimization_history,
    "param_importances": optuna_plots.plot_param_importances,
    "contour_lr_weight_decay": functools.partial(optuna_plots.plot_contour,
                                                 params=["lr", "weight_decay"]),
}


def best_trials(study, top=10):
    """The ``top`` completed trials by final validation accuracy, best first: a list of dicts
    with rank, trial, val_acc, train_acc, epochs, seconds and the searched parameters."""
    done = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
                  key=lambda t: (-t.value, t.number))
    rows = []
    for rank, trial in enumerate(done[:top], 1):
        curve = trial.user_attrs.get("train_acc") or [math.nan]
        rows.append({"rank": rank, "trial": trial.number, "val_acc": trial.value,
                     "train_acc": curve[-1], "epochs": len(curve),
                     "seconds": trial.user_attrs.get("seconds", math.nan), **trial.params})
    return rows


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4f}" if 1e-3 <= abs(value) <= 1 else f"{value:.3g}"
    return str(value)


def format_table(rows):
    """``rows`` (from best_trials) as a Markdown table."""
    if not rows:
        return "(no completed trials)"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_cell(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def write_table(rows, out_dir):
    """Write ``rows`` to out_dir/best_trials.csv and best_trials.md; returns both paths."""
    csv_path = os.path.join(out_dir, "best_trials.csv")
    md_path = os.path.join(out_dir, "best_trials.md")
    keys = list(rows[0]) if rows else ["rank", "trial", "val_acc"]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    with open(md_path, "w") as f:
        f.write(format_table(rows) + "\n")
    return csv_path, md_path


def plot_best_curves(study, path, top=20):
    """The book's figure: one panel per best trial (up to ``top``), validation accuracy per
    epoch solid and training accuracy dashed; written to ``path`` (PNG)."""
    rows = best_trials(study, top)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    cols = 5
    n_rows = max(1, math.ceil(len(rows) / cols))
    fig, axes = new_figure(n_rows, cols, size=(3 * cols, 2.4 * n_rows), squeeze=False,
                           sharey=True)
    for ax in axes.flat[len(rows):]:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows):
        attrs = trials[row["trial"]].user_attrs
        ax.plot(attrs["val_acc"], label="validation")
        ax.plot(attrs["train_acc"], "--", label="train")
        ax.set_title(f"Best-{row['rank']} (val {row['val_acc']:.3f})", fontsize=9)
        ax.set_ylim(0.0, 1.0)
    axes.flat[0].legend(loc="lower right", fontsize=8)
    fig.supxlabel("epoch")
    fig.supylabel("accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def plot_optuna(study, out_dir):
    """Optuna's optimization history, parameter importances and lr/weight-decay contour as
    out_dir/optuna_<name>.png. Returns ({name: path}, {name: why it was skipped}).

    Optuna draws through pyplot, on whatever backend the caller has chosen (never changed
    here); each figure is closed once written."""
    import matplotlib.pyplot as plt
    written, skipped = {}, {}
    for name, plot in OPTUNA_PLOTS.items():
        before = set(plt.get_fignums())  # the caller's own figures stay open
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ExperimentalWarning, too-few-trials notes
                ax = plot(study)
            fig = ax.flat[0].figure if hasattr(ax, "flat") else ax.figure
            path = os.path.join(out_dir, f"optuna_{name}.png")
            fig.savefig(path, dpi=100, bbox_inches="tight")
            written[name] = path
        except Exception as exc:  # e.g. too few completed trials for importances
            skipped[name] = f"{type(exc).__name__}: {exc}"
        finally:
            for number in set(plt.get_fignums()) - before:
                plt.close(number)
    return written, skipped


def write_report(study, out_dir, top=10, curves=20):
    """Write the table of the ``top`` best trials, the book's figure of the best ``curves``
    trials and Optuna's plots into ``out_dir``. Returns (table rows, {name: path},
    {plot name: why skipped})."""
    os.makedirs(out_dir, exist_ok=True)
    rows = best_trials(study, top)
    paths = dict(zip(("csv", "markdown"), write_table(rows, out_dir)))
    if rows:
        paths["best_curves"] = plot_best_curves(study, os.path.join(out_dir, "best_curves.png"),
                                                curves)
    written, skipped = plot_optuna(study, out_dir)
    return rows, {**paths, **written}, skipped
