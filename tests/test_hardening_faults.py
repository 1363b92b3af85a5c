"""Faults a run directory survives: a kill in epoch 1, a damaged checkpoint, a truncated or deleted
metrics.jsonl, a garbage summary.json, a checkpoint whose step does not fit its position."""
import json

import pytest

from nnopt.cli import main
from nnopt.train import Trainer, build, checkpoint


@pytest.fixture
def finished(tmp_path, small_recipe):
    """A 2-epoch run directory with its epoch-2 checkpoint, killed before it wrote its summary (a
    complete run's --resume says so and reads nothing else)."""
    run_dir = tmp_path / "run"
    Trainer(build(small_recipe.override(["train.epochs=2"])), run_dir, quiet=True).fit()
    (run_dir / "summary.json").unlink()
    return run_dir


def test_resume_of_a_complete_run_says_so_and_changes_nothing(finished, capsys):
    assert resume(finished, capsys)[0] == 0  # writes the summary: complete now
    before = {p: p.read_bytes() for p in finished.rglob("*") if p.is_file()}
    code = main(["run", "--resume", str(finished)])
    out, err = capsys.readouterr()
    assert code == 0 and "is already complete (status completed, 2 epochs): nothing to resume" in err
    assert out == "" and {p: p.read_bytes() for p in finished.rglob("*") if p.is_file()} == before


def resume(run_dir, capsys) -> tuple[int, str]:
    code = main(["run", "--resume", str(run_dir), "--quiet"])
    return code, capsys.readouterr().err


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_the_beginning(tmp_path, small_recipe, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    small_recipe.save(run_dir / "recipe.toml")  # what a run has written when killed in epoch 1
    (run_dir / "metrics.jsonl").write_text('{"kind": "step", "step": 1}\n')
    assert main(["run", "--out", str(run_dir)]) == 2
    assert "--resume" in capsys.readouterr().err
    code, err = resume(run_dir, capsys)
    assert code == 0 and "starting it again from the beginning" in err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 3
    assert checkpoint.exists(run_dir)


def test_flipped_bits_in_the_checkpoint_are_reported_as_corruption(finished, capsys):
    path = checkpoint.path_in(finished)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    before = (finished / "metrics.jsonl").read_bytes()
    code, err = resume(finished, capsys)
    assert code == 2 and "corrupt" in err and "checksum" in err
    assert (finished / "metrics.jsonl").read_bytes() == before


def test_the_checksum_round_trips_and_covers_the_header(finished):
    state = checkpoint.load(finished)
    path = checkpoint.path_in(finished)
    assert path.read_bytes().startswith(checkpoint.MAGIC)
    path.write_bytes(path.read_bytes().replace(checkpoint.MAGIC, b"nnopt-checkpoint sha256=0", 1))
    with pytest.raises(checkpoint.CheckpointError, match="corrupt"):
        checkpoint.load(finished)
    checkpoint.save(state, finished)
    assert checkpoint.load(finished)["step"] == state["step"]


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "truncated"),
    (lambda p: p.unlink(), "missing"),
    (lambda p: p.write_bytes(b"\0" * p.stat().st_size), "modified"),
])
def test_a_damaged_metrics_file_is_refused_and_left_as_it_is(finished, capsys, damage, message):
    metrics = finished / "metrics.jsonl"
    damage(metrics)
    before = metrics.read_bytes() if metrics.exists() else None
    code, err = resume(finished, capsys)
    assert code == 2 and message in err and "metrics.jsonl" in err
    assert (metrics.read_bytes() if metrics.exists() else None) == before


def test_metrics_written_after_the_checkpoint_are_cut_and_every_line_stays_json(finished, capsys):
    metrics = finished / "metrics.jsonl"
    whole = metrics.read_bytes()
    metrics.write_bytes(whole + b'{"kind": "step", "step": 99')  # a kill mid-line after the checkpoint
    code, _ = resume(finished, capsys)
    assert code == 0
    assert all(json.loads(line) for line in metrics.read_text().splitlines())
    assert metrics.read_bytes() == whole


@pytest.mark.parametrize("text", ["garbage{", "[1, 2]", '{"no_status": 1}'])
def test_a_garbage_summary_is_refused(finished, capsys, text):
    (finished / "summary.json").write_text(text)
    code, err = resume(finished, capsys)
    assert code == 2 and "summary.json" in err


@pytest.mark.parametrize("change", [{"step": 5}, {"position": 10**6}, {"epoch": 99}, {"step": -1},
                                    {"metrics_offset": "x"}])
def test_a_position_that_does_not_fit_the_run_is_refused(finished, capsys, change):
    state = checkpoint.load(finished)
    state.update(change)
    checkpoint.save(state, finished)
    code, err = resume(finished, capsys)
    key = next(iter(change))
    assert code == 2 and f"{key} = " in err


def test_check_position_accepts_every_real_position(small_recipe):
    setup = build(small_recipe.override(["train.batch_milestones=[1]", "train.batch_growth=2"]))
    n, batches = len(setup.data.train), setup.batches
    for epoch in range(3):
        for position in range(batches.steps(epoch, n) + 1):
            step = batches.steps_before(epoch, n) + position
            state = dict(step=step, epoch=epoch, position=position, samples=0, metrics_offset=0)
            checkpoint.check_position(state, batches, n, 3)
    checkpoint.check_position(dict(step=batches.steps_before(3, n), epoch=3, position=0, samples=0,
                                   metrics_offset=0), batches, n, 3)
