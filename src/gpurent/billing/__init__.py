"""Billing: leases rated into an append-only ledger, invoices, balances, limits, credits."""
