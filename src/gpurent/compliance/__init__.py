"""Know your customer: dossiers, ownership analysis, red flags, the export-control policy,
the lease gate, the review queue and continuous monitoring."""
