"""Benchmarks: speed and scale of the quoting bot, measured side by side with a bare reference.

``python -m bench`` runs every section and prints one table per section; the
figures in ``docs/performance.md`` come from it. Each section pairs what the
project does (``Bot.ask``, ``sync_documents``, a FAISS index type) with the
least work that could give the same result (the model plus one exact search,
the model's bare ``encode``, exact search), so a slowdown shows as a ratio.

Nothing here is a test: ``tests/test_bench.py`` only checks that a tiny run works.
"""
