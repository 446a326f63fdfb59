"""Keel: IT service management for the processes of ISO/IEC 20000-1:2018."""

__version__ = "0.1.0"
