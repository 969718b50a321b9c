"""The GPU catalog: models, their specs, and their export-control classification."""
