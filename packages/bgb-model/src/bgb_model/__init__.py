"""bgb_model."""

__all__: list[str] = []
