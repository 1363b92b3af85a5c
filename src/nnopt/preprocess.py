"""Input preprocessing fitted on the training split, applied to every split.

A registered preprocessor factory returns an object with ``fit(x)``, ``transform(x)``,
``state_dict()`` and ``load_state_dict(d)`` — or None for no preprocessing.
"""
from .registry import PREPROCESSORS


@PREPROCESSORS.register("none")
def no_preprocessing():
    """Use the inputs as the data set gives them"""
    return None
