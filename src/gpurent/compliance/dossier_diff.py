"""Pure: what changed between two customer identification records, and which of the
changes are material (owners, shares, countries, the ultimate parent)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gpurent.compliance.dossier import Dossier, Owner

_COUNTRY_FIELDS = ("incorporation_country", "headquarters_country")


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


def _owners(owners: list[Owner], above: tuple[str, ...] = ()) -> dict[tuple[str, ...], Owner]:
    """Every owner at every depth, keyed by the chain of names that leads to it."""
    found: dict[tuple[str, ...], Owner] = {}
    for owner in owners:
        path = (*above, _key(owner.name))
        found[path] = owner
        found.update(_owners(owner.owners, path))
    return found


def _share(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:g}"


def _owner_changes(old: Dossier, new: Dossier) -> list[dict[str, Any]]:
    before, after = _owners(old.owners), _owners(new.owners)
    changes: list[dict[str, Any]] = []
    for path, owner in before.items():
        chain = " > ".join(p.name for p in _chain(before, path))
        if path not in after:
            changes.append(
                {
                    "kind": "owner_removed",
                    "owner": chain,
                    "before": {"percent": _share(owner.percent), "country": owner.country},
                    "after": None,
                }
            )
            continue
        now = after[path]
        if owner.percent != now.percent:
            changes.append(
                {
                    "kind": "share_changed",
                    "owner": chain,
                    "before": _share(owner.percent),
                    "after": _share(now.percent),
                }
            )
        if owner.country != now.country:
            changes.append(
                {
                    "kind": "country_changed",
                    "owner": chain,
                    "before": owner.country,
                    "after": now.country,
                }
            )
    for path, owner in after.items():
        if path not in before:
            changes.append(
                {
                    "kind": "owner_added",
                    "owner": " > ".join(p.name for p in _chain(after, path)),
                    "before": None,
                    "after": {"percent": _share(owner.percent), "country": owner.country},
                }
            )
    return changes


def _chain(owners: dict[tuple[str, ...], Owner], path: tuple[str, ...]) -> list[Owner]:
    return [owners[path[: i + 1]] for i in range(len(path))]


def diff(old: Dossier, new: Dossier) -> dict[str, Any]:
    """{"material": [...], "other_fields": [...]}: material changes one by one, and the
    names of the other top-level fields that changed."""
    material: list[dict[str, Any]] = []
    for field in _COUNTRY_FIELDS:
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            material.append(
                {"kind": "country_changed", "field": field, "before": before, "after": after}
            )
    parent_before = old.ultimate_parent.model_dump() if old.ultimate_parent else None
    parent_after = new.ultimate_parent.model_dump() if new.ultimate_parent else None
    if parent_before != parent_after:
        material.append(
            {"kind": "ultimate_parent_changed", "before": parent_before, "after": parent_after}
        )
    material += _owner_changes(old, new)
    if old.legal_name != new.legal_name:
        material.append({"kind": "name_changed", "before": old.legal_name, "after": new.legal_name})
    considered = {*_COUNTRY_FIELDS, "ultimate_parent", "owners", "legal_name"}
    before_all, after_all = old.model_dump(mode="json"), new.model_dump(mode="json")
    other = sorted(
        name
        for name in before_all.keys() | after_all.keys()
        if name not in considered and before_all.get(name) != after_all.get(name)
    )
    return {"material": material, "other_fields": other}
