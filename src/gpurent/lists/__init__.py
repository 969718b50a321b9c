"""Restricted-party lists in force: immutable imported versions and screening against them."""
