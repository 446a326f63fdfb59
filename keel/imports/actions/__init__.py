"""Writes of the import: each target's writer, and the run that drives them."""

from keel.imports.actions.run import (
    FileSummary,
    ImportFailed,
    Summary,
    run_import,
    set_levels_for,
)

__all__ = ["FileSummary", "ImportFailed", "Summary", "run_import", "set_levels_for"]
