"""The tamper-evident audit log: append now, seal into a hash chain in order."""
