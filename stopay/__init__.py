"""stopay: instant payment freeze ("秒止付") for police anti-fraud centers."""

__version__ = "0.1.0"
