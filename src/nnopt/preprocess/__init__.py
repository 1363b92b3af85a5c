"""Input preprocessing fitted on the training split, applied to every split.

A registered preprocessor factory returns an object with ``fit(x)``, ``transform(x)``,
``inverse_transform(z)``, ``state_dict()`` and ``load_state_dict(d)`` — or None ("none").
Registered: none, minmax, standardize, pca, zca.
"""
from ..registry import PREPROCESSORS
from .base import Preprocessor, chunks
from .moments import Moments
from .scaling import MinMaxScaler, Standardizer
from .whitening import PCAWhitening, ZCAWhitening


@PREPROCESSORS.register("none")
def no_preprocessing():
    """Use the inputs as the data set gives them"""
    return None


__all__ = ["Preprocessor", "Moments", "chunks", "MinMaxScaler", "Standardizer", "PCAWhitening",
           "ZCAWhitening"]
