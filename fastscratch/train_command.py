"""``fastscratch train``: its options (network, optimization, data, run, checkpoints) and the
run: a book network trained by Trainer (trainer.py) on MNIST or Fashion-MNIST, its history,
plot and parameters written into --out.

``add_arguments(parser)`` adds the options, ``run(args)`` trains and returns the exit code
(cli.py's command table calls both).
"""
import argparse
import errno
import inspect
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from .cli_common import UsageError, positive_int

# The train options' modules (NumPy, the optimizers) are imported where they are used, so that
# `fastscratch run` of a script that needs no NumPy starts as fast as Python (cli.py imports
# this module only for `fastscratch train`).


# ------------------------------------------------------------------ option types

def _number(low, high=None, low_open=False):
    """An argparse type for a float in [low, high) (or (low, high) when low_open)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        ok = (value > low if low_open else value >= low) and (high is None or value < high)
        if not ok:
            bounds = f"{'(' if low_open else '['}{low}, {high if high is not None else 'inf'})"
            raise argparse.ArgumentTypeError(f"expected a number in {bounds}, got {text!r}")
        return value
    return parse


def _every(text):
    """'100' or '100 steps' -> (100, 'steps'); '2 epochs' -> (2, 'epochs')."""
    from .run_control import parse_every
    try:
        return parse_every(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected N (steps), 'N steps' or 'N epochs' with N >= 1, got {text!r}") from None


def _hidden(text):
    """'100,100' -> [100, 100]; '' -> [] (no hidden layer)."""
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        sizes = [0]
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive layer widths such as 100,100, got {text!r}")
    return sizes


def _weight_init(text):
    """A name of the book's weight scales ('he'/'relu', 'xavier'/'sigmoid') or a positive
    standard deviation."""
    from .dense_net import INIT_NAMES, check_init
    try:
        return check_init(float(text) if text.lower() not in INIT_NAMES else text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {', '.join(INIT_NAMES)} or a positive number, got {text!r}") from None


# ------------------------------------------------------------------ train

OUTPUTS = ("history.json", "history.csv", "training.png")  # written into --out


def _hyperparameters():
    """{hyper-parameter: {optimizer name: its default}} over OPTIMIZERS' constructors, lr first
    (every optimizer has it): each becomes an option (decay_rate: --decay-rate)."""
    from .optimizer import OPTIMIZERS
    found = {}
    for name, cls in OPTIMIZERS.items():
        for param in inspect.signature(cls).parameters.values():
            found.setdefault(param.name, {})[name] = param.default
    return found


def _start_lr(name):
    """The learning rate ``train`` uses for optimizer ``name`` without --lr: its train_lr, or
    its constructor's default."""
    from .optimizer import OPTIMIZERS
    cls = OPTIMIZERS[name]
    return inspect.signature(cls).parameters["lr"].default if cls.train_lr is None \
        else cls.train_lr


def _hyperparameter(name, defaults):
    """An argparse type for hyper-parameter ``name`` of the optimizers in ``defaults`` ({name:
    default}): a number (an int where every default is an int) that passes each one's check."""
    from .optimizer import OPTIMIZERS
    checks = {getattr(OPTIMIZERS[owner], name).check for owner in defaults}
    whole = all(isinstance(d, int) and not isinstance(d, bool) for d in defaults.values())

    def parse(text):
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if whole else 'a number'}, got {text!r}") from None
        try:
            for check in checks:
                check(name, value)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value
    return parse


def _optimizer_arguments(group):
    """--optimizer, --lr and one option per other hyper-parameter of OPTIMIZERS."""
    from .optimizer import OPTIMIZERS
    group.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="adam")
    group.add_argument("--lr", type=_number(0, low_open=True), default=None,
                       help="learning rate (default: " + ", ".join(
                           f"{name} {_start_lr(name)}" for name in OPTIMIZERS) + "; adam with "
                       + ", ".join(f"--model {m} {d['adam_lr']}" for m, d in
                                   MODEL_DEFAULTS.items() if "adam_lr" in d) + ")")
    for name, defaults in _hyperparameters().items():
        if name == "lr":
            continue
        values = set(defaults.values())
        default = (f"default {values.pop()}" if len(values) == 1 else
                   "defaults " + ", ".join(f"{k} {v}" for k, v in defaults.items()))
        group.add_argument("--" + name.replace("_", "-"), type=_hyperparameter(name, defaults),
                           default=None, help=f"{' / '.join(defaults)} only ({default})")


MODELS = ("mlp", "convnet", "deepconvnet")
# What train uses per --model for the options not given (README "Training from the command
# line" and "The book's conv nets" state them); adam_lr: the start of --lr with Adam.
MODEL_DEFAULTS = {
    "mlp": {"epochs": 5, "lr_schedule": "constant", "eval_samples": None},
    "convnet": {"epochs": 6, "lr_schedule": "cosine", "adam_lr": 0.005, "eval_samples": 1000},
    "deepconvnet": {"epochs": 6, "lr_schedule": "cosine", "adam_lr": 0.002,
                    "eval_samples": 1000},
}
CONV_ONLY_DEFAULTS = {"activation": "relu", "batchnorm": False, "dropout": None,
                      "weight_decay": 0.0}  # options the conv nets do not have, at their defaults


def add_arguments(p):
    from .backend import BACKENDS
    from .schedules import SCHEDULES
    net = p.add_argument_group("network")
    net.add_argument("--model", choices=MODELS, default="mlp",
                     help="mlp: MultiLayerNetExtend; convnet: the book's SimpleConvNet (ch07); "
                          "deepconvnet: the book's DeepConvNet (ch08) (default mlp)")
    net.add_argument("--hidden", type=_hidden, default=None, metavar="W1,W2,...",
                     help="hidden layer widths (default 256,128; convnet/deepconvnet: one "
                          "width, default 100/50)")
    net.add_argument("--activation", choices=("relu", "sigmoid"), default="relu")
    net.add_argument("--weight-init", type=_weight_init, default=None, metavar="INIT",
                     help="he|relu|xavier|sigmoid or a standard deviation (default: he for "
                          "relu, xavier for sigmoid)")
    net.add_argument("--batchnorm", action="store_true", help="batch normalization")
    net.add_argument("--dropout", type=_number(0, 1), default=None, metavar="RATIO",
                     help="dropout after each hidden activation with this ratio")
    net.add_argument("--weight-decay", type=_number(0), default=0.0, metavar="LAMBDA")
    net.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    opt = p.add_argument_group("optimization")
    _optimizer_arguments(opt)
    opt.add_argument("--batch-size", type=positive_int, default=100)
    opt.add_argument("--epochs", type=positive_int, default=None,
                     help="default: " + ", ".join(f"{m} {d['epochs']}"
                                                  for m, d in MODEL_DEFAULTS.items()))
    opt.add_argument("--lr-schedule", choices=SCHEDULES, default=None,
                     help="the learning rate over the run: constant, step (times --lr-decay "
                          "after each epoch) or cosine (a half cosine from --lr to 0); "
                          "default: " + ", ".join(f"{m} {d['lr_schedule']}"
                                                  for m, d in MODEL_DEFAULTS.items()))
    opt.add_argument("--lr-decay", type=_number(0, low_open=True), default=None,
                     metavar="GAMMA", help="--lr-schedule step's factor per epoch")
    data = p.add_argument_group("data")
    data.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist")
    data.add_argument("--data-dir", default=None,
                      help="where the data files are (default: $FASTSCRATCH_DATA or the cache)")
    data.add_argument("--train-size", type=positive_int, default=None, metavar="N",
                      help="train on the first N training images only")
    data.add_argument("--test-size", type=positive_int, default=None, metavar="N",
                      help="test on the first N test images only")
    data.add_argument("--eval-samples", type=positive_int, default=None, metavar="N",
                      help="per-epoch accuracies on the first N training and test images "
                           "(default: all; convnet/deepconvnet: 1000, as the book's scripts); "
                           "the final test accuracy always uses the whole test set")
    run = p.add_argument_group("run")
    run.add_argument("--backend", choices=BACKENDS, default="numba")
    run.add_argument("--threads", type=positive_int, default=None,
                     help="threads for the kernels (default: every usable core, or "
                          "FASTSCRATCH_NUM_THREADS; more than the usable cores is capped)")
    run.add_argument("--seed", type=int, default=None, help="seed of NumPy's global RNG")
    run.add_argument("--out", type=Path, default=None,
                     help="output directory (default runs/<timestamp>)")
    run.add_argument("--save-params", action="store_true", help="also write params.npz")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    ck = p.add_argument_group("checkpoints")
    ck.add_argument("--checkpoint", type=Path, default=None, metavar="PATH",
                    help="keep a checkpoint here (.npz): at the start, every --checkpoint-every, "
                         "at the end, and at Ctrl-C or SIGTERM (after the current step)")
    ck.add_argument("--checkpoint-every", type=_every, default=None, metavar="N",
                    help="N steps, or 'N epochs'")
    ck.add_argument("--resume", action="store_true",
                    help="continue from --checkpoint if it exists (same options and --seed give "
                         "the same numbers as an uninterrupted run)")
    ck.add_argument("--nan-guard", choices=("stop", "rollback"), default=None,
                    help="stop at the first step whose loss or parameters are not finite "
                         "(rollback: after restoring the last checkpoint)")


def _fill_model_defaults(args):
    """Set the options not given to MODEL_DEFAULTS[args.model] (--lr: adam_lr with Adam, else
    the optimizer's start); UsageError for --lr-decay without --lr-schedule step."""
    defaults = MODEL_DEFAULTS[args.model]
    for option in ("epochs", "lr_schedule", "eval_samples"):
        if getattr(args, option) is None:
            setattr(args, option, defaults[option])
    if args.lr is None:
        args.lr = defaults.get("adam_lr") if args.optimizer == "adam" else None
        args.lr = args.lr or _start_lr(args.optimizer)
    if args.lr_decay is not None and args.lr_schedule != "step":
        raise UsageError(f"--lr-decay applies to --lr-schedule step, not {args.lr_schedule}")


def _lr_schedule(args, steps_per_epoch):
    """[the LRSchedule callback] of the filled-in options ([] for a constant rate)."""
    from .schedules import LRSchedule
    if args.lr_schedule == "constant":
        return []
    return [LRSchedule(args.lr_schedule, args.lr, args.epochs * steps_per_epoch,
                       steps_per_epoch, decay=1.0 if args.lr_decay is None else args.lr_decay)]


def _optimizer_param(args):
    """The optimizer's keyword arguments; UsageError for an option it does not have."""
    param = {"lr": args.lr if args.lr is not None else _start_lr(args.optimizer)}
    for name, owners in _hyperparameters().items():
        value = getattr(args, name)
        if name == "lr" or value is None:
            continue
        if args.optimizer not in owners:
            raise UsageError(f"--{name.replace('_', '-')} applies to --optimizer "
                             f"{' or '.join(owners)}, not {args.optimizer}")
        param[name] = value
    return param


def _load_data(args):
    """(x_train, t_train), (x_test, t_test) of --dataset cut to --train-size/--test-size."""
    from .dataset import load_fashion_mnist, load_mnist
    load = load_mnist if args.dataset == "mnist" else load_fashion_mnist
    (x_train, t_train), (x_test, t_test) = load(data_dir=args.data_dir,
                                                flatten=args.model == "mlp")
    for option, n, x in (("--train-size", args.train_size, x_train),
                         ("--test-size", args.test_size, x_test)):
        if n is not None and n > len(x):
            raise UsageError(f"{option} {n} is more than the {len(x)} images of {args.dataset}")
    return ((x_train[:args.train_size], t_train[:args.train_size]),
            (x_test[:args.test_size], t_test[:args.test_size]))


def _conv_network(args):
    """The book's SimpleConvNet or DeepConvNet; UsageError for options they do not have."""
    from .convnet import DeepConvNet, SimpleConvNet
    for option, default in CONV_ONLY_DEFAULTS.items():
        if getattr(args, option) != default:
            raise UsageError(f"--{option.replace('_', '-')} applies to --model mlp, not "
                             f"{args.model}")
    if args.hidden is not None and len(args.hidden) != 1:
        raise UsageError(f"--model {args.model} has one hidden layer: give --hidden one width, "
                         f"got {len(args.hidden)}")
    kwargs = {"dtype": args.dtype}
    if args.hidden is not None:
        kwargs["hidden_size"] = args.hidden[0]
    if args.model == "deepconvnet":
        if args.weight_init is not None:
            raise UsageError("--weight-init applies to --model mlp or convnet; deepconvnet uses "
                             "He initialisation")
        return DeepConvNet(**kwargs)
    if isinstance(args.weight_init, str):
        raise UsageError(f"--model convnet takes a standard deviation for --weight-init (the "
                         f"book's weight_init_std, default 0.01), got {args.weight_init!r}")
    if args.weight_init is not None:
        kwargs["weight_init_std"] = args.weight_init
    return SimpleConvNet(**kwargs)


def _network(args):
    from .multi_layer_net_extend import MultiLayerNetExtend
    if args.model != "mlp":
        return _conv_network(args)
    weight_init = args.weight_init or ("relu" if args.activation == "relu" else "sigmoid")
    hidden = [256, 128] if args.hidden is None else args.hidden
    return MultiLayerNetExtend(784, hidden, 10, activation=args.activation,
                               weight_init_std=weight_init,
                               weight_decay_lambda=args.weight_decay,
                               use_dropout=args.dropout is not None,
                               dropout_ration=args.dropout or 0.0,
                               use_batchnorm=args.batchnorm, dtype=args.dtype)


def _epoch_line(epochs):
    """A callback printing one line per epoch: loss, accuracies, time and throughput."""
    from .training import Callback

    class EpochLine(Callback):
        def on_epoch(self, trainer):
            from tqdm import tqdm
            r = trainer.history[-1]
            tqdm.write(f"epoch {r['epoch']}/{epochs}  loss {r['loss']:.4f}  "
                       f"train acc {r['train_acc']:.4f}  test acc {r['test_acc']:.4f}  "
                       f"{r['seconds']:.1f} s  {r['images_per_second']:,.0f} img/s")
    return EpochLine()


def _save_params(network, path):
    """params plus each batch-norm layer's running statistics ('BatchNorm1.running_mean', ...)."""
    import numpy as np
    from .checkpoint import named_layers
    arrays = dict(network.params)
    for name, layer in named_layers(network).items():
        for stat in ("running_mean", "running_var"):
            if getattr(layer, stat, None) is not None:
                arrays[f"{name}.{stat}"] = getattr(layer, stat)
    np.savez(path, **arrays)


def _options(args):
    """The parsed options as JSON values."""
    skip = ("command", "_parser")
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
            if k not in skip}


def _run_callbacks(args):
    """The epoch line, the NaN guard and the checkpoint of the options, in that order (the
    guard checks a step before the checkpoint can keep it); UsageError when --checkpoint is
    missing."""
    from .run_control import Checkpoint
    from .training import NanGuard
    if args.checkpoint is None and (args.checkpoint_every or args.resume
                                    or args.nan_guard == "rollback"):
        raise UsageError("--checkpoint-every, --resume and --nan-guard rollback need "
                         "--checkpoint PATH")
    callbacks = [] if args.quiet else [_epoch_line(args.epochs)]
    ck = None
    if args.checkpoint is not None:
        every = args.checkpoint_every and " ".join(map(str, args.checkpoint_every))
        ck = Checkpoint(args.checkpoint, every=every, resume=args.resume)
    if args.nan_guard is not None:
        callbacks.append(NanGuard(rollback=ck if args.nan_guard == "rollback" else None))
    return callbacks + ([ck] if ck is not None else [])


def _check_output(option, value, path, made):
    """Make path's folder (mkdir -p; the folders made are appended to made, deepest first) and
    check that a file can be written at path by writing and deleting a probe beside it; a
    UsageError naming the option otherwise."""
    missing = [folder for folder in path.parents if not folder.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option} {str(value)!r}: {path.parent} cannot be made a directory: "
                         f"{exc.strerror or exc}") from None
    finally:
        made += [folder for folder in missing if folder.is_dir()]
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a directory")
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".probe"):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {str(value)!r}: cannot write {path}: "
                         f"{exc.strerror or exc}") from None


def _check_outputs(args, out, made):
    """Every file the run will write can be written (checked before anything runs)."""
    for name in OUTPUTS + (("params.npz",) if args.save_params else ()):
        _check_output("--save-params" if name == "params.npz" else "--out", out, out / name,
                      made)
    if args.checkpoint is not None:
        _check_output("--checkpoint", args.checkpoint, args.checkpoint, made)


def run(args):
    """``fastscratch train``; a run that fails or stops removes the folders it made for its
    outputs while they are still empty."""
    made, status = [], None
    try:
        status = _train_run(args, made)
        return status
    finally:
        if status != 0:
            for folder in made:  # deepest first
                try:
                    folder.rmdir()
                except OSError:  # not empty: it holds a checkpoint
                    pass


def _train_run(args, made):
    import numpy as np
    from .backend import use_backend
    from .checkpoint import CheckpointError
    from .dataset import DatasetError
    from .plotting import plot_training
    from .threads import set_num_threads
    from .trainer import TrainOptions, Trainer

    started = time.perf_counter()
    _fill_model_defaults(args)
    param = _optimizer_param(args)
    callbacks = _run_callbacks(args)
    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    use_backend(args.backend)
    if args.threads is not None:
        set_num_threads(args.threads)
    if args.seed is not None:
        np.random.seed(args.seed)
    network = _network(args)  # before the outputs and the data: option errors come first
    _check_outputs(args, out, made)
    try:
        (x_train, t_train), (x_test, t_test) = _load_data(args)
    except DatasetError as exc:
        print(f"fastscratch train: error: {exc}", file=sys.stderr)
        return 1
    x_train, x_test = x_train.astype(args.dtype), x_test.astype(args.dtype)
    trainer = Trainer(network, x_train, t_train, x_test, t_test, epochs=args.epochs,
                      mini_batch_size=args.batch_size, optimizer=args.optimizer,
                      optimizer_param=param,
                      evaluate_sample_num_per_epoch=args.eval_samples, verbose=False,
                      options=TrainOptions(shuffle=True, loss_pass=False,
                                           progress=not args.quiet and sys.stderr.isatty()),
                      callbacks=_lr_schedule(args, math.ceil(len(x_train) / args.batch_size))
                      + callbacks)
    try:
        trainer.train()
    except (CheckpointError, FloatingPointError) as exc:  # a checkpoint that does not fit, NaN
        print(f"fastscratch train: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"fastscratch train: {exc or 'interrupted'}", file=sys.stderr)
        return 130

    history = trainer.history_dict()
    history["options"] = _options(args)
    history["total_seconds"] = time.perf_counter() - started
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    trainer.save_history(out / "history.csv")
    plot_training(history, out / "training.png")
    written = list(OUTPUTS)
    if args.save_params:
        _save_params(network, out / "params.npz")
        written.append("params.npz")
    if not args.quiet:
        print(f"final test accuracy {trainer.final_test_acc:.4f} on {len(x_test)} images "
              f"({history['total_seconds']:.1f} s in all)")
        print(f"wrote {', '.join(written)} to {out}")
    return 0
