"""rcsbatch: run bulk RCS campaigns through seven's RCS API, safely and fast."""

__version__ = "0.1.0"
