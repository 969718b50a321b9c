"""The ``gpurent`` command line."""
