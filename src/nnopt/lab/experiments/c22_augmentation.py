"""Claim 22: data augmentation reduces overfitting — images (geometric + noise) and text (EDA).

A gap can shrink because the training accuracy falls while the test accuracy falls too; so each part
asks for a smaller gap beyond the seed spread *and* a test accuracy that does not fall, and runs the
same criterion on controls that must fail: an identity augmentation (nothing changes) and a
destructive one (the gap shrinks because nothing is learned)."""
from __future__ import annotations

from ..base import CleanAccuracy, Finding, LabContext, Table, experiment, narrows_gap, overfits
from ..plots import band, figure, finish, spread_note

IMAGE = {"data": {"name": "digits", "n_train": 200}, "model": {"name": "cnn", "channels": [16, 32], "hidden": 64},
         "optimizer": {"name": "adam", "lr": 2e-3}, "train": {"batch_size": 32}}
# digits are not mirror-symmetric (a flipped 2 is no digit), so no flips; the rest as in bench/augment_overfit.py
IMAGE_ARMS = {"none": {},
              "augmented": {"augment.name": "image", "augment.rotation": 15.0, "augment.scale": [0.9, 1.1],
                            "augment.translate": 0.1, "augment.noise": 0.05},
              "identity (control)": {"augment.name": "image"},
              "destructive (control)": {"augment.name": "image", "augment.rotation": 180.0, "augment.noise": 1.0}}
TEXT = {"data": {"name": "wordnet_topics"}, "model": {"name": "text_rnn", "cell": "gru"},
        "optimizer": {"name": "adam", "lr": 3e-3}, "train": {"batch_size": 64}}
TEXT_ARMS = {"none": {}, "augmented": {"data.augment": "eda", "data.alpha": 0.1, "data.n_aug": 2},
             "identity (control)": {"data.augment": "eda", "data.alpha": 0.0, "data.n_aug": 2}}
@experiment("augmentation", claim="Data augmentation (more, transformed training examples) reduces overfitting",
            precise="(a) Digits with 200 training images, a small CNN (16-32 channels), Adam: random rotation "
                    "(±15°), scaling (0.9–1.1), translation (±10%) and Gaussian noise (σ = 0.05) on every training "
                    "batch; (b) WordNet noun definitions (8 topics, 150 per topic), a GRU: two EDA variants per "
                    "training document (synonym replacement, insertion, swap, deletion, α = 0.1). Each: the train − "
                    "test accuracy gap (train measured in eval mode on the clean training data) is smaller than "
                    "without augmentation beyond the seed spread, and the test accuracy does not fall. Controls "
                    "that must fail: the identity augmentation (images and text) and a destructive one (rotation "
                    "±180°, noise σ = 1). Precondition: without augmentation the network overfits (gap > 2 points, "
                    "every seed). With --on, part (a) runs on your recipe",
            source="Simard, Steinkraus & Platt 2003; Krizhevsky et al. 2012; Wei & Zou 2019 (EDA)",
            accepts_recipe=True, shows={"augment.name": "*", "data.augment": "*"}, cost_s=(3.9, 47))
def augmentation(ctx: LabContext) -> Finding:
    epochs = ctx.pick(4, 60)
    image = {arm: ctx.runs(lambda s, o=over: ctx.recipe(IMAGE, s, {"train.epochs": epochs, **o}), f"image-{k}",
                           lambda: [CleanAccuracy()]) for k, (arm, over) in enumerate(IMAGE_ARMS.items())}
    tasks = {"image": (image, IMAGE_ARMS)}
    if ctx.on is None:
        size = {"train.epochs": ctx.pick(2, 8), "data.per_class": ctx.pick(16, 150)}
        tasks["text"] = ({arm: ctx.runs(lambda s, o=over: ctx.recipe(TEXT, s, {**size, **o}), f"text-{k}",
                                        lambda: [CleanAccuracy()]) for k, (arm, over) in enumerate(TEXT_ARMS.items())},
                         TEXT_ARMS)
    measured = {task: {arm: rs.gaps() for arm, rs in runs.items()} for task, (runs, _) in tasks.items()}
    controls = {}
    for task, m in measured.items():
        check = narrows_gap(m["none"], "augmented")
        kinds = [arm for arm in m if arm.endswith("(control)")]
        controls[task] = {arm: check(m[arm]) for arm in kinds}
        ctx.part(f"({'ab'[task == 'text']}) {task}: augmentation reduces overfitting", check=check,
                 criterion="gap smaller than without augmentation beyond the seed spread (95% interval) and mean "
                           "test accuracy not lower",
                 on=m["augmented"], control=(kinds[-1], m[kinds[-1]]), preconditions=[overfits(m["none"])],
                 why="the augmented network's test accuracy falls or its gap shrinks only inside the seed noise: "
                     "the gap narrows because training accuracy falls" if task == "image" else
                     "the gap does not shrink beyond the seed noise at this budget",
                 numbers={"controls": {arm: {"ok": c.ok, "measured": c.measured} for arm, c in controls[task].items()}})
    rows = [[task, arm, *(x.fmt(".3f") for x in m[arm])] for task, m in measured.items() for arm in m]
    return ctx.finding(
        table=Table(["task", "training data", "train acc (eval mode, clean)", "test acc", "gap"], rows),
        figures=[ctx.save_figure(plot(tasks, len(ctx.seeds)), "augmentation",
                                 caption="solid (validation) vs dashed (training) lines: does augmentation close the gap "
                                         "from below (training falls) or from above (validation rises)? The identity "
                                         "control's image runs are the unaugmented ones exactly (same seeds), drawn on top")],
        numbers={task: {arm: {"train_acc": x[0], "test_acc": x[1], "gap": x[2]} for arm, x in m.items()}
                 for task, m in measured.items()} | {"controls_ok": {task: {arm: c.ok for arm, c in cs.items()}
                                                                      for task, cs in controls.items()}},
        notes="Train accuracy is the trained model in eval mode on its un-augmented training data; for text the "
              "augmentation is offline, so the training split it is measured on holds the EDA variants too. The text "
              "setup was cut for the 60 s budget after a first full run (300 definitions per class, 10 epochs: gap "
              "0.425 → 0.366, test acc 0.575 → 0.634, 48 s of CPU) to 150 per class and 8 epochs. Second pass: the "
              "criterion now also asks that test accuracy not fall (the first pass passed the image part at test acc "
              "0.933 → 0.914), and the controls were added; the setups are unchanged.")


def plot(tasks: dict, n_seeds: int):
    fig, axes = figure(len(tasks), width=5.6, height=4.2)
    titles = {"image": "(a) digits, 200 training images, CNN", "text": "(b) WordNet definitions, GRU"}
    colors = {"none": "tab:gray", "augmented": "tab:green", "identity (control)": "tab:blue",
              "destructive (control)": "tab:red"}
    for ax, (task, (runs, _)) in zip(axes, tasks.items()):
        for arm, rs in runs.items():
            x = range(1, len(rs[0].epochs) + 1)
            band(ax, x, [r.series("train_acc") for r in rs], f"{arm}: train (as trained)", colors[arm], "--")
            band(ax, x, [r.series("val_acc") for r in rs], f"{arm}: validation", colors[arm])
        ax.set(xlabel="epoch", ylabel="accuracy (fraction correct)", title=f"{titles[task]}\n{spread_note(n_seeds)}")
    finish(fig, *axes)
    for ax in axes:  # below the axes: the curves fill the panel
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    fig.tight_layout()
    return fig
