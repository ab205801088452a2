"""Reusable widgets: the plotext plot and the Python editor."""
