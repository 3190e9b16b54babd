"""The bgb command line application."""

__all__: list[str] = []
