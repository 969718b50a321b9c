"""The REST API: the app factory, shared dependencies, error rendering, metrics."""
