"""Moved to :mod:`amzc.fec` (FEC's semantics sit below the backends, which implement them
natively). This path re-exports it for one release."""

from amzc.fec import (  # noqa: F401 - re-exports of the old path
    FEC_SEED,
    HASH_MULTIPLIER,
    FecCache,
    fingerprints,
    restore_cache,
    task_keys,
)
