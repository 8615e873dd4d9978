"""Development tooling: the embedded AWS emulator and a process launcher for the whole stack.

Not shipped with any service; used by ``make run``, the tests and the benchmarks.
"""
