"""bgb_data: EDF reading, preprocessing, labels, a memory-mapped window cache, synthetic data.

One recording: :func:`prepare_recording` (EDF -> (19, n) ``.npy`` at 256 Hz) and
:func:`label_mask`. A corpus: :func:`build_cache` over a TUSZ tree, then
:class:`Manifest`, :class:`WindowDataset` and :class:`BalancedSampler` for training.
:func:`generate_corpus` writes a synthetic TUSZ-layout corpus.
"""

from bgb_data._cache import BuildSummary, ProgressCallback, build_cache, open_labels, open_signal
from bgb_data._channels import ELECTRODES, NEIGHBOURS, canonical_electrode, match_electrodes
from bgb_data._dataset import DEFAULT_MAX_OPEN_RECORDINGS, BalancedSampler, WindowDataset
from bgb_data._edf import read_edf_header, write_edf
from bgb_data._errors import SKIP_REASONS, RecordingError
from bgb_data._fanout import (
    CachePlan,
    build_recording,
    failed_recording,
    plan_cache_build,
    write_manifest,
)
from bgb_data._labels import find_annotation, label_mask
from bgb_data._manifest import Manifest, RecordingEntry
from bgb_data._prepare import PreparedInfo, prepare_recording
from bgb_data._recipe import RECIPE_VERSION, SFREQ_HZ, Recipe
from bgb_data._rowfile import RowFile, open_npy_rows
from bgb_data._synth_corpus import SEIZURE_TABLE, SynthSummary, generate_corpus
from bgb_data._windows import STRIDE_N, WINDOW_N, window_seizure_fractions, window_starts

__all__ = [
    "DEFAULT_MAX_OPEN_RECORDINGS",
    "ELECTRODES",
    "NEIGHBOURS",
    "RECIPE_VERSION",
    "SEIZURE_TABLE",
    "SFREQ_HZ",
    "SKIP_REASONS",
    "STRIDE_N",
    "WINDOW_N",
    "BalancedSampler",
    "BuildSummary",
    "CachePlan",
    "Manifest",
    "PreparedInfo",
    "ProgressCallback",
    "Recipe",
    "RecordingEntry",
    "RecordingError",
    "RowFile",
    "SynthSummary",
    "WindowDataset",
    "build_cache",
    "build_recording",
    "canonical_electrode",
    "failed_recording",
    "find_annotation",
    "generate_corpus",
    "label_mask",
    "match_electrodes",
    "open_labels",
    "open_npy_rows",
    "open_signal",
    "plan_cache_build",
    "prepare_recording",
    "read_edf_header",
    "window_seizure_fractions",
    "window_starts",
    "write_edf",
    "write_manifest",
]
