"""Measurements of a trained classifier: calibration (ECE, reliability diagram)."""
from .calibration import Reliability, expected_calibration_error, reliability

__all__ = ["Reliability", "expected_calibration_error", "reliability"]
