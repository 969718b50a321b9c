"""Red flags for the front-company route: a customer sharing an address, a phone, an
email domain, a payment fingerprint or an access IP with a listed party or with a
customer already denied."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gpurent.compliance.dossier import Dossier
from gpurent.screening import ListEntry
from gpurent.screening.normalize import latin

# Mail providers anyone can use: sharing one says nothing.
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "yandex.ru",
        "mail.ru",
        "gmx.de",
        "aol.com",
    }
)
_EMAIL = re.compile(r"Email Address ([^\s;,]+@[^\s;,]+)", re.IGNORECASE)
_PHONE = re.compile(r"Phone(?: Number)? ([+\d][\d\s\-()]{6,}\d)", re.IGNORECASE)
MIN_PHONE_DIGITS = 7


@dataclass(frozen=True)
class RedFlag:
    kind: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _tokens(text: str) -> frozenset[str]:
    return frozenset(latin(text).split())


@dataclass
class _Place:
    tokens: frozenset[str]
    owner: str
    text: str


class LinkIndex:
    """Addresses, phones and email domains of list entries and denied customers."""

    def __init__(self) -> None:
        self.places: dict[str, list[_Place]] = defaultdict(list)
        self.phones: dict[str, str] = {}
        self.domains: dict[str, str] = {}
        self.payments: dict[str, str] = {}
        self.ips: dict[str, str] = {}

    def add_entries(self, entries: Iterable[ListEntry]) -> None:
        for entry in entries:
            owner = f"{entry.name} ({entry.list_name} {entry.entry_id})"
            for address in entry.addresses:
                if address.country and address.text:
                    self.places[address.country].append(
                        _Place(_tokens(address.text), owner, address.text)
                    )
            for email in _EMAIL.findall(entry.remarks or ""):
                domain = email.rsplit("@", 1)[1].lower().rstrip(".")
                if domain not in FREE_MAIL:
                    self.domains.setdefault(domain, owner)
            for phone in _PHONE.findall(entry.remarks or ""):
                if len(_digits(phone)) >= MIN_PHONE_DIGITS:
                    self.phones.setdefault(_digits(phone), owner)

    def add_customer(self, name: str, dossier: Dossier) -> None:
        owner = f"denied customer {name}"
        for address in dossier.addresses:
            text = f"{address.street}, {address.city}"
            self.places[address.country].append(_Place(_tokens(text), owner, text))
        for phone in dossier.phones:
            self.phones.setdefault(_digits(phone), owner)
        for email in dossier.emails:
            domain = email.rsplit("@", 1)[1].lower()
            if domain not in FREE_MAIL:
                self.domains.setdefault(domain, owner)
        if dossier.payment_fingerprint:
            self.payments.setdefault(dossier.payment_fingerprint, owner)
        for ip in dossier.access_ips:
            self.ips.setdefault(str(ip), owner)

    def flags(self, dossier: Dossier) -> list[RedFlag]:
        found: list[RedFlag] = []
        for address in dossier.addresses:
            street, city = _tokens(address.street), _tokens(address.city)
            # A street without a number is too vague to call shared ("Main Street").
            if not any(t.isdigit() for t in street):
                continue
            for place in self.places.get(address.country, ()):
                if street <= place.tokens and (city <= place.tokens or city & place.tokens):
                    found.append(
                        RedFlag(
                            "shared_address",
                            f"address {address.street}, {address.city} is also the address "
                            f"of {place.owner}",
                            {"address": place.text, "shared_with": place.owner},
                        )
                    )
                    break
        checks: list[tuple[str, str, dict[str, str], list[str]]] = [
            ("shared_phone", "phone", self.phones, [_digits(p) for p in dossier.phones]),
            (
                "shared_email_domain",
                "email domain",
                self.domains,
                [e.rsplit("@", 1)[1].lower() for e in dossier.emails],
            ),
            (
                "shared_payment",
                "payment fingerprint",
                self.payments,
                [dossier.payment_fingerprint] if dossier.payment_fingerprint else [],
            ),
            ("shared_ip", "access IP", self.ips, [str(ip) for ip in dossier.access_ips]),
        ]
        for kind, label, table, values in checks:
            for value in values:
                owner = table.get(value)
                if owner and (kind != "shared_email_domain" or value not in FREE_MAIL):
                    found.append(
                        RedFlag(
                            kind,
                            f"{label} {value} is also used by {owner}",
                            {label: value, "shared_with": owner},
                        )
                    )
        return found
