"""ClickPhone: a cloud phone system."""

__version__ = "0.1.0"
