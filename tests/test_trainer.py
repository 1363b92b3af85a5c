import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import nnopt
from nnopt import CheckpointError, ConfigError, DivergedError, Recipe
from nnopt.cli import main
from nnopt.train import Trainer, build, train
from nnopt.train import checkpoint
from nnopt.train.checkpoint import path_in
from nnopt.train.rundir import RunDir

from cli_subprocess import wait_for_checkpoint


def read_metrics(run_dir, drop_time=True):
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    if drop_time:
        for line in lines:
            line.pop("time", None)
    return lines


@pytest.mark.slow
def test_default_recipe_reaches_95_percent(tmp_path):
    summary = train(Recipe({"train": {"threads": 1}}), tmp_path, quiet=True)  # 2 threads: slower on a shared machine
    assert summary["status"] == "completed"
    assert summary["test_acc"] >= 0.95


def test_run_directory_contents(tmp_path, small_recipe):
    small_recipe = small_recipe.override(["train.log_every=1"])
    s = train(small_recipe, tmp_path, quiet=True)
    assert Recipe.load(tmp_path / "recipe.toml") == small_recipe
    metrics = read_metrics(tmp_path, drop_time=False)
    steps = [m for m in metrics if m["kind"] == "step"]
    epochs = [m for m in metrics if m["kind"] == "epoch"]
    n_train = len(build(small_recipe).data.train)
    per_epoch = -(-n_train // 64)
    assert len(epochs) == 3 and len(steps) == 3 * per_epoch == s["steps"]
    assert [m["step"] for m in steps] == list(range(1, s["steps"] + 1))
    assert all(m["grad_norm"] > 0 and m["lr"] == pytest.approx(1e-3) for m in steps)
    assert epochs[-1]["val_acc"] == s["final_val_acc"] and s["best_val_acc"] == max(e["val_acc"] for e in epochs)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "completed" and 0 <= summary["test_acc"] <= 1
    assert path_in(tmp_path).exists() and (tmp_path / "model.pt").exists()


def test_logged_grad_norm_is_the_global_norm(tmp_path, small_recipe):
    """Oracle: torch's clip_grad_norm_ with an infinite bound returns the same global norm."""
    trainer = Trainer(build(small_recipe), tmp_path, quiet=True)
    x, y = trainer.setup.data.train.x[:64], trainer.setup.data.train.y[:64]
    norm = torch.linalg.vector_norm(torch.stack(trainer.train_step(x, y, lr=1e-3)["tensor_norms"]))
    grads_norm = torch.nn.utils.clip_grad_norm_(trainer.setup.model.parameters(), float("inf"))
    assert float(norm) == pytest.approx(float(grads_norm), rel=1e-6)


def test_step_norms_of_queued_steps_equal_the_norms_of_their_concatenated_gradients():
    """Oracle: the 2-norm of all of a step's gradients concatenated; steps with the same tensors and
    steps with different ones (a parameter without a gradient) give the same numbers."""
    from nnopt.train.reads import step_norms
    gen = torch.Generator().manual_seed(0)
    steps = [[torch.randn(5, 3, generator=gen), torch.randn(4, generator=gen)] for _ in range(3)]
    expected = [float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in gs]))) for gs in steps]
    norms = lambda gs: [torch.linalg.vector_norm(g) for g in gs]  # noqa: E731
    assert step_norms([norms(gs) for gs in steps], torch.device("cpu")).tolist() == pytest.approx(expected, rel=1e-6)
    ragged = [norms(steps[0]), norms(steps[1][:1]), []]
    want = [expected[0], float(torch.linalg.vector_norm(steps[1][0])), 0.0]
    assert step_norms(ragged, torch.device("cpu")).tolist() == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("log_every", [1, 3])
def test_epoch_train_loss_and_accuracy_equal_an_evaluation_when_nothing_moves(tmp_path, small_recipe, log_every):
    """Oracle: with lr = 0 the model never changes, so the epoch's train loss and accuracy summed from
    the queued steps equal one evaluation of the training split (whatever the read interval)."""
    recipe = small_recipe.override({"optimizer.name": "sgd", "optimizer.lr": 0.0, "train.epochs": 2,
                                    "train.log_every": log_every, "train.checkpoint": False})
    setup = build(recipe)
    ev = nnopt.train.trainer.evaluate(setup.model, setup.data.train, 4096, setup.task, setup.eval_loss, "train")
    loss, acc = ev["train_loss"], ev["train_acc"]
    train(recipe, tmp_path, quiet=True)
    epochs = [m for m in read_metrics(tmp_path) if m["kind"] == "epoch"]
    assert [e["train_loss"] for e in epochs] == pytest.approx([loss] * 2, rel=1e-6)
    assert [e["train_acc"] for e in epochs] == pytest.approx([acc] * 2, abs=1e-12)


def test_same_seed_same_numbers_different_seed_different(tmp_path, small_recipe):
    train(small_recipe, tmp_path / "a", quiet=True)
    train(small_recipe, tmp_path / "b", quiet=True)
    train(small_recipe.override(["train.seed=1"]), tmp_path / "c", quiet=True)
    assert read_metrics(tmp_path / "a") == read_metrics(tmp_path / "b")
    assert read_metrics(tmp_path / "a") != read_metrics(tmp_path / "c")


def test_divergence_stops_with_step_checkpoint_and_advice(tmp_path, small_recipe):
    recipe = small_recipe.override(["optimizer.name=sgd", "optimizer.lr=10", "model.activation=identity"])
    with pytest.raises(DivergedError) as err:
        train(recipe, tmp_path, quiet=True)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["diverged_at_step"] >= 1
    assert f"step {summary['diverged_at_step']}" in str(err.value)
    assert "optimizer.lr" in str(err.value) and "clip" in str(err.value)


@pytest.mark.slow
def test_cli_divergence_exit_code(tmp_path, capsys):
    code = main(["run", "--quiet", "--out", str(tmp_path / "r"), "--set", "optimizer.name=sgd",
                 "--set", "optimizer.lr=10", "--set", "model.activation=identity"])
    assert code == 3 and "diverged" in capsys.readouterr().err


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, small_recipe, capsys):
    summary = train(small_recipe, tmp_path, quiet=True)
    RunDir(tmp_path).write_summary({**summary, "status": "interrupted"})  # unfinished: --resume reads the checkpoint
    path_in(tmp_path).write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        Trainer(build(small_recipe), tmp_path, quiet=True).fit(resume=True)
    code, err = main(["run", "--resume", str(tmp_path)]), capsys.readouterr().err
    assert code == 2 and "corrupt" in err and "Traceback" not in err


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        Trainer(build(Recipe()), tmp_path, quiet=True).fit(resume=True)


def test_bad_input_leaves_no_run_directory(tmp_path, capsys):
    """The command's exit code and message (main(), in this process: an exception escaping it would
    fail the test, so no traceback reaches the user either)."""
    out = tmp_path / "run"
    code, err = main(["run", "--out", str(out), "--set", "optimizer.betas=[0.9, 1.2]"]), capsys.readouterr().err
    assert code == 2
    assert "optimizer.betas[1] = 1.2 — must be in [0, 1)" in err and "Traceback" not in err
    assert not out.exists()
    code = main(["run", "--out", str(out), "--set", "model.name=rnn", "--set", "data.layout=flat"])
    assert code == 2 and "rnn needs sequence inputs" in capsys.readouterr().err and not out.exists()


# ~315 steps of ~1 ms per epoch: a signal sent 0.1 s after epoch 1's checkpoint lands mid-epoch 2.
RESUME_RECIPE = ["--set", "train.epochs=3", "--set", "train.batch_size=4", "--set", "train.threads=1",
                 "--set", "regularization.dropout=0.2", "--set", "model.widths=[512, 512]"]


def start_run(out, *extra, resume=False):
    """`nnopt run` of RESUME_RECIPE into `out` (or its --resume) as a separate process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = ["--resume", str(out)] if resume else ["--out", str(out), *RESUME_RECIPE, *extra]
    return subprocess.Popen([sys.executable, "-m", "nnopt.cli", "run", "--quiet", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of RESUME_RECIPE, which every resumed run must equal (in this process)."""
    out = tmp_path_factory.mktemp("ref") / "run"
    assert main(["run", "--quiet", "--out", str(out), *RESUME_RECIPE]) == 0
    return out


def assert_identical_runs(a, b):
    sa, sb = torch.load(a / "model.pt"), torch.load(b / "model.pt")
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert read_metrics(a) == read_metrics(b)
    ja, jb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for key in ("status", "steps", "final_val_acc", "best_val_acc", "test_acc", "test_loss"):
        assert ja[key] == jb[key]


def stop_in_next_epoch(out, sig, resume=False) -> tuple[int, str]:
    """Send `sig` to a run (or to the resume of a stopped one) early in the epoch after its next
    checkpoint; it must save a mid-epoch checkpoint and say so in summary.json. Returns (exit
    code, stderr)."""
    done = checkpoint.read(path_in(out))["epoch"] if resume else 0
    stopped = start_run(out, resume=resume)
    wait_for_checkpoint(out, stopped, done + 1)
    time.sleep(0.1)
    stopped.send_signal(sig)
    _, err = stopped.communicate(timeout=60)
    assert checkpoint.read(path_in(out))["position"] > 0, err  # saved mid-epoch, not at an epoch end
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"
    assert f"nnopt run --resume {out}" in err
    return stopped.returncode, err


@pytest.mark.slow
def test_sigkill_then_ctrl_c_each_resumed_ends_bit_identical(tmp_path, reference):
    """A run killed (SIGKILL) in epoch 2 and resumed, that resumed run stopped by Ctrl-C in epoch
    3 (mid-epoch checkpoint) and resumed: the end equals the uninterrupted reference bit for
    bit, so both resumes continued exactly (one run for the two stops instead of one each)."""
    out = tmp_path / "run"
    killed = start_run(out)
    wait_for_checkpoint(out, killed)
    time.sleep(0.1)  # into the next epoch
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    partial = read_metrics(out)
    assert sum(m["kind"] == "epoch" for m in partial) < 3, "the run ended before it was killed"
    code, err = stop_in_next_epoch(out, signal.SIGINT, resume=True)
    assert code == 130 and "interrupted (Ctrl-C) at step" in err
    assert main(["run", "--quiet", "--resume", str(out)]) == 0  # the last resume: in this process
    assert_identical_runs(reference, out)


@pytest.mark.slow
def test_sigterm_stops_like_ctrl_c_and_exits_143(tmp_path):
    """A scheduler's stop (SLURM, Kubernetes: SIGTERM, then SIGKILL after a grace period) gets the
    same mid-epoch checkpoint as Ctrl-C; the exit code is 128 + 15, as a shell reports SIGTERM."""
    code, err = stop_in_next_epoch(tmp_path / "stopped", signal.SIGTERM)
    assert code == 143 and "interrupted (SIGTERM) at step" in err


def test_early_stopping_stops_and_records_epochs(tmp_path, small_recipe):
    recipe = small_recipe.override({"train.epochs": 30, "regularization.early_stopping.patience": 2,
                                    "regularization.early_stopping.monitor": "train_loss",
                                    "regularization.early_stopping.min_delta": 10.0})
    s = train(recipe, tmp_path, quiet=True)
    # train_loss never improves by 10: the best is epoch 1 and the run stops two epochs later
    assert s["status"] == "early_stopped" and s["stopped_epoch"] == 3 and s["early_stopping_best_epoch"] == 1


def test_cuda_device_without_gpu_is_a_config_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="no CUDA device"):
        build(Recipe({"train": {"device": "cuda"}}))


def test_batch_size_growth_changes_steps_per_epoch(tmp_path, small_recipe):
    recipe = small_recipe.override({"train.batch_growth": 2.0, "train.batch_milestones": [1, 2]})
    s = train(recipe, tmp_path, quiet=True)
    n = len(build(recipe).data.train)
    epochs = [m for m in read_metrics(tmp_path) if m["kind"] == "epoch"]
    assert [e["batch_size"] for e in epochs] == [64, 128, 256]
    assert s["steps"] == sum(-(-n // b) for b in (64, 128, 256)) and s["samples"] == 3 * n


def test_schedule_drives_lr_and_momentum_every_step(tmp_path, small_recipe):
    recipe = small_recipe.override({"optimizer.name": "momentum", "optimizer.lr": 0.05,
                                    "schedule.name": "one_cycle", "schedule.cycle_momentum": True})
    trainer = Trainer(build(recipe), tmp_path, quiet=True)
    trainer.fit()
    steps = [m for m in read_metrics(tmp_path) if m["kind"] == "step"]
    lrs = [m["lr"] for m in steps]
    peak = lrs.index(max(lrs))
    assert 0 < peak < len(lrs) - 1 and lrs[-1] < lrs[0] < lrs[peak]
    # after the last step the driven momentum sits at the value the schedule gives for that step
    momentum = trainer.setup.schedule.drives["momentum"](trainer.step - 1)
    assert trainer.setup.optimizer.param_groups[0]["momentum"] == pytest.approx(momentum)


def test_batch_norm_with_a_batch_of_one_is_refused():
    with pytest.raises(ConfigError, match="train.batch_size = 1 — model.norm = .batch. needs at least 2 samples"):
        build(Recipe({"model": {"norm": "batch"}, "train": {"batch_size": 1}}))


@pytest.mark.parametrize("norm", ["batch", "sync_batch"])
def test_batch_norm_with_a_last_batch_of_one_is_refused(norm):
    """60 training samples in batches of 59 leave a last batch of 1 (sync_batch in one process is batch norm)."""
    recipe = {"data": {"name": "moons", "n_samples": 100}, "model": {"norm": norm}, "train": {"batch_size": 59}}
    with pytest.raises(ConfigError, match=f"model.norm = '{norm}' needs at least 2 samples .* leave a batch of 1"):
        build(Recipe(recipe))
    build(Recipe({**recipe, "model": {"norm": "layer"}}))


def test_augmentation_that_cannot_take_the_inputs_fails_at_build():
    with pytest.raises(ConfigError, match="augment.name = 'image' cannot take"):
        build(Recipe({"augment": {"name": "image", "hflip": 0.5}, "data": {"layout": "flat"}}))


@pytest.mark.skipif(not os.path.isdir("/usr/share/wordnet"), reason="wordnet-base not installed")
def test_text_model_takes_its_vocabulary_size_from_the_data():
    recipe = Recipe({"data": {"name": "wordnet_topics", "per_class": 40}, "model": {"name": "text_rnn"}})
    setup = build(recipe)
    assert setup.model.embedding.num_embeddings == len(setup.data.vocabulary)
    with pytest.raises(ConfigError, match="model.vocab_size = 5 — must be at least"):
        build(recipe.override({"model.vocab_size": 5}))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_clips_unscaled_gradients(tmp_path, small_recipe, precision):
    """Oracle: the fp32 run. The first step's logged (pre-clip) gradient norm is the true one, not
    the GradScaler's ×65536, and the run learns about as well."""
    base = small_recipe.override({"clip.name": "global_norm", "clip.max_norm": 1.0})
    ref = train(base, tmp_path / "fp32", quiet=True)
    amp = train(base.override({"train.precision": precision}), tmp_path / precision, quiet=True)
    first = [next(m for m in read_metrics(tmp_path / d) if m["kind"] == "step") for d in ("fp32", precision)]
    assert first[1]["grad_norm"] == pytest.approx(first[0]["grad_norm"], rel=0.05)
    assert amp["final_val_acc"] > ref["final_val_acc"] - 0.05
    if precision == "fp16":
        state = checkpoint.read(path_in(tmp_path / precision))
        assert state["scaler"]["scale"] > 1


def test_nonfinite_gradient_stops_the_run_naming_the_parameter(tmp_path, small_recipe):
    """A finite loss whose gradient is NaN: the Trainer's screen (train.nonfinite; the optimizer
    runs without its own) names the step and the parameter; with "skip" the step is skipped."""
    setup = build(small_recipe.override({"train.log_every": 1}))
    weight = setup.model[-1].weight
    weight.register_hook(lambda g: torch.full_like(g, float("nan")))
    with pytest.raises(DivergedError, match=r"gradient of '4.weight' is not finite \(its norm is nan\) at step 1 "):
        Trainer(setup, tmp_path / "raise", quiet=True).fit()
    # log_every = 10: step 1's gradients are not screened; its update makes the weight NaN, so the
    # loss of step 2 is the first non-finite value, and the message says where it may come from
    setup = build(small_recipe)
    setup.model[-1].weight.register_hook(lambda g: torch.full_like(g, float("nan")))
    with pytest.raises(DivergedError, match=r"loss became nan at step 2 \(epoch 1\); the gradients of step 1 "
                                            r"were not screened"):
        Trainer(setup, tmp_path / "raise10", quiet=True).fit()
    setup = build(small_recipe.override({"train.nonfinite": "skip"}))
    setup.model[-1].weight.register_hook(lambda g: torch.full_like(g, float("nan")))
    before = {k: v.clone() for k, v in setup.model.state_dict().items()}
    Trainer(setup, tmp_path / "skip", quiet=True).fit()
    after = setup.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # every step skipped


def test_train_step_equals_a_plain_torch_step(tmp_path, small_recipe):
    """Oracle: the same batches through a hand-written step on a copy of the model and a fresh
    optimizer give the same parameters as the Trainer's steps."""
    import copy

    setup = build(small_recipe)
    model = copy.deepcopy(setup.model)
    trainer = Trainer(setup, tmp_path, quiet=True)
    opt = nnopt.optim.create("adam", model.named_parameters(), lr=1e-3)
    x, y = setup.data.train.x[:64], setup.data.train.y[:64]
    for _ in range(3):
        trainer.train_step(x, y, lr=1e-3)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    ours, theirs = setup.model.state_dict(), model.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


@pytest.mark.parametrize("norm", ["batch", "layer", "group", "rms", "lrn", "weight"])
def test_every_norm_trains_under_bf16_autocast(tmp_path, norm):
    """Norm layers keep float32 statistics and running buffers when autocast feeds them bf16."""
    recipe = Recipe({"model": {"name": "cnn", "channels": [4], "hidden": 8, "norm": norm},
                     "train": {"precision": "bf16", "epochs": 1, "batch_size": 64, "threads": 1,
                               "log_every": 1}})
    s = train(recipe, tmp_path, quiet=True)
    losses = [m["loss"] for m in read_metrics(tmp_path) if m["kind"] == "step"]
    assert s["status"] == "completed" and sum(losses[-5:]) < sum(losses[:5])  # it learns
