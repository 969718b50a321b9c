"""Offers: rate cards per GPU model (and optionally per facility), and quotes."""
