"""bgpdoctor: find why BGP-routed pod networks do not work, and say how to fix it."""

__version__ = "0.1.0"
