"""Data sets: in-memory tensors split into train/val/test, registered by name."""
from .dataset import Dataset, Split, from_arrays, load
from . import digits, fashion_mnist, toy2d, wordnet_topics  # noqa: F401  (registrations; toy2d: moons, circles, xor, spirals)
from . import arrays, images, tables  # noqa: F401  (your files: npz, image_folder, csv; diabetes, breast_cancer, wine)

__all__ = ["Dataset", "Split", "from_arrays", "load"]
