"""Augmentation. Batches: a factory returns ``augment(x, generator) -> x`` (or None) that the
Trainer applies to each training batch. Text: offline edits of documents (`nnopt.augment.text`)."""
from ..params import Param
from ..registry import AUGMENTATIONS
from . import image, text  # noqa: F401
from .image import GaussianNoise, pipeline

_PROB = {"ge": 0.0, "le": 1.0}


@AUGMENTATIONS.register("none")
def no_augmentation():
    """Train on the batches as they are"""
    return None


@AUGMENTATIONS.register("image", params={
    "rotation": Param(float, 0.0, ge=0, le=180, doc="max degrees; angle ~ U(-rotation, rotation)"),
    "rotation_p": Param(float, 1.0, **_PROB, doc="probability a sample is rotated"),
    "hflip": Param(float, 0.0, **_PROB, doc="probability of a left-right flip"),
    "vflip": Param(float, 0.0, **_PROB, doc="probability of an up-down flip"),
    "scale": Param(tuple, (1.0, 1.0), length=2, item=Param(float, gt=0),
                   doc="zoom factor ~ U(low, high)"),
    "scale_p": Param(float, 1.0, **_PROB, doc="probability a sample is scaled"),
    "translate": Param(float, 0.0, ge=0, le=1, doc="max shift as a fraction of width/height"),
    "translate_p": Param(float, 1.0, **_PROB, doc="probability a sample is shifted"),
    "noise": Param(float, 0.0, ge=0, doc="σ of additive Gaussian noise"),
    "noise_p": Param(float, 1.0, **_PROB, doc="probability a sample gets noise"),
    "p": Param(float, 1.0, **_PROB, doc="probability a sample is augmented at all"),
    "mode": Param(str, "bilinear", choices=image.MODES, doc="resampling interpolation"),
    "padding": Param(str, "zeros", choices=image.PADDINGS, doc="fill for pixels from outside"),
})
def image_augmentation(**params):
    """Per-sample flips, rotation, scaling, translation and Gaussian noise of image batches"""
    return pipeline(**params)


@AUGMENTATIONS.register("noise", params={
    "sigma": Param(float, 0.05, gt=0, doc="σ of x + σ·N(0, 1)"),
    "p": Param(float, 1.0, **_PROB, doc="probability a sample gets noise"),
})
def noise_augmentation(sigma=0.05, p=1.0):
    """Additive Gaussian noise x + σ·ε on inputs of any shape (flat, sequence or image)"""
    return GaussianNoise(sigma, p)


__all__ = ["image", "text"]
