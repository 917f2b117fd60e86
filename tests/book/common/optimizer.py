# Test data: the book's code (oreilly-japan/deep-learning-from-scratch, MIT licence),
# common/optimizer.py @ 0dda3d17 (SGD only; comments dropped).
import numpy as np


class SGD():

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * grads[key]
