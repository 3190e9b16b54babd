"""``python -m bgb_modal.train_entry CONFIG [--set=KEY=VALUE ...] [--resume]``: the target
torchrun starts, one process per GPU; each calls :func:`bgb.train`.

The image mounts the workspace as source without installing console scripts, so torchrun
runs this module. Errors the run reports itself end the process with code 1 and one line.
"""

from __future__ import annotations

import argparse
import logging
import sys

import bgb

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, train, and return the exit code."""
    parser = argparse.ArgumentParser(prog="bgb_modal.train_entry")
    parser.add_argument("config")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = bgb.load_config(args.config, args.overrides)
        bgb.train(config, resume=args.resume, changed_keys=_keys(args.overrides), echo=print)
    except (bgb.ConfigError, bgb.NonFiniteLossError, bgb.ResumeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _keys(overrides: list[str]) -> list[str]:
    return [bgb.config.parse_set(o)[0] for o in overrides]


if __name__ == "__main__":
    sys.exit(main())
