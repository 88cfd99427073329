"""A small real model: an MLP on scikit-learn's bundled 8x8 digits (no download).

Parameters (dotted names):

* ``optimizer``: choice of groups ``sgd {learning_rate_init, momentum}`` |
  ``adam {learning_rate_init, beta_1}``;
* ``layers`` (1-3) and ``units`` (16-128): the hidden layer sizes;
* ``alpha``: L2 penalty (log scale); ``batch_size``: a choice such as 32 | 64 | 128.

Trains epoch by epoch with ``partial_fit`` and reports ``val_acc`` (the KPI, maximise)
and the training ``loss`` each epoch, with progress. ``SWEEPLAB_MAX_EPOCHS`` sets the
epochs (default 20). A trial takes a second or two.

Run it by hand with the defaults: ``PYTHONPATH=app/sdk python examples/digits-mlp/train.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import sweeplab
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier


def build_model() -> MLPClassifier:
    """The classifier the trial's parameters describe."""
    solver = sweeplab.param("optimizer", "adam")
    options: dict[str, Any] = {
        "solver": solver,
        "learning_rate_init": float(sweeplab.param("optimizer.learning_rate_init", 1e-3)),
    }
    if solver == "sgd":
        options["momentum"] = float(sweeplab.param("optimizer.momentum", 0.9))
    elif solver == "adam":
        options["beta_1"] = float(sweeplab.param("optimizer.beta_1", 0.9))
    else:
        raise SystemExit(f"digits-mlp: optimizer must be 'sgd' or 'adam', got {solver!r}")
    layers = int(sweeplab.param("layers", 1))
    units = int(sweeplab.param("units", 64))
    return MLPClassifier(
        hidden_layer_sizes=(units,) * layers,
        alpha=float(sweeplab.param("alpha", 1e-4)),
        batch_size=int(sweeplab.param("batch_size", 64)),
        random_state=int(sweeplab.param("seed", 0)),
        **options,
    )


def main() -> None:
    features, labels = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        features / 16.0, labels, test_size=0.25, random_state=0, stratify=labels
    )
    classes = np.unique(labels)
    model = build_model()
    epochs = sweeplab.max_epochs(20) or 20
    epoch = 0
    try:
        for epoch in range(1, epochs + 1):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.partial_fit(x_train, y_train, classes=classes if epoch == 1 else None)
            sweeplab.report("loss", model.loss_, step=epoch)
            sweeplab.report("val_acc", model.score(x_val, y_val), step=epoch)
            sweeplab.progress(epoch, epochs)
    except KeyboardInterrupt:  # Sweeplab's stop (or max time) sends SIGINT
        print(f"interrupted after epoch {epoch}", flush=True)


if __name__ == "__main__":
    main()
