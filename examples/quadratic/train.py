"""The smallest Sweeplab trial: a quadratic bowl dressed up as training.

Parameters: ``x``, ``y`` (numbers) and ``optimizer``, a choice of groups
``sgd {momentum}`` | ``adam {beta1}`` that nudges the result a little. The loss
converges over the epochs to ``(x - 1)^2 + (y + 2)^2 + optimizer term``, so the best
trials sit near x = 1, y = -2 (KPI ``loss``, minimise).

Run it by hand with the defaults: ``PYTHONPATH=app/sdk python examples/quadratic/train.py``.
``QUADRATIC_EPOCH_SECONDS`` sets the pause per epoch (0.05 s by default).
"""

from __future__ import annotations

import os
import time

import sweeplab


def optimizer_term() -> float:
    """A small penalty that depends on the chosen optimizer branch."""
    if sweeplab.param("optimizer", "sgd") == "adam":
        return 0.1 * abs(float(sweeplab.param("optimizer.beta1", 0.9)) - 0.9)
    return 0.1 * (1.0 - float(sweeplab.param("optimizer.momentum", 0.9)))


def main() -> None:
    x = float(sweeplab.param("x", 0.0))
    y = float(sweeplab.param("y", 0.0))
    target = (x - 1.0) ** 2 + (y + 2.0) ** 2 + optimizer_term()
    epochs = sweeplab.max_epochs(20) or 20
    pause = float(os.environ.get("QUADRATIC_EPOCH_SECONDS", "0.05"))
    loss = target + 1.0
    epoch = 0
    try:
        for epoch in range(1, epochs + 1):
            time.sleep(pause)
            loss = target + 0.7**epoch
            sweeplab.report("loss", loss, step=epoch)
            sweeplab.progress(epoch, epochs)
    except KeyboardInterrupt:  # Sweeplab's stop (or max time) sends SIGINT
        print(f"interrupted at epoch {epoch}; last loss {loss:.6f}", flush=True)
        sweeplab.report("loss", loss, step=epoch)


if __name__ == "__main__":
    main()
