"""The chapter's slips (nnopt.lab.errata) as a finding of the report: one part per place where a formula of
ch. 7 differs from its source, each run as written beside the paper's rule."""
from __future__ import annotations

import numpy as np

from .. import errata
from ..base import Check, LabContext, Finding, Table, experiment
from ..plots import figure, finish

DEPARTS = 1e-6  # a run "departs" from the paper's when |θ_written − θ_paper| exceeds this at some step


@experiment("errata", number=28, cost_s=(1, 1),
            claim="Errata: where the chapter writes an update rule differently from the paper it cites, the rule as "
                  "written behaves differently (the chapter's slips, each run beside the paper's rule).",
            precise="Each formula of ch. 7 that differs from its source, run as written and as in the paper on a "
                    "one-dimensional quadratic (float64; the paper's rules are checked against torch.optim in the "
                    "tests): the slip is confirmed when the run as written departs from the paper's (largest "
                    f"|Δ distance to the optimum| > {DEPARTS:g}); control: the paper's rule run twice must not depart. "
                    "Label smoothing's ε/(K−1) is listed as a different convention, not a slip",
            source="Duchi et al. 2011 (AdaGrad); Kingma & Ba 2015 (Adam, Alg. 1); Pascanu et al. 2013 (clipping, "
                   "Alg. 1); Szegedy et al. 2016 §7 (label smoothing)")
def chapter_errata(ctx: LabContext) -> Finding:
    found = errata.all_errata()
    runs = [e for e in found if e.compare]

    def departs(pair: tuple[np.ndarray, np.ndarray]) -> Check:
        gap = float(np.abs(pair[0] - pair[1]).max())
        return Check(gap > DEPARTS, f"largest |Δ distance to the optimum| {gap:.3g}")

    for e in runs:
        written, paper = (e.series[k] for k in e.compare)
        ctx.part(f"{e.section}: as written, {e.as_written}, departs from the paper", check=departs,
                 on=(written, paper),
                 criterion=f"the run as written departs from the paper's ({e.source_rule}, {e.source})",
                 control=("the paper's rule against itself", (paper, paper.copy())),
                 why="the formula as written gives the paper's run here", numbers=e.numbers)
    fig, axes = figure(len(runs), width=4.6, height=3.8)
    for ax, e in zip(axes, runs):
        for label, series in e.series.items():
            ax.plot(np.arange(len(series)), np.maximum(series, 1e-16), label=label)
        ax.set(yscale="log", xlabel="step t", ylabel="|θ_t − θ*| (log scale)", title=e.section)
    finish(fig, *axes)
    rows = [[e.section, e.as_written, e.source_rule, e.source, "slip" if e.slip else "convention", e.effect]
            for e in found]
    return ctx.finding(
        table=Table(["where", "the chapter writes", "the paper writes", "source", "kind", "what it does"], rows),
        figures=[ctx.save_figure(fig, "errata", caption="left: with ε inside the root the run on the loss scaled by "
                                 "1e-6 (orange) barely moves while ε outside keeps the unscaled run (unscaled, blue lies under green); right: clipped GD as "
                                 "written bounces between |θ| = 4 and 3.2 while Pascanu et al.'s converges (the plot floors "
                                 "|θ − θ*| at 1e-16)")],
        numbers={e.key: e.numbers for e in found},
        notes="The chapter's formulas: Qiu Xipeng, Neural Networks and Deep Learning, ch. 7 (§7.2.3–7.2.4, §7.7.6). "
              "The book's PDF was not in reach of this pass's search; its text was read from a near-verbatim public "
              "transcription of §7.2 (Bin Li, 'Optimizers', citing the book; LaTeX of every update rule) and checked "
              "against a second, independent summary of the chapter (the same rules). Changed after that reading: the "
              "first pass's two headline slips were quoted from memory and are retracted — the chapter writes Adam's "
              "M̂_t = M_t/(1−β₁ᵗ) (not 1−β₂ᵗ) and AdaDelta's ΔX²_{t−1} = β₁ΔX²_{t−2} + (1−β₁)Δθ_{t−1}⊙Δθ_{t−1} (the "
              "updates, not θ), as Kingma & Ba and Zeiler do; the ε inside the root is confirmed (AdaGrad, RMSprop, "
              "Adam); the norm clipping's squared test is a slip found in that reading. The same transcription gives "
              "AdaGrad's ε as 'e^{−7} to e^{−10}', most likely 10^{−7}…10^{−10} (not run: a typo of notation, and "
              "not confirmed by the second source). No training runs: every rule is a scalar loop in "
              "nnopt.lab.errata, and the tests check the paper's rules against torch.optim.Adam and "
              "torch.nn.utils.clip_grad_norm_ and the chapter's against hand computations.")
