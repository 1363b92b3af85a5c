"""`nnopt diagnose`: signal propagation through a deep net per init × activation, before any training.

Does a model's init keep Var z and ‖δ‖ steady over depth? Not `nnopt.doctor`, which reads a
finished run and says what went wrong in it, with remedies.

    results = sweep(["normal:std=1", "normal:std=0.01", "xavier_normal", "he_normal",
                     "orthogonal"], ["tanh", "relu"], depth=50, width=256)
    print(table(results)); render(results, "propagation.png")
"""
from .propagation import LayerStats, Propagation, deep_mlp, from_recipe, measure, parse_init, sweep
from .report import render, table

__all__ = ["LayerStats", "Propagation", "measure", "sweep", "deep_mlp", "from_recipe", "parse_init",
           "table", "render"]
