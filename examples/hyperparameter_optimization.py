"""Book section 6.5: random search of the learning rate 10^U(-6,-2) and weight decay
10^U(-8,-4) for a 7-layer net trained 50 epochs by SGD on 400 of the first 500 MNIST training
images, validated on the other 100 (20%); plots validation (solid) and training (dashed)
accuracy of the best 20 trials (hyperparameter_optimization.png).

--quick: 6 trials of 5 epochs, best 5 plotted; --trials changes the number of trials.
"""
import math

import numpy as np

import _common
from fastscratch import MultiLayerNet
from fastscratch.plotting import new_figure
from fastscratch.trainer import Trainer
from fastscratch.util import shuffle_dataset

COLUMNS = 5


def trial(data, lr, weight_decay, epochs):
    """(validation accuracy per epoch, train accuracy per epoch) of one setting."""
    x_train, t_train, x_val, t_val = data
    network = MultiLayerNet(784, [100] * 6, 10, weight_decay_lambda=weight_decay)
    trainer = Trainer(network, x_train, t_train, x_val, t_val, epochs=epochs,
                      mini_batch_size=100, optimizer="sgd", optimizer_param={"lr": lr},
                      verbose=False)
    trainer.train()
    return trainer.test_acc_list, trainer.train_acc_list


def main():
    args = _common.parse_args(__file__, __doc__.splitlines()[0], lambda p: p.add_argument(
        "--trials", type=int, default=None, help="number of random settings (default 100)"))
    (x_train, t_train), _ = _common.load_data(args)
    x_train, t_train = shuffle_dataset(x_train[:500], t_train[:500])
    validation_num = int(x_train.shape[0] * 0.20)
    data = (x_train[validation_num:], t_train[validation_num:],
            x_train[:validation_num], t_train[:validation_num])
    trials, epochs, shown = (6, 5, 5) if args.quick else (100, 50, 20)
    trials = args.trials or trials

    results = []
    for _ in range(trials):
        weight_decay = 10 ** np.random.uniform(-8, -4)
        lr = 10 ** np.random.uniform(-6, -2)
        val_acc, train_acc = trial(data, lr, weight_decay, epochs)
        print(f"val acc:{val_acc[-1]:.2f} | lr:{lr:.3e}, weight decay:{weight_decay:.3e}")
        results.append((val_acc, train_acc, lr, weight_decay))

    print("=========== Hyper-Parameter Optimization Result ===========")
    results.sort(key=lambda r: r[0][-1], reverse=True)
    shown = min(shown, len(results))
    fig, axes = new_figure(math.ceil(shown / COLUMNS), COLUMNS, size=(13, 2.4 * math.ceil(
        shown / COLUMNS) + 0.5))
    for i, (ax, (val_acc, train_acc, lr, weight_decay)) in enumerate(
            zip(axes.reshape(-1), results[:shown])):
        print(f"Best-{i + 1} (val acc:{val_acc[-1]:.2f}) | lr:{lr:.3e}, "
              f"weight decay:{weight_decay:.3e}")
        ax.plot(val_acc)
        ax.plot(train_acc, "--")
        ax.set(ylim=(0, 1.0), title=f"Best-{i + 1}", xticks=[])
        if i % COLUMNS:
            ax.set_yticks([])
    lrs = [r[2] for r in results[:shown]]
    print(f"learning rates of the best {shown}: {min(lrs):.1e} .. {max(lrs):.1e}")
    _common.save(fig, args, "hyperparameter_optimization.png")
    _common.finish(args)


if __name__ == "__main__":
    main()
