"""Process-wide settings of a run: threads, seeds, deterministic algorithms, no network, quiet
libraries."""

import os
import random


def prepare_environment() -> None:
    """Offline and quiet, before transformers is imported: nothing downloads, ever."""
    for name, value in [("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"),
                        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("HF_HUB_DISABLE_TELEMETRY", "1"),
                        ("TOKENIZERS_PARALLELISM", "false"), ("CUBLAS_WORKSPACE_CONFIG", ":4096:8")]:
        os.environ.setdefault(name, value)


def seed_everything(seed: int, threads: int) -> None:
    """Seeds Python's, numpy's and torch's generators from the request's seed, fixes torch's thread
    count and turns on deterministic algorithms."""
    import numpy as np
    import torch
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(max(1, threads))
    torch.use_deterministic_algorithms(True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed % (1 << 64))


def example_seed(seed: int, index: int) -> int:
    """A seed of its own for example `index` (SplitMix64 of both), for attacks' random starts."""
    from .rng import SeededRandom
    return SeededRandom(seed ^ (index * 0x9E3779B97F4A7C15 & (1 << 64) - 1)).next() >> 1
