"""The one list of optimizer test cases: every optimizer of fastscratch.optimizer.OPTIMIZERS
(test_optimizers checks that none is missing) with the hyper-parameters the tests run it with.
A new optimizer is tested by adding it here."""
from fastscratch import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

CASES = [(SGD, {"lr": 0.1}), (Momentum, {"lr": 0.05, "momentum": 0.8}),
         (Nesterov, {"lr": 0.05}), (AdaGrad, {"lr": 0.1}),
         (RMSprop, {"lr": 0.01, "decay_rate": 0.9}), (Adam, {"lr": 0.01})]
IDS = [cls.__name__ for cls, _ in CASES]
