"""ECE and the reliability bins against numbers computed by hand."""
import math

import pytest
import torch

from nnopt.metrics import expected_calibration_error, reliability


def test_ece_by_hand():
    # confidences 0.9 (right), 0.8 (wrong), 0.6 (right), 0.55 (wrong), 0.3 (right: 3 classes)
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.4, 0.6, 0.0], [0.45, 0.55, 0.0],
                          [0.3, 0.35, 0.35]], dtype=torch.float64)
    probs[4] = torch.tensor([0.3, 0.4, 0.3], dtype=torch.float64)  # conf 0.4 → class 1
    labels = torch.tensor([0, 1, 1, 0, 1])
    r = reliability(probs, labels, bins=5)  # bins (0, .2], (.2, .4], (.4, .6], (.6, .8], (.8, 1]
    assert r.count == [0, 1, 2, 1, 1]
    # bin (.2,.4]: conf .4 acc 1 → |1 − .4| = .6 ; bin (.4,.6]: conf (.6+.55)/2 = .575, acc .5 → .075
    # bin (.6,.8]: conf .8 acc 0 → .8 ; bin (.8,1]: conf .9 acc 1 → .1
    expected = (1 * 0.6 + 2 * 0.075 + 1 * 0.8 + 1 * 0.1) / 5
    assert r.ece == pytest.approx(expected, abs=1e-12)
    assert expected_calibration_error(probs, labels, bins=5) == pytest.approx(expected, abs=1e-12)
    assert r.accuracy[2] == 0.5 and r.confidence[2] == pytest.approx(0.575)
    assert math.isnan(r.accuracy[0]) and r.mean_confidence == pytest.approx((0.9 + 0.8 + 0.6 + 0.55 + 0.4) / 5)
    assert r.accuracy_all == pytest.approx(3 / 5)


def test_boundary_confidence_goes_to_the_lower_bin():
    # 0.6 is the upper edge of (0.4, 0.6]
    r = reliability(torch.tensor([[0.6, 0.4]]), torch.tensor([0]), bins=5)
    assert r.count == [0, 0, 1, 0, 0]


def test_calibrated_predictions_have_zero_ece_and_one_bin_is_accuracy_gap():
    # every sample conf .75, 3 of 4 right: calibrated
    probs = torch.tensor([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, torch.tensor([0, 0, 0, 1])) == pytest.approx(0.0, abs=1e-12)
    # one bin: ECE = |accuracy − mean confidence|
    assert expected_calibration_error(probs, torch.tensor([0, 1, 1, 1]), bins=1) == pytest.approx(0.5)


def test_bad_shapes():
    with pytest.raises(ValueError, match="probs must be"):
        reliability(torch.ones(3), torch.zeros(3, dtype=torch.long))
