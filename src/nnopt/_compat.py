"""tomllib is in the standard library from Python 3.11; tomli is the same parser for 3.10."""
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["tomllib"]
