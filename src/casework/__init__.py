"""Casework: self-hosted AWS Support and Amazon Connect Cases."""

__version__ = "0.1.0"
