"""The chapter's slips (nnopt.lab.errata) as a finding of the report: one part per place where a formula of
ch. 7 differs from its source, each run as written beside the paper's rule."""
from __future__ import annotations

import numpy as np

from .. import errata
from ..base import Check, LabContext, Finding, Table, experiment
from ..plots import figure, finish

DEPARTS = 1e-6  # a run "departs" from the paper's when |θ_written − θ_paper| exceeds this at some step


@experiment("errata", number=28, cost_s=(2, 2),
            claim="Errata: where the chapter writes an update rule differently from the paper it cites, the rule as "
                  "written behaves differently (the chapter's slips, each run beside the paper's rule).",
            precise="Each formula of ch. 7 that differs from its source, run as written and as in the paper on a "
                    "one-dimensional quadratic (float64; the paper's rules are checked against torch.optim in the "
                    "tests): the slip is confirmed when the run as written departs from the paper's (largest "
                    f"|Δ distance to the optimum| > {DEPARTS:g}); control: the paper's rule run twice must not depart. "
                    "Label smoothing's ε/(K−1) is listed as a different convention, not a slip",
            source="Kingma & Ba 2015 (Adam, Alg. 1); Zeiler 2012 (Adadelta, Alg. 1); Duchi et al. 2011 (AdaGrad); "
                   "Szegedy et al. 2016 §7 (label smoothing)")
def chapter_errata(ctx: LabContext) -> Finding:
    found = errata.all_errata()
    pairs = {"adam_bias_correction": ("as written", "Kingma & Ba"),
             "adadelta_accumulator": ("as written, shifted by 100", "Zeiler, shifted by 100"),
             "epsilon_placement": ("ε inside √, loss × 1e-06", "ε outside √, loss × 1e-06")}

    def departs(pair: tuple[np.ndarray, np.ndarray]) -> Check:
        gap = float(np.abs(pair[0] - pair[1]).max())
        return Check(gap > DEPARTS, f"largest |Δ distance to the optimum| {gap:.3g}")

    for e in found:
        if e.key in pairs:
            written, paper = (e.series[k] for k in pairs[e.key])
            ctx.part(f"{e.section}: as written, {e.as_written}, departs from the paper", check=departs,
                     on=(written, paper),
                     criterion=f"the run as written departs from the paper's ({e.source_rule}, {e.source})",
                     control=("the paper's rule against itself", (paper, paper.copy())),
                     why="the formula as written gives the paper's run here", numbers=e.numbers)
    fig, axes = figure(len(pairs), width=4.6, height=3.8)
    for ax, e in zip(axes, [e for e in found if e.key in pairs]):
        for label, series in e.series.items():
            ax.plot(np.arange(len(series)), np.maximum(series, 1e-16), label=label)
        ax.set(yscale="log", xlabel="step t", ylabel="|θ_t − θ*| (log scale)", title=e.section)
    finish(fig, *axes)
    rows = [[e.section, e.as_written, e.source_rule, e.source, "slip" if e.slip else "convention", e.effect]
            for e in found]
    return ctx.finding(
        table=Table(["where", "the chapter writes", "the paper writes", "source", "kind", "what it does"], rows),
        figures=[ctx.save_figure(fig, "errata", caption="each panel: the chapter's rule as written beside the "
                                 "paper's, distance to the optimum per step (the paper's rule gives one line for both "
                                 "shifts or scales: the lines coincide)")],
        numbers={e.key: e.numbers for e in found},
        notes="The chapter's formulas are quoted from Qiu Xipeng, Neural Networks and Deep Learning, ch. 7 (§7.2.3–7.2.4, "
              "§7.7.6). No training runs: every rule is a scalar loop in nnopt.lab.errata, and the tests check the "
              "paper's rules against torch.optim.Adam/Adadelta and the chapter's against hand computations.")
