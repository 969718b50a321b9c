"""Import list versions and screen names against the versions in force."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.orm import Session, aliased

from gpurent.audit import service as audit
from gpurent.db.engine import begin_write
from gpurent.errors import ConflictError, FileFormatError
from gpurent.lists.models import ListEntryRow, ListLinkRow, ListVersion
from gpurent.screening import (
    ListEntry,
    ListFormat,
    ListFormatError,
    Match,
    OwnershipLink,
    ParsedList,
    PartyType,
    Screener,
    read_list,
)
from gpurent.screening.entries import entry_from_dict, entry_to_dict
from gpurent.screening.sources.csl import read_csl_csv
from gpurent.screening.sources.errors import Progress
from gpurent.timeutil import utcnow

BUNDLED_EXCERPT = Path(__file__).parent / "data" / "entity-list-excerpt.csv"
BUNDLED_DATASET = "bis-entity-list-excerpt"
BUNDLED_TITLE = "Entity List excerpt (bundled with gpurent)"
INSERT_CHUNK = 2000


class NoListsError(ConflictError):
    code = "no_lists"


def read_files(
    paths: Sequence[Path], fmt: ListFormat | None = None, progress: Progress | None = None
) -> list[ParsedList]:
    """Read every list first: one bad file rejects the whole import."""
    parsed: list[ParsedList] = []
    for path in paths:
        try:
            parsed.append(read_list(path, fmt, progress))
        except ListFormatError as exc:
            location = f"{exc.path}:{exc.line}" if exc.line is not None else exc.path
            raise FileFormatError(exc.path, [(location, exc.problem)]) from exc
    return parsed


def read_bundled(progress: Progress | None = None) -> ParsedList:
    return read_csl_csv(BUNDLED_EXCERPT, progress, BUNDLED_DATASET, BUNDLED_TITLE)


def _digest(files: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for name in files:
        digest.update(Path(name).read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ListImport:
    versions: list[ListVersion]  # the version in force for each list given, in order
    created: list[ListVersion]  # those this import added (a list identical to the
    # version in force adds none)


def import_lists(session: Session, lists: Sequence[ParsedList], actor: str) -> list[ListVersion]:
    """Store each list as a new version and make it current, all in one transaction."""
    return import_versions(session, lists, actor).versions


def import_versions(session: Session, lists: Sequence[ParsedList], actor: str) -> ListImport:
    """The same, and which versions are new: a list whose files are byte for byte those of
    the version in force of its dataset is not stored again (a retried import adds none)."""
    # Files are read and rows built before the write lock is taken.
    prepared = [(parsed, _digest(parsed.files), _rows(parsed)) for parsed in lists]
    begin_write(session)
    versions: list[ListVersion] = []
    created: list[ListVersion] = []
    for parsed, digest, rows in prepared:
        current = session.scalars(
            select(ListVersion).where(
                ListVersion.dataset == parsed.dataset, ListVersion.superseded_at.is_(None)
            )
        ).first()
        if current is not None and current.sha256 == digest:
            versions.append(current)
            continue
        version = _store(session, parsed, digest, rows, actor)
        versions.append(version)
        created.append(version)
    session.commit()
    return ListImport(versions, created)


def _rows(parsed: ParsedList) -> list[dict[str, Any]]:
    return [
        {"list_name": e.list_name, "entry_id": e.entry_id, "name": e.name, "data": entry_to_dict(e)}
        for e in parsed.entries
    ]


def _store(
    session: Session, parsed: ParsedList, digest: str, rows: list[dict[str, Any]], actor: str
) -> ListVersion:
    now = utcnow()
    session.execute(
        update(ListVersion)
        .where(ListVersion.dataset == parsed.dataset, ListVersion.superseded_at.is_(None))
        .values(superseded_at=now)
    )
    version = ListVersion(
        dataset=parsed.dataset,
        title=parsed.title,
        format=parsed.format,
        files=[Path(f).name for f in parsed.files],
        sha256=digest,
        published=parsed.published,
        entry_count=len(parsed.entries),
        link_count=len(parsed.links),
        imported_at=now,
        imported_by=actor,
    )
    session.add(version)
    session.flush()
    for row in rows:
        row["version_id"] = version.id
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(ListEntryRow), rows[start : start + INSERT_CHUNK])
    if parsed.links:
        session.execute(
            insert(ListLinkRow),
            [
                {
                    "version_id": version.id,
                    "owned_id": link.owned_id,
                    "owner_id": link.owner_id,
                    "relation": link.relation,
                }
                for link in parsed.links
            ],
        )
    audit.record(
        session,
        actor,
        "lists.import",
        f"list_version:{version.id}",
        {
            "dataset": parsed.dataset,
            "format": parsed.format,
            "files": version.files,
            "sha256": version.sha256,
            "entries": version.entry_count,
            "links": version.link_count,
        },
    )
    return version


def current_versions(session: Session) -> list[ListVersion]:
    return list(
        session.scalars(
            select(ListVersion)
            .where(ListVersion.superseded_at.is_(None))
            .order_by(ListVersion.dataset)
        )
    )


def version_history(session: Session, limit: int = 100) -> list[ListVersion]:
    return list(session.scalars(select(ListVersion).order_by(ListVersion.id.desc()).limit(limit)))


class _ScreenerCache:
    """One screener per process, rebuilt when another list version comes into force."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._screener: Screener | None = None

    def get(self, session: Session, threshold: float) -> Screener:
        versions = current_versions(session)
        ids = tuple(v.id for v in versions)
        if not ids:
            raise NoListsError(
                "no restricted-party list is loaded: import one with `gpurent lists import`"
                " (or `gpurent lists import --bundled` for the bundled Entity List excerpt)"
            )
        # Version ids repeat across databases (tests, several deployments in one process).
        database = session.get_bind().engine.url.render_as_string(hide_password=True)
        key = (database, tuple((v.id, v.sha256, v.imported_at) for v in versions), threshold)
        with self._lock:
            if self._key != key or self._screener is None:
                rows = session.scalars(
                    select(ListEntryRow.data)
                    .where(ListEntryRow.version_id.in_(ids))
                    .order_by(ListEntryRow.id)
                )
                self._screener = Screener((entry_from_dict(r) for r in rows), threshold)
                self._key = key
            return self._screener


_cache = _ScreenerCache()


def screener(session: Session, threshold: float) -> Screener:
    return _cache.get(session, threshold)


def screen_name(
    session: Session,
    threshold: float,
    name: str,
    country: str | None = None,
    party_type: PartyType | None = None,
) -> list[Match]:
    return screener(session, threshold).screen(name, country, party_type)


def ownership_links(session: Session) -> list[OwnershipLink]:
    """The ownership links recorded by the lists in force."""
    rows = session.execute(
        select(ListLinkRow.owned_id, ListLinkRow.owner_id, ListLinkRow.relation)
        .join(ListVersion, ListVersion.id == ListLinkRow.version_id)
        .where(ListVersion.superseded_at.is_(None))
    )
    return [OwnershipLink(owned, owner, relation) for owned, owner, relation in rows]


def linked_owners(
    session: Session, owned: Collection[tuple[str, str]]
) -> dict[tuple[str, str], list[tuple[ListEntry, str]]]:
    """Who the lists in force record as owning or controlling the given entries
    ((list name, entry id)): each owner's entry, from the same list version, and the
    relation."""
    wanted = set(owned)
    if not wanted:
        return {}
    held, holder = aliased(ListEntryRow), aliased(ListEntryRow)
    rows = session.execute(
        select(held.list_name, ListLinkRow.owned_id, holder.data, ListLinkRow.relation)
        .join(ListVersion, ListVersion.id == ListLinkRow.version_id)
        .join(
            held,
            and_(held.version_id == ListLinkRow.version_id, held.entry_id == ListLinkRow.owned_id),
        )
        .join(
            holder,
            and_(
                holder.version_id == ListLinkRow.version_id,
                holder.entry_id == ListLinkRow.owner_id,
            ),
        )
        .where(
            ListVersion.superseded_at.is_(None),
            ListLinkRow.owned_id.in_(sorted({entry_id for _, entry_id in wanted})),
        )
        .order_by(ListLinkRow.id)
    )
    found: dict[tuple[str, str], list[tuple[ListEntry, str]]] = {}
    for list_name, owned_id, data, relation in rows:
        if (list_name, owned_id) in wanted:
            found.setdefault((list_name, owned_id), []).append((entry_from_dict(data), relation))
    return found


def changes(session: Session, versions: Sequence[ListVersion]) -> tuple[list[ListEntry], set[str]]:
    """What the given new versions changed against the versions they superseded: the
    entries added or altered, and the identifiers (list:entry_id) of those removed."""
    added: list[ListEntry] = []
    removed: set[str] = set()
    for version in versions:
        previous = session.scalars(
            select(ListVersion)
            .where(ListVersion.dataset == version.dataset, ListVersion.id < version.id)
            .order_by(ListVersion.id.desc())
            .limit(1)
        ).first()
        new = _entries_of(session, version.id)
        old = _entries_of(session, previous.id) if previous else {}
        added += [entry_from_dict(data) for key, data in new.items() if old.get(key) != data]
        removed |= {key for key in old if key not in new}
    return added, removed


def _entries_of(session: Session, version_id: int) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(ListEntryRow.data).where(ListEntryRow.version_id == version_id))
    return {f"{data['list_name']}:{data['entry_id']}": data for data in rows}
