"""What a trial may vary: the book's log-uniform learning rate and weight decay, and optionally
the optimizer, the hidden layers, batch normalization and the dropout ratio."""
import math
from dataclasses import asdict, dataclass

from .. import validation
from ..optimizer import OPTIMIZERS


def _check_range(name, value, *, log):
    """(low, high) as two floats with low < high; > 0 for a log scale, in [0, 1) otherwise."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair of numbers, got {value!r}") from None
    bounds_ok = low > 0 if log else 0 <= low and high < 1
    if not (math.isfinite(low) and math.isfinite(high) and low < high and bounds_ok):
        need = "0 < low < high" if log else "0 <= low < high < 1"
        raise ValueError(f"{name} must be a (low, high) pair with {need}, got {value!r}")
    return low, high


def _optimizer_name(name, value):
    return validation.choice(name, value, tuple(OPTIMIZERS))


@dataclass(frozen=True)
class SearchSpace:
    """Ranges are (low, high): lr and weight_decay are drawn log-uniformly, dropout uniformly
    (None: no dropout). Choice tuples with one element fix that setting; with more, a trial
    picks one. The hidden layers are ``hidden_layers`` layers of ``hidden_units`` units each."""

    lr: tuple = (1e-6, 1e-2)
    weight_decay: tuple = (1e-8, 1e-4)
    optimizer: tuple = ("sgd",)
    hidden_layers: tuple = (6,)
    hidden_units: tuple = (100,)
    batchnorm: tuple = (False,)
    dropout: tuple = None

    def __post_init__(self):
        checked = {
            "lr": _check_range("lr", self.lr, log=True),
            "weight_decay": _check_range("weight_decay", self.weight_decay, log=True),
            "optimizer": validation.distinct("optimizer", self.optimizer, _optimizer_name),
            "hidden_layers": validation.distinct("hidden_layers", self.hidden_layers,
                                                 validation.positive_int),
            "hidden_units": validation.distinct("hidden_units", self.hidden_units,
                                                validation.positive_int),
            "batchnorm": validation.distinct("batchnorm", self.batchnorm, validation.flag),
            "dropout": None if self.dropout is None
            else _check_range("dropout", self.dropout, log=False),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def suggest(self, trial):
        """The full configuration of one trial, drawing the searched settings from ``trial``
        (an optuna.Trial): dict with the keys of this class, one value each (dropout 0.0 if
        off)."""
        config = {"lr": trial.suggest_float("lr", *self.lr, log=True),
                  "weight_decay": trial.suggest_float("weight_decay", *self.weight_decay,
                                                      log=True)}
        for name in ("optimizer", "hidden_layers", "hidden_units", "batchnorm"):
            choices = getattr(self, name)
            config[name] = (choices[0] if len(choices) == 1
                            else trial.suggest_categorical(name, list(choices)))
        config["dropout"] = (0.0 if self.dropout is None
                             else trial.suggest_float("dropout", *self.dropout))
        return config

    def to_dict(self):
        """A JSON-friendly dict that ``from_dict`` turns back into an equal SearchSpace."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**data)
