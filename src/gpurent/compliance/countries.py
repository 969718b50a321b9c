"""EAR country groups (data/country-groups.yaml) and the countries a customer is tied to."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml


@lru_cache(maxsize=1)
def _data() -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    text = (resources.files("gpurent.compliance") / "data" / "country-groups.yaml").read_text()
    document = yaml.safe_load(text)
    groups = {name: frozenset(codes) for name, codes in document["groups"].items()}
    return groups, dict(document.get("treated_as") or {})


def treated_as(country: str) -> str:
    """The country the EAR treats `country` as (Hong Kong is China)."""
    return _data()[1].get(country.upper(), country.upper())


def in_groups(country: str, groups: list[str]) -> list[str]:
    """The groups among `groups` that hold `country` (as the EAR treats it)."""
    known = _data()[0]
    code = treated_as(country)
    missing = [g for g in groups if g not in known]
    if missing:
        raise KeyError(f"unknown country group(s): {', '.join(missing)}")
    return [g for g in groups if code in known[g]]


def group_names() -> list[str]:
    return sorted(_data()[0])
