"""Fleet inventory: facilities, nodes and GPUs, and the fleet file that describes them."""
