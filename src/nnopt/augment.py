"""Augmentation of training batches: a factory returns ``augment(x, generator) -> x`` or None."""
from .registry import AUGMENTATIONS


@AUGMENTATIONS.register("none")
def no_augmentation():
    """Train on the batches as they are"""
    return None
