"""tasklife's benchmarks: each figure the issues name, measured side by side with the alternatives.

Run ``python -m bench`` for the full run (writes ``BENCHMARKS.md`` and the plots under
``bench/``) or ``python -m bench --quick --no-write`` for the smoke run CI uses. Contenders of one
comparison run interleaved in one process, rotating their order every round, so the ratio between
them holds even when the machine's speed drifts; the ratio is the headline, the absolute figures
are this machine's.
"""
