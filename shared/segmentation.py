"""Chinese word segmentation (中文分词): jieba loaded once per process per configuration.

Two services segment Chinese text with their own rules: intake compares complaint texts for
repeat calls (services/intake/similarity.py), knowledge indexes and searches articles
(services/knowledge/analysis.py). What they share is only the machinery, kept here:

- :func:`trimmed_dictionary` — jieba's dictionary without its rare words, written once per
  machine (memory: each service stays under 150 MB RSS);
- :func:`load_tokenizer` — a fresh ``jieba.Tokenizer`` on that dictionary with a service's own
  words added, so each is cut as one token;
- :func:`shared_tokenizer` — the process's one loaded tokenizer per configuration (dictionary,
  extra words, their frequency): loading costs ≈0.2–0.5 s and tens of MB, so two containers of
  one service in a test process, or several workers, share it.

A tokenizer is mutable (``add_word``): two configurations never share one, so a service's
words never change another service's segmentation. Nothing is loaded at import; callers load
from a dependency provider's ``setup()`` or a domain object's ``load()``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from typing import Any

DEFAULT_MIN_FREQ = 5
# Frequency given to a service's own words: high enough that jieba keeps each whole in running
# text (城管, 占道经营), as intake has used since Step 2.
DEFAULT_WORD_FREQ = 100_000

_lock = threading.Lock()
_tokenizers: dict[tuple[int, tuple[str, ...], int], Any] = {}


def trimmed_dictionary(min_freq: int, directory: str | None = None) -> str:
    """Path of jieba's dictionary without the words rarer than ``min_freq`` (single characters
    are all kept), written once per machine next to jieba's own cache.

    jieba's full dictionary (349,046 words) costs ≈62 MB of memory per process; the words seen
    fewer than 5 times in its corpus are two thirds of it and almost never in a call or an
    article, and the HMM still segments whatever is missing. With 5: 138,313 words, ≈24 MB.
    """
    import jieba

    source = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    target = os.path.join(directory or tempfile.gettempdir(),
                          f"hotline-jieba-{jieba.__version__}-min{min_freq}.txt")
    if not os.path.exists(target):
        fd, partial = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".partial")
        with open(source, encoding="utf-8") as src, os.fdopen(fd, "w", encoding="utf-8") as out:
            for line in src:
                word, freq = line.split(" ", 2)[:2]
                if len(word) == 1 or int(freq) >= min_freq:
                    out.write(line)
        os.replace(partial, target)  # atomic: a concurrent process reads a whole file or none
    return target


def load_tokenizer(extra_words: Iterable[str] = (), min_freq: int = DEFAULT_MIN_FREQ,
                   word_freq: int = DEFAULT_WORD_FREQ) -> Any:
    """A new, initialised ``jieba.Tokenizer``: :func:`trimmed_dictionary` when ``min_freq`` > 1
    (jieba's full dictionary otherwise), with ``extra_words`` added at ``word_freq``."""
    import jieba

    with _lock:
        jieba.setLogLevel(logging.WARNING)  # its "Building prefix dict" lines on stderr
    if min_freq > 1:
        tokenizer = jieba.Tokenizer(dictionary=trimmed_dictionary(min_freq))
    else:
        tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in extra_words:
        tokenizer.add_word(word, freq=word_freq)
    return tokenizer


def shared_tokenizer(extra_words: Iterable[str] = (), min_freq: int = DEFAULT_MIN_FREQ,
                     word_freq: int = DEFAULT_WORD_FREQ) -> Any:
    """The process's one tokenizer for this configuration, loaded on first use.

    The configuration is the dictionary (``min_freq``), the set of extra words and their
    frequency; the words' order does not matter. Callers must not ``add_word`` to it.
    """
    key = (min_freq, tuple(sorted(set(extra_words))), word_freq)
    with _lock:
        tokenizer = _tokenizers.get(key)
    if tokenizer is None:
        # loaded outside the lock (it takes a while); a concurrent first use may load twice,
        # and the first one stored wins, so every caller ends with the same object
        loaded = load_tokenizer(key[1], min_freq, word_freq)
        with _lock:
            tokenizer = _tokenizers.setdefault(key, loaded)
    return tokenizer
