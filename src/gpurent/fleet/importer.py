"""Applying a fleet file as a diff against the database.

Everything is checked before anything is written, and the writes happen in one
transaction: a bad file changes nothing. Importing the same file twice reports zero
changes the second time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from gpurent.accounts.models import Organization
from gpurent.catalog import service as catalog_service
from gpurent.catalog.models import SOURCE_FLEET, GpuModel
from gpurent.errors import FileFormatError
from gpurent.fleet.fleetfile import FleetDocument, Location
from gpurent.fleet.models import Facility, Gpu, Node, SlurmAccount
from gpurent.fleet.schemas import GpuEntry, ImportReport, SlurmAccountEntry
from gpurent.fleet.service import bump_fleet_revision, change_gpu_state, record_gpu_created
from gpurent.fleet.states import GpuState, can_transition
from gpurent.offers import service as offers_service
from gpurent.offers.models import RateCard

Position = tuple[str, int]  # (node name, GPU index)
_KINDS = ("gpu_models", "facilities", "nodes", "gpus", "rate_cards", "slurm_accounts")


@dataclass
class _Existing:
    facilities: dict[str, Facility]
    nodes: dict[str, Node]
    gpus: dict[Position, Gpu]
    models: dict[str, GpuModel]  # by lower-case name
    organizations: dict[str, int]  # ids by name

    @classmethod
    def load(cls, session: Session) -> _Existing:
        gpus = session.scalars(
            select(Gpu).options(joinedload(Gpu.node), joinedload(Gpu.model))
        ).all()
        return cls(
            facilities={f.name: f for f in session.scalars(select(Facility))},
            nodes={n.name: n for n in session.scalars(select(Node))},
            gpus={(g.node.name, g.index): g for g in gpus},
            models={m.name.lower(): m for m in session.scalars(select(GpuModel))},
            organizations=dict(session.execute(select(Organization.name, Organization.id)).all()),
        )


@dataclass
class _Problems:
    document: FleetDocument
    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, location: Location, message: str) -> None:
        self.items.append((self.document.where(location), message))


def _gpu_entries(document: FleetDocument) -> list[tuple[Location, Position, GpuEntry]]:
    return [
        (("facilities", fi, "nodes", ni, "gpus", gi), (node.name, gpu.index), gpu)
        for fi, facility in enumerate(document.fleet.facilities)
        for ni, node in enumerate(facility.nodes)
        for gi, gpu in enumerate(node.gpus)
    ]


def _check(document: FleetDocument, existing: _Existing) -> list[tuple[str, str]]:
    problems = _Problems(document)
    fleet = document.fleet

    file_models = Counter(spec.name.lower() for spec in fleet.gpu_models)
    for i, spec in enumerate(fleet.gpu_models):
        if catalog_service.is_builtin_name(spec.name):
            problems.add(("gpu_models", i, "name"), f"{spec.name!r} is a built-in model")
        elif file_models[spec.name.lower()] > 1:
            problems.add(("gpu_models", i, "name"), f"model {spec.name!r} is defined twice")
        for message in catalog_service.spec_problems(spec):
            problems.add(("gpu_models", i, "dense_rates"), message)

    facility_names = Counter(f.name for f in fleet.facilities)
    node_names = Counter(n.name for f in fleet.facilities for n in f.nodes)
    for fi, facility in enumerate(fleet.facilities):
        if facility_names[facility.name] > 1:
            problems.add(("facilities", fi, "name"), f"facility {facility.name!r} appears twice")
        for ni, node in enumerate(facility.nodes):
            if node_names[node.name] > 1:
                problems.add(
                    ("facilities", fi, "nodes", ni, "name"), f"node {node.name!r} appears twice"
                )

    for fi, facility in enumerate(fleet.facilities):
        _check_slurm_accounts(problems, fi, facility.backend, facility.slurm_accounts, existing)

    known_models = set(existing.models) | set(file_models)
    entries = _gpu_entries(document)
    positions = Counter(position for _, position, _ in entries)
    serials = Counter(entry.serial for _, _, entry in entries)
    by_serial = {gpu.serial: position for position, gpu in existing.gpus.items()}
    for location, position, entry in entries:
        if positions[position] > 1:
            problems.add(
                (*location, "index"), f"duplicate GPU index {entry.index} on node {position[0]!r}"
            )
        if serials[entry.serial] > 1:
            problems.add((*location, "serial"), f"duplicate GPU serial {entry.serial!r}")
        if entry.model.lower() not in known_models:
            problems.add((*location, "model"), f"unknown GPU model {entry.model!r}")
        holder = by_serial.get(entry.serial)
        if holder is not None and holder != position and holder not in positions:
            problems.add(
                (*location, "serial"),
                f"serial {entry.serial!r} belongs to GPU {holder[0]}/{holder[1]}, "
                "which this file does not describe",
            )
        current = existing.gpus.get(position)
        if (
            current is not None
            and entry.state
            and entry.state != current.state
            and not can_transition(current.state, entry.state)
        ):
            problems.add(
                (*location, "state"),
                f"GPU {position[0]}/{position[1]} cannot go from {current.state} to {entry.state}",
            )
    facilities = set(existing.facilities) | set(facility_names)
    cards = Counter((c.gpu_model.lower(), c.facility) for c in fleet.rate_cards)
    for i, card in enumerate(fleet.rate_cards):
        if card.gpu_model.lower() not in known_models:
            problems.add(("rate_cards", i, "gpu_model"), f"unknown GPU model {card.gpu_model!r}")
        if card.facility is not None and card.facility not in facilities:
            problems.add(("rate_cards", i, "facility"), f"unknown facility {card.facility!r}")
        if cards[card.gpu_model.lower(), card.facility] > 1:
            problems.add(("rate_cards", i), "a second rate card for the same model and facility")
    return problems.items


def _check_slurm_accounts(
    problems: _Problems,
    fi: int,
    backend: str,
    entries: list[SlurmAccountEntry] | None,
    existing: _Existing,
) -> None:
    """Each organization of a Slurm facility gets a user and an account of its own."""
    if entries is None:
        return
    where: Location = ("facilities", fi, "slurm_accounts")
    if backend != "slurm":
        problems.add(where, "only a Slurm facility (backend: slurm) has Slurm accounts")
        return
    seen: dict[str, set[str]] = {"organization": set(), "user": set(), "account": set()}
    for ai, entry in enumerate(entries):
        if entry.organization not in existing.organizations:
            problems.add(
                (*where, ai, "organization"), f"unknown organization {entry.organization!r}"
            )
        for key in seen:
            value = getattr(entry, key)
            if value in seen[key]:
                problems.add((*where, ai, key), f"{key} {value!r} is mapped twice on this facility")
            seen[key].add(value)


def import_fleet(
    session: Session,
    document: FleetDocument,
    *,
    actor: str,
    prune: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check the whole file, then apply it in one transaction (or roll back if dry_run)."""
    existing = _Existing.load(session)
    problems = _check(document, existing)
    if problems:
        raise FileFormatError(document.source, problems)
    report = ImportReport(
        source=document.source,
        dry_run=dry_run,
        created=dict.fromkeys(_KINDS, 0),
        updated=dict.fromkeys(_KINDS, 0),
        retired=0,
        changes=[],
    )
    try:
        _Apply(session, existing, report, actor=actor, progress=progress).run(document, prune=prune)
        if report.total:
            bump_fleet_revision(session)
        session.flush()
        report.warnings = _unpriced_models(session)
    except Exception:
        session.rollback()
        raise
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return report


def _unpriced_models(session: Session) -> list[str]:
    """Models with GPUs in service but no rate card at all: nobody can book them."""
    priced = select(RateCard.gpu_model_id)
    rows = session.execute(
        select(GpuModel.name, func.count(Gpu.id))
        .join(Gpu, Gpu.model_id == GpuModel.id)
        .where(Gpu.state != GpuState.RETIRED, GpuModel.id.not_in(priced))
        .group_by(GpuModel.name)
        .order_by(GpuModel.name)
    ).all()
    return [
        f"GPU model {name} has {count} GPU(s) but no rate card: it cannot be booked"
        for name, count in rows
    ]


@dataclass
class _Apply:
    session: Session
    existing: _Existing
    report: ImportReport
    actor: str
    progress: Callable[[int], None] | None = None  # told of each node's GPUs as applied

    def _note(self, kind: str, created: bool, line: str) -> None:
        (self.report.created if created else self.report.updated)[kind] += 1
        self.report.changes.append(line)

    def _update(self, kind: str, label: str, row: object, values: dict[str, object]) -> None:
        diffs = [
            f"{key} {getattr(row, key)} -> {value}"
            for key, value in values.items()
            if getattr(row, key) != value
        ]
        for key, value in values.items():
            setattr(row, key, value)
        if diffs:
            self._note(kind, False, f"~ {kind[:-1].replace('_', ' ')} {label}: {', '.join(diffs)}")

    def run(self, document: FleetDocument, *, prune: bool) -> None:
        reason = f"fleet import of {document.source}"
        for spec in document.fleet.gpu_models:
            is_new = spec.name.lower() not in self.existing.models
            if catalog_service.put_model(self.session, spec, source=SOURCE_FLEET):
                self._note("gpu_models", is_new, f"{'+' if is_new else '~'} gpu model {spec.name}")
        models = {m.name.lower(): m for m in catalog_service.list_models(self.session)}

        described: set[Position] = set()
        for facility_entry in document.fleet.facilities:
            facility = self._facility(
                facility_entry.name,
                facility_entry.country,
                facility_entry.city,
                facility_entry.backend,
            )
            if facility_entry.slurm_accounts is not None:
                self._slurm_accounts(facility, facility_entry.slurm_accounts)
            for node_entry in facility_entry.nodes:
                node = self._node(node_entry.name, facility, node_entry.model_dump())
                self._move_serials(node, node_entry.gpus)
                for entry in node_entry.gpus:
                    described.add((node.name, entry.index))
                    self._gpu(node, entry, models[entry.model.lower()], reason)
                if self.progress:
                    self.progress(len(node_entry.gpus))
        for card in document.fleet.rate_cards:
            place = self.existing.facilities[card.facility] if card.facility else None
            outcome = offers_service.put_rate_card(
                self.session, card, models[card.gpu_model.lower()], place
            )
            if outcome is not None:
                where = f" in {card.facility}" if card.facility else ""
                sign = "+" if outcome else "~"
                self._note("rate_cards", outcome, f"{sign} rate card {card.gpu_model}{where}")
        if prune:
            for position, gpu in sorted(self.existing.gpus.items()):
                if position not in described and gpu.state != GpuState.RETIRED:
                    change_gpu_state(
                        self.session,
                        gpu,
                        GpuState.RETIRED,
                        reason=f"{reason} (not in file)",
                        actor=self.actor,
                    )
                    self.report.retired += 1
                    self.report.changes.append(f"- gpu {gpu.address} retired (not in file)")
        self.session.flush()

    def _facility(self, name: str, country: str, city: str, backend: str) -> Facility:
        facility = self.existing.facilities.get(name)
        if facility is None:
            facility = Facility(name=name, country=country, city=city, backend=backend)
            self.session.add(facility)
            self.session.flush()
            self.existing.facilities[name] = facility
            self._note("facilities", True, f"+ facility {name} ({country}, {city})")
        else:
            self._update(
                "facilities", name, facility, {"country": country, "city": city, "backend": backend}
            )
        return facility

    def _slurm_accounts(self, facility: Facility, entries: list[SlurmAccountEntry]) -> None:
        """The file's list replaces the facility's mappings. Changed rows are deleted
        before any is inserted, so two organizations can swap users in one import."""
        rows = self.session.scalars(
            select(SlurmAccount).where(SlurmAccount.facility_id == facility.id)
        ).all()
        have = {row.organization_id: (row.unix_user, row.account) for row in rows}
        want = {
            self.existing.organizations[entry.organization]: (entry.user, entry.account)
            for entry in entries
        }
        names = {org_id: name for name, org_id in self.existing.organizations.items()}
        stale = [row for row in rows if want.get(row.organization_id) != have[row.organization_id]]
        for row in stale:
            self.session.delete(row)
            if row.organization_id not in want:
                line = f"- slurm account of {names[row.organization_id]} in {facility.name}"
                self._note("slurm_accounts", False, line)
        if stale:
            self.session.flush()
        for org_id, (user, account) in want.items():
            old = have.get(org_id)
            if old == (user, account):
                continue
            self.session.add(
                SlurmAccount(
                    facility_id=facility.id,
                    organization_id=org_id,
                    unix_user=user,
                    account=account,
                )
            )
            label = f"slurm account of {names[org_id]} in {facility.name}"
            if old is None:
                line = f"+ {label}: user {user}, account {account}"
            else:
                line = f"~ {label}: user {old[0]} -> {user}, account {old[1]} -> {account}"
            self._note("slurm_accounts", old is None, line)

    def _node(self, name: str, facility: Facility, entry: dict[str, object]) -> Node:
        values: dict[str, object] = {
            "facility_id": facility.id,
            "cpu_cores": entry["cpu_cores"],
            "memory_gb": entry["memory_gb"],
            "interconnect_domain": entry["interconnect_domain"],
        }
        node = self.existing.nodes.get(name)
        if node is None:
            node = Node(name=name, **values)
            self.session.add(node)
            self.session.flush()
            self.existing.nodes[name] = node
            self._note("nodes", True, f"+ node {name} in {facility.name}")
        else:
            self._update("nodes", name, node, values)
        return node

    def _move_serials(self, node: Node, entries: list[GpuEntry]) -> None:
        """Park changing serials first, so two GPUs can swap serials in one import."""
        moving = [
            gpu
            for entry in entries
            if (gpu := self.existing.gpus.get((node.name, entry.index))) is not None
            and gpu.serial != entry.serial
        ]
        for gpu in moving:
            gpu.serial = f"~moving-{gpu.id}"
        if moving:
            self.session.flush()

    def _gpu(self, node: Node, entry: GpuEntry, model: GpuModel, reason: str) -> None:
        position = (node.name, entry.index)
        gpu = self.existing.gpus.get(position)
        address = f"{node.name}/{entry.index}"
        if gpu is None:
            gpu = Gpu(
                node=node,
                index=entry.index,
                model=model,
                serial=entry.serial,
                state=entry.state or GpuState.AVAILABLE,
            )
            self.session.add(gpu)
            self.session.flush()
            record_gpu_created(self.session, gpu, reason=reason, actor=self.actor)
            self.existing.gpus[position] = gpu
            self._note("gpus", True, f"+ gpu {address} {model.name} {entry.serial}")
            return
        diffs = []
        if gpu.model_id != model.id:
            diffs.append(f"model {gpu.model.name} -> {model.name}")
            gpu.model = model
        if gpu.serial != entry.serial:
            diffs.append(f"serial -> {entry.serial}")
            gpu.serial = entry.serial
        if entry.state and entry.state != gpu.state:
            diffs.append(f"state {gpu.state} -> {entry.state}")
            change_gpu_state(self.session, gpu, entry.state, reason=reason, actor=self.actor)
        if diffs:
            self._note("gpus", False, f"~ gpu {address}: {', '.join(diffs)}")


def gpu_count(document: FleetDocument) -> int:
    return sum(len(n.gpus) for f in document.fleet.facilities for n in f.nodes)
