#!/usr/bin/env python
"""An Auptimizer training script, as Auptimizer's examples write one (unchanged)."""
import sys

from aup import BasicConfig, print_result


def main() -> None:
    config = BasicConfig().load(sys.argv[1])
    loss = (config.x - 1) ** 2 + config.units / 1000
    if config.optimizer == "sgd":
        loss += config["optimizer.momentum"]
    print_result(loss)


if __name__ == "__main__":
    main()
