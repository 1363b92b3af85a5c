"""Trainer events (callbacks), requested stops, the device-read budget and optimizer hooks."""
import json

import pytest
import torch

from nnopt import Recipe
from nnopt.train import Callback, LambdaCallback, Trainer, build, checkpoint, train


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_fit_start(self, trainer):
        self.events.append(("fit_start", trainer.step))

    def on_step_end(self, trainer, step, metrics):
        self.events.append(("step", step, float(metrics["loss"]), float(metrics["grad_norm"])))

    def on_epoch_end(self, trainer, epoch, record):
        self.events.append(("epoch", epoch, record["val_acc"]))

    def on_fit_end(self, trainer, summary):
        self.events.append(("fit_end", summary["status"]))


def test_events_come_in_order_with_the_logged_numbers(tmp_path, small_recipe):
    """Oracle: metrics.jsonl, written by the Trainer's own path, holds the same numbers."""
    rec = Recorder()
    s = train(small_recipe.override(["train.log_every=1"]), tmp_path, quiet=True, callbacks=[rec])
    kinds = [e[0] for e in rec.events]
    assert kinds[0] == "fit_start" and kinds[-1] == "fit_end" and rec.events[-1][1] == "completed"
    steps = [e for e in rec.events if e[0] == "step"]
    epochs = [e for e in rec.events if e[0] == "epoch"]
    assert [e[1] for e in steps] == list(range(1, s["steps"] + 1)) and [e[1] for e in epochs] == [1, 2, 3]
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    logged = [(m["step"], m["loss"], m["grad_norm"]) for m in lines if m["kind"] == "step"]
    assert [(e[1], pytest.approx(e[2], rel=1e-6), pytest.approx(e[3], rel=1e-6)) for e in steps] == logged
    assert [e[2] for e in epochs] == [m["val_acc"] for m in lines if m["kind"] == "epoch"]
    # each epoch event comes after that epoch's last step
    assert kinds.index("epoch") == kinds.index("step") + s["steps"] // 3


def test_request_stop_mid_epoch_ends_the_fit_with_a_checkpoint(tmp_path, small_recipe):
    def stop_at_5(trainer, step, metrics):
        if step == 5:
            trainer.request_stop("enough")

    s = train(small_recipe, tmp_path, quiet=True, callbacks=[LambdaCallback(on_step_end=stop_at_5)])
    assert s["status"] == "stopped" and s["stop_reason"] == "enough" and s["steps"] == 5
    assert s["epochs"] == 0 and s["test_acc"] is not None
    state = checkpoint.read(tmp_path / "checkpoints" / "last.pt")
    assert state["step"] == 5 and state["position"] == 5
    # the stopped run resumes to the same end as an uninterrupted one
    Trainer(build(small_recipe), tmp_path, quiet=True).fit(resume=True)
    train(small_recipe, tmp_path / "ref", quiet=True)
    ours = torch.load(tmp_path / "model.pt")
    ref = torch.load(tmp_path / "ref" / "model.pt")
    assert all(torch.equal(ours[k], ref[k]) for k in ref)


def test_request_stop_at_epoch_end(tmp_path, small_recipe):
    cb = LambdaCallback(on_epoch_end=lambda tr, epoch, rec: tr.request_stop("one is enough"))
    s = train(small_recipe, tmp_path, quiet=True, callbacks=[cb])
    assert s["status"] == "stopped" and s["epochs"] == 1


def test_a_callback_exception_propagates(tmp_path, small_recipe):
    class Boom(Exception):
        pass

    def boom(trainer, epoch, record):
        raise Boom

    with pytest.raises(Boom):
        train(small_recipe, tmp_path, quiet=True, callbacks=[LambdaCallback(on_epoch_end=boom)])


def test_unknown_event_name_is_refused():
    with pytest.raises(TypeError, match="on_step_end"):
        LambdaCallback(on_step=lambda *a: None)


@pytest.mark.parametrize("batch_size, elements", [(64, None), (8, None), (8, 8 * 10 * 3)])
def test_device_reads_once_per_read_interval(tmp_path, small_recipe, monkeypatch, batch_size, elements):
    """Count the Trainer's device→host reads (Tensor.item / tolist / __bool__ / __float__) in a
    one-epoch fit: one batch read per READ_STEPS steps (or per READ_ELEMENTS queued logits) and
    one at the epoch end, whatever log_every is, plus the evaluations — not one per step. The
    optimizer is torch's own SGD, which reads nothing (nnopt's optimizers are tested in tests/optim)."""
    from nnopt.train import reads

    if elements:
        monkeypatch.setattr(reads, "READ_ELEMENTS", elements)  # 3 steps of 8 × 10 logits
    recipe = small_recipe.override({"train.log_every": 1, "train.epochs": 1, "train.batch_size": batch_size})
    setup = build(recipe)
    setup.optimizer = torch.optim.SGD(setup.model.parameters(), lr=0.01, foreach=True)
    trainer = Trainer(setup, tmp_path, quiet=True)
    counts = {"n": 0}
    for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
        original = getattr(torch.Tensor, name)

        def counting(self, *a, _original=original, **k):
            counts["n"] += 1
            return _original(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counting)
    trainer.fit()
    monkeypatch.undo()
    steps = trainer.step
    every = 3 if elements else reads.READ_STEPS
    evaluation = 2  # val + test: one read each (the loss and the metric sums together)
    assert counts["n"] == steps // every + (steps % every > 0) + evaluation, steps
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines if m["kind"] == "step"] == list(range(1, steps + 1))


def test_optimizer_hooks_closure_and_eval_mode(tmp_path, small_recipe):
    """An optimizer that asks for a closure gets one that recomputes the loss; train()/eval() are
    called around evaluation. Oracle: counts against the number of steps and evaluations."""
    calls = {"closure": 0, "eval": 0, "train": 0}

    def wrap(setup):
        opt = setup.optimizer
        step = opt.step

        def step_with_closure(closure=None):
            loss = closure()
            assert torch.isfinite(loss)
            calls["closure"] += 1
            return step()

        opt.needs_closure = True
        opt.step = step_with_closure
        opt.eval = lambda: calls.__setitem__("eval", calls["eval"] + 1)
        opt.train = lambda: calls.__setitem__("train", calls["train"] + 1)
        return setup

    trainer = Trainer(wrap(build(small_recipe)), tmp_path, quiet=True)
    s = trainer.fit()
    assert calls["closure"] == s["steps"]
    assert calls["eval"] == 3 + 1 + 1  # each validation, the test evaluation, model.pt
    assert calls["train"] >= calls["eval"]


def test_gradient_norms_are_taken_at_logged_steps_or_for_step_listeners(tmp_path, small_recipe, monkeypatch):
    """Count torch._foreach_norm calls (the per-tensor gradient norms): one per logged step when
    nobody listens to steps (epoch-only callbacks included), one per step for an on_step_end
    listener, whether a Callback subclass, a LambdaCallback or a plain object."""
    from nnopt.train.callbacks import listens

    class EpochOnly(Callback):
        def on_epoch_end(self, trainer, epoch, record):
            pass

    class Duck:
        def on_step_end(self, trainer, step, metrics):
            pass

    assert not listens(EpochOnly(), "on_step_end") and not listens(LambdaCallback(on_epoch_end=print), "on_step_end")
    assert listens(Recorder(), "on_step_end") and listens(Duck(), "on_step_end")
    assert listens(LambdaCallback(on_step_end=print), "on_step_end") and not listens(object(), "on_step_end")
    calls = {"n": 0}
    original = torch._foreach_norm

    def counting(*a, **k):
        calls["n"] += 1
        return original(*a, **k)

    monkeypatch.setattr(torch, "_foreach_norm", counting)
    recipe = small_recipe.override(["train.log_every=4", "train.epochs=1"])
    for name, callbacks, per_step in [("none", [], False), ("epoch", [EpochOnly()], False),
                                      ("lambda", [LambdaCallback(on_epoch_end=lambda *a: None)], False),
                                      ("duck", [Duck()], True)]:
        calls["n"] = 0
        s = train(recipe, tmp_path / name, quiet=True, callbacks=callbacks)
        assert calls["n"] == (s["steps"] if per_step else s["steps"] // 4), name
