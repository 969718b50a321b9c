"""The lifecycle worker: runs inside ``gpurent serve`` or alone as ``gpurent worker``."""
