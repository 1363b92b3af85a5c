"""Optimizers beyond the chapter, each a short composition of transforms registered by name:
nadam, radam, adamax (adam_variants), adafactor, lion, lars and lamb (trust_ratio), sam and asam,
schedule_free_sgd and schedule_free_adamw, muon. See docs/optimizers_beyond.md."""
from . import adam_variants  # noqa: F401  (registrations)
from . import adafactor  # noqa: F401
from . import lion  # noqa: F401
from . import trust_ratio  # noqa: F401
from . import muon  # noqa: F401
from . import schedule_free  # noqa: F401
from . import sam  # noqa: F401  (last: its bases are the optimizers registered before it)
