"""The Trainer's progress display: one tqdm bar per epoch counting images, with the last loss."""


class EpochBar:
    """A tqdm bar opened on the first step of an epoch and closed after its last; messages
    printed meanwhile go above it. Does nothing until ``advance`` is called."""

    def __init__(self):
        self._bar = None

    def advance(self, images, loss, desc, total):
        """Count ``images`` more and show ``loss``; ``desc`` and ``total`` (images) name and size
        the bar when this step opens it."""
        if self._bar is None:
            from tqdm.auto import tqdm
            self._bar = tqdm(total=total, desc=desc, unit="img", unit_scale=True, leave=False)
        self._bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
        self._bar.update(images)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def write(self, message):
        """Print ``message`` above the open bar, or plainly when none is open."""
        if self._bar is not None:
            self._bar.write(message)
        else:
            print(message)
