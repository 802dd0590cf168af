"""Parallel prefetch under fit_generator: workers, shared-memory slots, device feeding, faults.

See NOTE [ fitgen prefetch shutdown ] in prefetcher.py.
"""
from fitgen.data.pipeline.prefetcher import Prefetcher
from fitgen.data.pipeline.sources import IndexedSource
from fitgen.data.pipeline.sources import SequenceSource
from fitgen.data.pipeline.sources import StreamSource
from fitgen.data.pipeline.workers import WorkerInfo
from fitgen.data.pipeline.workers import get_worker_info

__all__ = ["Prefetcher", "IndexedSource", "SequenceSource", "StreamSource", "WorkerInfo", "get_worker_info"]
