"""bgb_post."""

__all__: list[str] = []
