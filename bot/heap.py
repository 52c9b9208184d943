"""Keep the garbage collector's full collections short in the long-running servers.

Measured in the Rasa server (gc.callbacks, one conversation at a time): full (generation 2)
collections grew with the heap to 250 ms each, every one a resident waiting a quarter of a second
longer, because each scans every object alive since start-up (the model, the domain, jieba's
dictionary, the regulations index), none of which will ever be garbage. Once a server has loaded and
warmed everything, those objects are moved out of the collector's sight (gc.freeze); collections then
scan only what the messages create.
"""
from __future__ import annotations

import gc


def settle_after_start_up() -> None:
    """Call once, after loading and warming up, before the first resident."""
    gc.collect()
    gc.freeze()
