"""Synth Workbench engine: load a table, learn it, generate, evaluate and export. UI-free."""

__version__ = "0.1.0"
