"""``python -m bgb_modal.train_entry ARGS`` is ``bgb-train ARGS``: the target torchrun starts.

The image mounts the workspace as source without installing console scripts, so torchrun
runs this module, one process per GPU.
"""

from __future__ import annotations

from bgb_cli.main import train_alias

__all__: list[str] = []

if __name__ == "__main__":
    train_alias()
