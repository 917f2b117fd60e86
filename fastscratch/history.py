"""The Trainer's history: one record per evaluation (time, throughput, mean loss, accuracies),
the whole run as a JSON-ready dict, and saving/loading it as JSON or CSV."""
import csv
import json
from pathlib import Path

import numpy as np

HISTORY_FIELDS = ("epoch", "iterations", "seconds", "images_per_second", "eval_seconds",
                  "loss", "train_acc", "test_acc")


class EpochRecords:
    """``records``: one dict (HISTORY_FIELDS) per evaluation, each covering the steps since the
    previous one: their training time, images per second and mean loss."""

    def __init__(self):
        self.records = []
        self.since = {"seconds": 0.0, "images": 0, "first_loss": 0}

    def add_step(self, seconds, images):
        """Count one training step of ``images`` rows that took ``seconds``."""
        self.since["seconds"] += seconds
        self.since["images"] += images

    def record(self, epoch, iterations, losses, train_acc, test_acc, eval_seconds):
        """Append and return the record of the steps since the last one; ``losses`` is the
        loss of every step so far."""
        seconds, images = self.since["seconds"], self.since["images"]
        record = {
            "epoch": epoch,
            "iterations": iterations,
            "seconds": seconds,
            "images_per_second": images / seconds if seconds > 0 else float("nan"),
            "eval_seconds": eval_seconds,
            "loss": float(np.mean(losses[self.since["first_loss"]:])),
            "train_acc": float(train_acc),
            "test_acc": float(test_acc),
        }
        self.records.append(record)
        self.since = {"seconds": 0.0, "images": 0, "first_loss": len(losses)}
        return record

    def state(self):
        """The records and the running counts, as JSON values (for a checkpoint)."""
        return {"history": self.records, "since_record": self.since}

    def load_state(self, state):
        """Restore what ``state`` returned."""
        self.records, self.since = state["history"], state["since_record"]


def history_dict(records, losses, final_test_acc, settings):
    """{'epochs': the records, 'train_loss': the loss of every step, 'final_test_acc': float or
    None, 'settings': the run's settings} as JSON values."""
    return {
        "epochs": [dict(r) for r in records],
        "train_loss": [float(v) for v in losses],
        "final_test_acc": final_test_acc,
        "settings": settings,
    }


def _suffix(path):
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ValueError(f"path must end in .json or .csv, got {str(path)!r}")
    return suffix


def save_history(path, history):
    """Write a history_dict as JSON (``*.json``) or its per-epoch records as CSV (``*.csv``)."""
    path = Path(path)
    if _suffix(path) == ".json":
        path.write_text(json.dumps(history, indent=1) + "\n")
        return
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(history["epochs"])


def load_history(path):
    """Read a file written by save_history: the history_dict for JSON, or
    {'epochs': records} with numbers restored for CSV."""
    path = Path(path)
    if _suffix(path) == ".json":
        return json.loads(path.read_text())
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {"epochs": [{k: (int(v) if k in ("epoch", "iterations") else float(v))
                        for k, v in row.items()} for row in rows]}
