"""Client calls: organizations and tokens, screening and lists, records, reviews, audit."""

from __future__ import annotations

from typing import Any

from gpurent.accounts.roles import Role
from gpurent.accounts.schemas import OrganizationIn, OrganizationOut, TokenIn, TokenOut, WhoAmIOut
from gpurent.client.base import Calls
from gpurent.compliance.schemas import (
    CheckIn,
    ClearanceIn,
    ClearanceOut,
    ClearanceUndoIn,
    DecisionOut,
    ReviewAssignIn,
    ReviewDecisionIn,
    ReviewDetailOut,
    ReviewNoteIn,
    ReviewOut,
    StandingOut,
)
from gpurent.errors import NotFoundError
from gpurent.lists.schemas import (
    BatchScreeningIn,
    BatchScreeningOut,
    ListVersionOut,
    ScreeningOut,
    ScreeningQuery,
)


class AccountCalls(Calls):
    def whoami(self) -> WhoAmIOut:
        """The caller as the server sees its token: user, organization, role."""
        return self._one(WhoAmIOut, "/v1/whoami")

    def organizations(self) -> list[OrganizationOut]:
        """Every organization with its standing (a renter: its own)."""
        return self._many(OrganizationOut, "/v1/organizations")

    def organization(self, reference: int | str) -> OrganizationOut:
        """An organization by id, or by name (looked up among those the caller sees)."""
        if isinstance(reference, int) or reference.isdigit():
            return self._one(OrganizationOut, f"/v1/organizations/{int(reference)}")
        for org in self.organizations():
            if org.name == reference:
                return org
        raise NotFoundError(f"no organization {reference!r}")

    def create_organization(
        self, name: str, kind: str = "customer", country: str | None = None
    ) -> OrganizationOut:
        body = OrganizationIn(name=name, kind=kind, country=country)
        return self._post(OrganizationOut, "/v1/organizations", body)

    def create_token(self, organization: str, user: str, role: Role) -> TokenOut:
        """A new token (the only time it is shown)."""
        body = TokenIn(organization=organization, user=user, role=role)
        return self._post(TokenOut, "/v1/tokens", body)


class ScreeningCalls(Calls):
    def screen(self, query: ScreeningQuery) -> ScreeningOut:
        """A name against the restricted-party lists in force."""
        # Not retried: each screening is recorded in the audit log.
        return self._post(ScreeningOut, "/v1/screenings", query)

    def screen_batch(self, queries: list[ScreeningQuery]) -> BatchScreeningOut:
        body = BatchScreeningIn(queries=queries)
        return self._post(BatchScreeningOut, "/v1/screenings/batch", body)

    def lists(self, *, history: bool = False) -> list[ListVersionOut]:
        """The list versions in force (or every version)."""
        return self._many(ListVersionOut, "/v1/lists", {"history": history})


class ComplianceCalls(Calls):
    def dossier(self, organization_id: int) -> dict[str, Any]:
        data: dict[str, Any] = self._json("GET", f"/v1/organizations/{organization_id}/dossier")
        return data

    def put_dossier(self, organization_id: int, dossier: dict[str, Any]) -> StandingOut:
        """Submit the identification record; it is screened at once."""
        path = f"/v1/organizations/{organization_id}/dossier"
        return self._post(StandingOut, path, dossier, method="PUT")

    def standing(self, organization_id: int) -> StandingOut:
        return self._one(StandingOut, f"/v1/organizations/{organization_id}/standing")

    def clearances(self, organization_id: int) -> list[ClearanceOut]:
        return self._many(ClearanceOut, f"/v1/organizations/{organization_id}/clearances")

    def clear(self, organization_id: int, clearance: ClearanceIn) -> ClearanceOut:
        """Clear a possible match of the customer's record as a false positive."""
        path = f"/v1/organizations/{organization_id}/clearances"
        return self._post(ClearanceOut, path, clearance)

    def undo_clearance(self, organization_id: int, clearance_id: int, reason: str) -> ClearanceOut:
        path = f"/v1/organizations/{organization_id}/clearances/{clearance_id}/undo"
        return self._post(ClearanceOut, path, ClearanceUndoIn(reason=reason))

    def dossier_schema(self) -> dict[str, Any]:
        data: dict[str, Any] = self._json("GET", "/v1/compliance/schema")
        return data

    def check(self, scenario: CheckIn) -> DecisionOut:
        """Decide a scenario, creating nothing."""
        return self._post(DecisionOut, "/v1/compliance/check", scenario, idempotent=True)

    def reviews(self, status: str | None = "pending", *, overdue: bool = False) -> list[ReviewOut]:
        """The review queue (pending: open or awaiting a second approval)."""
        return self._many(ReviewOut, "/v1/reviews", {"status": status or "", "overdue": overdue})

    def review(self, review_id: int) -> ReviewDetailOut:
        return self._one(ReviewDetailOut, f"/v1/reviews/{review_id}")

    def claim_review(self, review_id: int) -> ReviewOut:
        return self._post(ReviewOut, f"/v1/reviews/{review_id}/claim")

    def assign_review(self, review_id: int, assignee: str) -> ReviewOut:
        body = ReviewAssignIn(assignee=assignee)
        return self._post(ReviewOut, f"/v1/reviews/{review_id}/assign", body)

    def note_review(self, review_id: int, text: str) -> ReviewOut:
        return self._post(ReviewOut, f"/v1/reviews/{review_id}/notes", ReviewNoteIn(text=text))

    def approve_review(self, review_id: int, reason: str) -> ReviewOut:
        body = ReviewDecisionIn(reason=reason)
        return self._post(ReviewOut, f"/v1/reviews/{review_id}/approve", body)

    def deny_review(self, review_id: int, reason: str) -> ReviewOut:
        body = ReviewDecisionIn(reason=reason)
        return self._post(ReviewOut, f"/v1/reviews/{review_id}/deny", body)

    def alerts(self) -> list[dict[str, Any]]:
        """Customers who became denied, newest first."""
        data: list[dict[str, Any]] = self._json("GET", "/v1/alerts")
        return data

    def audit_verify(self) -> dict[str, Any]:
        """Seal what is unsealed, then check the chain: records, intact, problems."""
        data: dict[str, Any] = self._json("GET", "/v1/audit/verify")
        return data

    def audit_export(self) -> str:
        """The audit log as JSON lines, in chain order."""
        return self._transport.request("GET", "/v1/audit/export").text
