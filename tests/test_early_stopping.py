"""EarlyStopping against hand-traced Keras semantics (keras.callbacks.EarlyStopping, Keras 3)."""
import io
import math

import pytest
import torch

from nnopt.train.early_stopping import EarlyStopping


def run(values, monitor="val_loss", model=None, on_epoch=None, **kw):
    """Feed `values` (epochs 1, 2, ...) until it stops; return (stop epoch or None, the object)."""
    es = EarlyStopping(monitor=monitor, **kw)
    for epoch, value in enumerate(values, 1):
        if on_epoch is not None:
            on_epoch(epoch)
        if es.update(epoch, {monitor: value, "other": 0.0}, model):
            return epoch, es
    return None, es


def test_patience_counts_epochs_without_improvement():
    stop, es = run([5, 4, 4.5, 4.2, 3.9], patience=2)
    assert (stop, es.best_epoch, es.best, es.stopped_epoch) == (4, 2, 4, 4)
    stop, es = run([5, 4, 4.5, 3.9, 4.0, 3.95, 3.8], patience=3)
    assert stop is None and es.best_epoch == 7 and es.wait == 0


def test_patience_zero_stops_at_the_first_non_improving_epoch():
    assert run([3, 2, 2, 1], patience=0)[0] == 3


def test_equal_value_is_not_an_improvement():
    assert run([1.0, 1.0], patience=1)[0] == 2


def test_min_delta_min_mode():
    # (binary-exact values) 4.75 is not < 5 − 0.5; 4.25 is; 4.0 is not < 4.25 − 0.5; 3.5 is
    stop, es = run([5, 4.75, 4.25, 4.0, 3.5], patience=2, min_delta=0.5)
    assert stop is None and es.best_epoch == 5 and es.best == 3.5
    assert run([5, 4.75, 4.75], patience=2, min_delta=0.5)[0] == 3
    assert run([5, 4.5], patience=1, min_delta=0.5)[0] == 2  # a change of exactly min_delta does not count


def test_max_mode_and_auto_for_accuracy():
    stop, es = run([0.5, 0.6, 0.6, 0.55], monitor="val_acc", patience=2)
    assert es.mode == "max" and stop == 4 and es.best_epoch == 2
    stop, es = run([0.5, 0.6, 0.62], monitor="val_acc", patience=1, min_delta=0.05)
    assert stop == 3 and es.best == 0.6
    # explicit mode overrides the name
    stop, es = run([0.5, 0.4, 0.3], monitor="val_acc", mode="min", patience=1)
    assert stop is None and es.best == 0.3


def test_auto_mode_reads_the_name():
    assert EarlyStopping(monitor="train_loss").mode == "min"
    assert EarlyStopping(monitor="train_acc").mode == "max"
    with pytest.raises(ValueError, match="cannot tell whether monitor = 'lr'.*mode = \"min\" or \"max\""):
        EarlyStopping(monitor="lr")


def test_baseline_never_beaten_stops_after_patience_from_the_start():
    """Improvements over best that do not beat the baseline keep counting (Keras)."""
    stop, es = run([2.0, 1.8, 1.9], patience=2, baseline=1.0)
    assert stop == 3 and es.best_epoch == 2 and es.best == 1.8
    # improving epochs never stop the run, even past patience; the next non-improving one does
    stop, es = run([2.0, 1.8, 1.6, 1.4, 1.5], patience=2, baseline=1.0)
    assert stop == 5 and es.best_epoch == 4


def test_beating_the_baseline_resets_the_count():
    stop, es = run([2.0, 0.9, 1.0, 1.1], patience=2, baseline=1.0)
    assert stop == 4 and es.best_epoch == 2
    # max mode: improving epochs below the baseline count towards patience but never stop the run
    stop, es = run([0.5, 0.6, 0.55], monitor="val_acc", patience=1, baseline=0.7)
    assert stop == 3 and es.wait == 3


def test_start_from_epoch_skips_the_warmup_epochs():
    stop, es = run([0.1, 0.05, 5, 6, 7], patience=2, start_from_epoch=2)
    assert stop == 5 and es.best_epoch == 3 and es.best == 5
    stop, es = run([9, 9, 9, 9], patience=1, start_from_epoch=3)
    assert stop is None and es.best_epoch == 4


def test_nan_never_improves():
    stop, es = run([1.0, math.nan, math.nan], patience=2)
    assert stop == 3 and es.best == 1.0
    stop, es = run([math.nan, 2.0], patience=3)
    assert es.best_epoch == 2


def test_disabled_without_patience():
    stop, es = run([1, 2, 3, 4, 5, 6])
    assert stop is None and not es.enabled and es.best_epoch is None


class Counter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(2))


def _set_weights(model):
    def on_epoch(epoch):
        with torch.no_grad():
            model.w.fill_(epoch)
    return on_epoch


def test_restore_best_weights_keeps_a_copy_of_the_best_epoch():
    model = Counter()
    stop, es = run([3, 1, 2, 2.5], patience=2, restore_best_weights=True, model=model,
                   on_epoch=_set_weights(model))
    assert stop == 4 and es.best_epoch == 2
    assert model.w.tolist() == [4, 4]
    assert es.best_weights["w"].tolist() == [2, 2]  # a copy, not the live tensor


def test_restore_best_weights_when_the_baseline_is_never_beaten():
    """Keras: an epoch is restored regardless of the baseline — the best one seen."""
    model = Counter()
    stop, es = run([5, 4, 6, 7], patience=3, baseline=1.0, restore_best_weights=True, model=model,
                   on_epoch=_set_weights(model))
    assert stop == 3 and es.best_weights["w"].tolist() == [2, 2]


def test_restore_snapshots_the_first_tracked_epoch_even_if_it_is_nan():
    model = Counter()
    _, es = run([math.nan, math.nan], patience=5, restore_best_weights=True, model=model,
                on_epoch=_set_weights(model), start_from_epoch=0)
    assert es.best_weights["w"].tolist() == [1, 1] and es.best_epoch == 1


def test_no_weights_kept_unless_asked():
    _, es = run([3, 2, 1], patience=1, model=Counter())
    assert es.best_weights is None


@pytest.mark.parametrize("cut", [1, 2, 3, 4])
def test_state_dict_round_trip_stops_at_the_same_epoch(cut):
    values = [5, 4, 4.5, 3.0, 3.5, 3.2, 3.1, 3.4]
    kw = dict(patience=3, min_delta=0.05, baseline=4.5, restore_best_weights=True)
    model = Counter()
    full_stop, full = run(values, model=model, on_epoch=_set_weights(model), **kw)
    first = EarlyStopping(**kw)
    for epoch in range(1, cut + 1):
        _set_weights(model)(epoch)
        assert not first.update(epoch, {"val_loss": values[epoch - 1]}, model)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = EarlyStopping(**kw)
    resumed.load_state_dict(torch.load(buffer))
    stop = None
    for epoch in range(cut + 1, len(values) + 1):
        _set_weights(model)(epoch)
        if resumed.update(epoch, {"val_loss": values[epoch - 1]}, model):
            stop = epoch
            break
    assert stop == full_stop == 7
    assert resumed.state_dict().keys() == full.state_dict().keys()
    for key in ("best", "best_epoch", "stopped_epoch", "wait"):
        assert resumed.state_dict()[key] == full.state_dict()[key], key
    assert resumed.best_weights["w"].tolist() == full.best_weights["w"].tolist() == [4, 4]


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match="mode = 'up'"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="min_delta = -0.1 — must be >= 0"):
        EarlyStopping(min_delta=-0.1)
    with pytest.raises(ValueError, match="patience = -1"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="start_from_epoch = -2"):
        EarlyStopping(start_from_epoch=-2)
    es = EarlyStopping(patience=1, monitor="val_los", mode="min")
    with pytest.raises(ValueError, match="monitor = 'val_los' is not among .*val_loss"):
        es.update(1, {"val_loss": 1.0, "val_acc": 0.5}, None)
