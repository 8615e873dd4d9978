"""SnapQueue's benchmarks: ``python -m bench`` (or ``make bench``) writes docs/benchmarks.md.

Four benchmarks, each measured against its own baseline in the same run:

- ``transform``: the worker's Pillow pipeline against a naive Pillow pipeline and pyvips,
  one core pinned, on generated 2-24 MP photos;
- ``e2e``: the embedded stack (emulator, upload-service, worker, notifier) from the end of
  an upload to the WebSocket event, against transform-only throughput;
- ``notifier``: idle WebSocket connections per replica and event delivery latency;
- ``upload``: ``POST /upload-request`` against a bare uvicorn hello-world.

Each returns a typed result (:mod:`bench.results`); a run writes them, with the machine and
the code revision, to one JSON file, and docs/benchmarks.md is rendered from that file by
``bench/templates/benchmarks.md.j2``. ``--smoke`` runs each at a tiny size into a temporary
directory so the suite can check that they keep working; the numbers of a smoke run mean
nothing.
"""
