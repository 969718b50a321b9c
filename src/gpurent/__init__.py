"""gpurent: a control plane for GPU rental clouds with export-control compliance built in."""

__version__ = "0.1.0"
