"""Roles and what each may do: one table, read by the API's authorization dependency."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    RENTER = "renter"  # a customer's user: books and uses GPUs for its own organization
    OPERATOR = "operator"  # runs the fleet and sees every lease
    COMPLIANCE = "compliance"  # screens, reviews and decides; reads the audit log
    ADMIN = "admin"  # everything, including organizations and tokens


class Permission(StrEnum):
    CATALOG_READ = "catalog:read"
    OFFERS_READ = "offers:read"
    FLEET_READ = "fleet:read"
    FLEET_WRITE = "fleet:write"
    LEASES_CREATE = "leases:create"
    LEASES_READ = "leases:read"
    LEASES_CHANGE = "leases:change"
    LISTS_READ = "lists:read"
    SCREEN = "screen"
    ORGS_READ = "orgs:read"
    ORGS_WRITE = "orgs:write"
    DOSSIER_READ = "dossier:read"
    DOSSIER_WRITE = "dossier:write"
    COMPLIANCE_CHECK = "compliance:check"
    STANDING_READ = "standing:read"
    REVIEW = "review"
    CLEARANCE = "clearance"
    AUDIT = "audit"
    BILLING_READ = "billing:read"
    BILLING_WRITE = "billing:write"
    WHOAMI = "whoami"


_ALL = frozenset(Role)
GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.CATALOG_READ: _ALL,
    Permission.OFFERS_READ: _ALL,
    Permission.FLEET_READ: frozenset({Role.OPERATOR, Role.ADMIN, Role.COMPLIANCE}),
    Permission.FLEET_WRITE: frozenset({Role.OPERATOR, Role.ADMIN}),
    Permission.LEASES_CREATE: frozenset({Role.RENTER, Role.OPERATOR, Role.ADMIN}),
    Permission.LEASES_READ: _ALL,
    Permission.LEASES_CHANGE: frozenset({Role.RENTER, Role.OPERATOR, Role.ADMIN}),
    Permission.LISTS_READ: frozenset({Role.OPERATOR, Role.COMPLIANCE, Role.ADMIN}),
    Permission.SCREEN: frozenset({Role.OPERATOR, Role.COMPLIANCE, Role.ADMIN}),
    Permission.ORGS_READ: frozenset({Role.OPERATOR, Role.COMPLIANCE, Role.ADMIN}),
    Permission.ORGS_WRITE: frozenset({Role.ADMIN}),
    Permission.DOSSIER_READ: _ALL - {Role.OPERATOR},
    Permission.DOSSIER_WRITE: frozenset({Role.RENTER, Role.COMPLIANCE, Role.ADMIN}),
    Permission.COMPLIANCE_CHECK: frozenset({Role.COMPLIANCE, Role.ADMIN}),
    Permission.STANDING_READ: frozenset({Role.RENTER, Role.COMPLIANCE, Role.ADMIN}),
    Permission.REVIEW: frozenset({Role.COMPLIANCE, Role.ADMIN}),
    Permission.CLEARANCE: frozenset({Role.COMPLIANCE, Role.ADMIN}),
    Permission.AUDIT: frozenset({Role.COMPLIANCE, Role.ADMIN}),
    Permission.BILLING_READ: frozenset({Role.RENTER, Role.OPERATOR, Role.ADMIN}),
    Permission.BILLING_WRITE: frozenset({Role.OPERATOR, Role.ADMIN}),
    Permission.WHOAMI: _ALL,
}

# Roles that act only on their own organization's leases, jobs, invoices and dossier.
OWN_ORGANIZATION_ONLY = frozenset({Role.RENTER})


def allows(role: Role, permission: Permission) -> bool:
    return role in GRANTS[permission]
