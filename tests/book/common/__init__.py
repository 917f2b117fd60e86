# Test data: the book's code (oreilly-japan/deep-learning-from-scratch, MIT licence),
# the few common/ modules the scripts beside it need, for the runs on the book's own code.
