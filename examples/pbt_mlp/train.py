"""A numpy MLP whose best learning rate decays: population-based training's example.

Standard library and numpy only, so it runs anywhere Sweeplab does. The data are made
here, seeded: 10 classes, each a mixture of 4 clusters in 32 dimensions with Gaussian
noise (1,500 points to train, 1,000 to validate), so the classes are not linearly
separable and plain SGD's noise matters. A large learning rate learns fast but then
bounces around; a small one is precise but slow: a rate that starts high and decays
beats every constant one over the same epochs (about 0.84 against 0.80 at 24 epochs),
which is what PBT finds while training.

Parameters (dotted names):

* ``lr``: the SGD learning rate (PBT mutates it between segments);
* ``units``: hidden units (the model's shape: fixed, PBT never mutates it);
* ``seed``: the weights' initialisation and the data's shuffling.

Checkpoints, through the SDK: after each epoch the weights and the epoch are written to
``sweeplab.checkpoint_dir()`` and the trial says so with ``sweeplab.checkpointed(epoch)``
(which publishes them as ``checkpoints/<epoch>``); at start, a trial given
``sweeplab.restore_dir()`` (a donor's checkpoint after an exploit, or its own after a
resume) loads the weights there and goes on from the epoch stored with them. Under
random search or ASHA no restore folder is given and it trains from scratch.

Reports ``val_acc`` (the KPI, maximise), ``loss`` and the ``lr`` in use each epoch.
``SWEEPLAB_MAX_EPOCHS`` sets the epochs (default 24); ``PBT_MLP_EPOCH_SECONDS`` makes
each epoch last at least that long (default 0: an epoch takes ~10-20 ms), as a real
model's would, so the population's decisions, taken between epochs while the trials
run, land where they would there (``bench/pbt.py`` sets it). Run it by hand::

    PYTHONPATH=app/sdk python examples/pbt_mlp/train.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import sweeplab

FEATURES = 32
CLASSES = 10
CLUSTERS = 40  # four per class
NOISE = 1.2
TRAIN, VALIDATE = 1500, 1000
BATCH = 32
CHECKPOINT = "model.npz"


def make_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same data in every trial: (train x, train y, validation x, validation y)."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((CLUSTERS, FEATURES))
    cluster = rng.integers(0, CLUSTERS, TRAIN + VALIDATE)
    x = (centres[cluster] + rng.standard_normal((len(cluster), FEATURES)) * NOISE)
    y = cluster % CLASSES
    x = x.astype(np.float32)
    return x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]


class Model:
    """One hidden ReLU layer and a softmax, trained by plain minibatch SGD."""

    def __init__(self, units: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.weights = {
            "w1": (rng.standard_normal((FEATURES, units)) * np.sqrt(2 / FEATURES)).astype(
                np.float32),
            "b1": np.zeros(units, np.float32),
            "w2": (rng.standard_normal((units, CLASSES)) * np.sqrt(1 / units)).astype(
                np.float32),
            "b2": np.zeros(CLASSES, np.float32),
        }

    def epoch(self, x: np.ndarray, y: np.ndarray, lr: float, rng: np.random.Generator) -> float:
        """One pass over (x, y) in shuffled minibatches; the mean training loss."""
        w = self.weights
        onehot = np.eye(CLASSES, dtype=np.float32)[y]
        order = rng.permutation(len(y))
        losses = []
        for start in range(0, len(order), BATCH):
            rows = order[start:start + BATCH]
            hidden = np.maximum(x[rows] @ w["w1"] + w["b1"], 0)
            logits = hidden @ w["w2"] + w["b2"]
            logits -= logits.max(axis=1, keepdims=True)
            prob = np.exp(logits)
            prob /= prob.sum(axis=1, keepdims=True)
            losses.append(-np.mean(np.log(prob[np.arange(len(rows)), y[rows]] + 1e-12)))
            delta = (prob - onehot[rows]) / len(rows)
            back = (delta @ w["w2"].T) * (hidden > 0)
            w["w1"] -= lr * (x[rows].T @ back)
            w["b1"] -= lr * back.sum(axis=0)
            w["w2"] -= lr * (hidden.T @ delta)
            w["b2"] -= lr * delta.sum(axis=0)
        return float(np.mean(losses))

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        """The share of ``x`` classified as ``y``."""
        w = self.weights
        hidden = np.maximum(x @ w["w1"] + w["b1"], 0)
        return float(np.mean((hidden @ w["w2"] + w["b2"]).argmax(axis=1) == y))

    def save(self, folder: Path, epoch: int) -> None:
        """Write the weights and ``epoch`` to ``folder`` atomically (a crash mid-write
        leaves the previous checkpoint)."""
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / (CHECKPOINT + ".part")
        with part.open("wb") as handle:
            np.savez(handle, epoch=epoch, **self.weights)
        os.replace(part, folder / CHECKPOINT)

    def load(self, folder: Path) -> int:
        """Read the weights saved in ``folder``; the epoch they were saved after."""
        path = folder / CHECKPOINT
        try:
            with np.load(path) as saved:
                for name in self.weights:
                    if saved[name].shape != self.weights[name].shape:
                        raise SystemExit(
                            f"pbt_mlp: {path}: {name} has shape {saved[name].shape}, this "
                            f"model's is {self.weights[name].shape} (units must not mutate)")
                    self.weights[name] = saved[name].astype(np.float32)
                return int(saved["epoch"])
        except (OSError, KeyError, ValueError) as error:
            raise SystemExit(f"pbt_mlp: cannot restore from {path}: {error}") from error


def main() -> None:
    x_train, y_train, x_val, y_val = make_data()
    lr = float(sweeplab.param("lr", 0.3))
    seed = int(sweeplab.param("seed", 0))
    model = Model(int(sweeplab.param("units", 48)), seed)
    epochs = sweeplab.max_epochs(24) or 24
    restore = sweeplab.restore_dir()
    done = model.load(Path(restore)) if restore is not None else sweeplab.start_step()
    pace = float(os.environ.get("PBT_MLP_EPOCH_SECONDS", "0") or 0)
    epoch = done
    try:
        for epoch in range(done + 1, epochs + 1):
            began = time.monotonic()
            loss = model.epoch(x_train, y_train, lr, np.random.default_rng([seed, epoch]))
            time.sleep(max(0.0, pace - (time.monotonic() - began)))
            model.save(sweeplab.checkpoint_dir(), epoch)
            sweeplab.checkpointed(epoch)
            sweeplab.report("loss", loss, step=epoch)
            sweeplab.report("lr", lr, step=epoch)
            sweeplab.report("val_acc", model.accuracy(x_val, y_val), step=epoch)
            sweeplab.progress(epoch, epochs)
    except KeyboardInterrupt:  # Sweeplab's stop, a prune or the end of a PBT segment
        print(f"interrupted after epoch {epoch}", flush=True)


if __name__ == "__main__":
    main()
