"""The run's corpus (TUSZ, or a synthetic one generated on first use) and its cache."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from bgb.config import ConfigError, RunConfig
from bgb_data import build_cache, generate_corpus

__all__ = ["TUSZ_HINT", "ensure_cache"]

log = logging.getLogger(__name__)

TUSZ_HINT = (
    "TUSZ v2.0.x is available after registration from the Neural Engineering Data Consortium "
    "(https://isip.piconepress.com/projects/nedc/html/tuh_eeg/); point data.root at the folder "
    "holding edf/ (--set data.root=/path/to/tusz), or run configs/demo.yaml, which needs nothing"
)


def ensure_cache(config: RunConfig, progress: bool = True) -> Path:
    """Make sure the corpus exists and is cached; return the cache folder.

    With ``data.synthetic`` set and no ``root/edf`` yet, the synthetic corpus is generated
    first. The cache build reuses every recording already cached with the same recipe.

    Raises:
        ConfigError: no corpus at ``data.root`` (one line saying where it looked and how to
            get TUSZ).
    """

    data = config.data
    root = data.root
    if root is not None and data.synthetic is not None and not (root / "edf").is_dir():
        log.info("generating a %.1f h synthetic corpus into %s", data.synthetic.hours, root)
        generate_corpus(
            root,
            hours=data.synthetic.hours,
            seed=data.synthetic.seed,
            profile=data.synthetic.profile,
        )
    if root is None or not (root / "edf").is_dir():
        where = "data.root is not set" if root is None else f"no {root / 'edf'} folder"
        raise ConfigError(f"TUSZ corpus not found ({where}). {TUSZ_HINT}.")
    from tqdm.auto import tqdm

    with tqdm(desc="cache", unit="rec", disable=not (progress and sys.stderr.isatty())) as bar:

        def advance(done: int, total: int, entry: object) -> None:
            bar.total = total
            bar.update(done - bar.n)

        summary = build_cache(
            root,
            data.cache_dir,
            workers=data.workers,
            limit_files=data.limit_files,
            force=data.force_rebuild,
            progress=advance,
        )
    log.info("cache %s: %s", data.cache_dir, summary)
    return data.cache_dir
