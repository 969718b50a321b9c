"""Leases: GPUs booked for a window, placement, availability, and their lifecycle."""
