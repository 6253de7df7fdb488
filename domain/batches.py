"""Round trips shared by concurrent requests: writes to one collection gathered into one bulk
write, reads of documents by id gathered into one find.

While a batcher's round trip is under way, the writes or reads asked of it meanwhile wait and
then go together in the next one (group commit). At low load a request goes alone at once;
under load a round trip carries many. Each caller still awaits its own outcome before it goes
on, so nothing is answered before it is stored, and a failed round trip fails every request in
it.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo import InsertOne, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000
# A bulk carries at most this many writes; more wait for the next.
MAX_BATCH = 256
# Times a group of counter takes that did not all fit asks the counter's room and tries again,
# before its takes go one at a time.
ROOM_ROUNDS = 3


@dataclass(frozen=True)
class WriteOutcome:
    """What one write of a batch did.

    `upserted`: an upsert inserted. `duplicate`: the write collided with a unique index.
    `matched`: the write's filter matched a document, when that can be told from the batch
    (every update of it matched, or none did); None when only some did, and the caller reads
    its document to know.
    """

    upserted: bool = False
    duplicate: bool = False
    matched: bool | None = None


_Write = InsertOne[Any] | UpdateOne


@dataclass
class _Waiting:
    write: _Write
    outcome: "asyncio.Future[WriteOutcome]"


class WriteBatcher:
    """Gathers the inserts and updates asked of it into unordered bulk writes, one at a time."""

    def __init__(self, collection: Callable[[], Any]) -> None:
        self._collection = collection
        self._queue: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def insert_one(self, document: dict[str, Any]) -> WriteOutcome:
        return await self._write(InsertOne(document))

    async def update_one(
        self, selector: dict[str, Any], update: dict[str, Any], *, upsert: bool = False
    ) -> WriteOutcome:
        return await self._write(UpdateOne(selector, update, upsert=upsert))

    async def _write(self, write: _Write) -> WriteOutcome:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(write, loop.create_future())
        self._queue.append(waiting)
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._writer = loop.create_task(self._drain())
        return await waiting.outcome

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await self._write_batch(batch)
            except asyncio.CancelledError:
                for waiting in batch + self._queue:
                    waiting.outcome.cancel()
                self._queue = []
                raise

    async def _write_batch(self, batch: list[_Waiting]) -> None:
        errors: dict[int, dict[str, Any]] = {}
        try:
            result = await self._collection().bulk_write(
                [waiting.write for waiting in batch], ordered=False
            )
            upserted = set(result.upserted_ids or {})
            matched_count = result.matched_count
        except BulkWriteError as error:
            details = error.details
            errors = {failure["index"]: failure for failure in details.get("writeErrors", [])}
            upserted = {entry["index"] for entry in details.get("upserted", [])}
            matched_count = int(details.get("nMatched", 0))
        except Exception as error:  # the database went away: every write of the batch failed
            for waiting in batch:
                if not waiting.outcome.done():
                    waiting.outcome.set_exception(error)
            return
        is_update = [isinstance(waiting.write, UpdateOne) for waiting in batch]
        # Updates that could have matched: not upserted, not refused.
        could_match = sum(
            1 for i, update in enumerate(is_update) if update and i not in upserted | errors.keys()
        )
        if matched_count == could_match:
            everything_matched: bool | None = True
        elif matched_count == 0:
            everything_matched = False
        else:
            everything_matched = None
        for index, waiting in enumerate(batch):
            if waiting.outcome.done():
                continue
            failure = errors.get(index)
            if failure is not None and failure.get("code") != DUPLICATE_KEY:
                waiting.outcome.set_exception(BulkWriteError({"writeErrors": [failure]}))
                continue
            was_upserted = index in upserted
            waiting.outcome.set_result(
                WriteOutcome(
                    upserted=was_upserted,
                    duplicate=failure is not None,
                    matched=(
                        everything_matched
                        if is_update[index] and failure is None and not was_upserted
                        else False
                    ),
                )
            )


@dataclass
class _Read:
    document_id: Any
    found: "asyncio.Future[dict[str, Any] | None]"


class ReadBatcher:
    """Gathers reads of single documents by `_id` within one project into one `$in` find per
    project and projection, one round trip at a time."""

    def __init__(self, collection: Callable[[], Any]) -> None:
        self._collection = collection
        self._queue: dict[tuple[str, tuple[str, ...]], list[_Read]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def find_by_id(
        self, project_id: str, document_id: Any, fields: tuple[str, ...]
    ) -> dict[str, Any] | None:
        """The document with `document_id` in the project, with only `fields` (all when
        empty), or None."""
        loop = asyncio.get_running_loop()
        read = _Read(document_id, loop.create_future())
        self._queue.setdefault((project_id, fields), []).append(read)
        reader = self._reader
        if reader is None or reader.done() or reader.get_loop() is not loop:
            self._reader = loop.create_task(self._drain())
        return await read.found

    async def _drain(self) -> None:
        while self._queue:
            groups, self._queue = self._queue, {}
            try:
                for (project_id, fields), reads in groups.items():
                    await self._read_group(project_id, fields, reads)
            except asyncio.CancelledError:
                for reads in [*groups.values(), *self._queue.values()]:
                    for read in reads:
                        read.found.cancel()
                self._queue = {}
                raise

    async def _read_group(
        self, project_id: str, fields: tuple[str, ...], reads: list[_Read]
    ) -> None:
        wanted = list({read.document_id for read in reads})
        projection = dict.fromkeys(fields, 1) if fields else None
        try:
            cursor = self._collection().find(
                {"_id": {"$in": wanted}, "project_id": project_id}, projection
            )
            by_id = {document["_id"]: document async for document in cursor}
        except Exception as error:  # the database went away: every read of the group failed
            for read in reads:
                if not read.found.done():
                    read.found.set_exception(error)
            return
        for read in reads:
            if not read.found.done():
                read.found.set_result(by_id.get(read.document_id))


@dataclass
class _CounterTake:
    also_set: dict[str, Any]
    taken: "asyncio.Future[dict[str, Any] | None]"


@dataclass
class _CounterGroup:
    selector: dict[str, Any]
    limit: int | None
    projection: dict[str, Any] | None
    queue: list[_CounterTake]
    writer: "asyncio.Task[None] | None" = None


class CounterTakes:
    """Concurrent takes of one counter (the same document, filter and limit) as one conditional
    `$inc` of their number, with the limit less that number in the filter. Units of a counter
    are alike, so when all fit, all are granted by one round trip and share the document it
    returns; when not all fit, the takes go one at a time, so exactly those that fit are
    granted, as if each had gone alone."""

    def __init__(self, collection: Callable[[], Any], counter_field: str) -> None:
        self._collection = collection
        self._field = counter_field
        self._groups: dict[tuple[Any, ...], _CounterGroup] = {}

    async def take_returning(
        self,
        selector: dict[str, Any],
        limit: int | None,
        *,
        also_set: dict[str, Any],
        projection: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        """The counter's document after the take, or None when it is at its limit or gone."""
        loop = asyncio.get_running_loop()
        key = (
            tuple(sorted((name, repr(value)) for name, value in selector.items())),
            limit,
            tuple(sorted(projection or {})),
            tuple(sorted(also_set)),
        )
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _CounterGroup(selector, limit, projection, [])
        take = _CounterTake(also_set, loop.create_future())
        group.queue.append(take)
        writer = group.writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            group.writer = loop.create_task(self._drain(key, group))
        return await take.taken

    async def _drain(self, key: tuple[Any, ...], group: _CounterGroup) -> None:
        try:
            while group.queue:
                batch, group.queue = group.queue[:MAX_BATCH], group.queue[MAX_BATCH:]
                await self._take_batch(group, batch)
        except asyncio.CancelledError:
            for take in group.queue:
                take.taken.cancel()
            group.queue = []
            raise
        finally:
            if not group.queue and self._groups.get(key) is group:
                del self._groups[key]

    async def _take_batch(self, group: _CounterGroup, batch: list[_CounterTake]) -> None:
        try:
            await self._take_for(group, batch)
        except asyncio.CancelledError:
            for take in batch:
                take.taken.cancel()
            raise
        except Exception as error:  # the database went away: every take still waiting failed
            for take in batch:
                if not take.taken.done():
                    take.taken.set_exception(error)

    async def _take_for(self, group: _CounterGroup, batch: list[_CounterTake]) -> None:
        waiting = batch
        for _ in range(ROOM_ROUNDS):
            latest = {name: value for take in waiting for name, value in take.also_set.items()}
            document = await self._take(group, len(waiting), latest)
            if document is not None or len(waiting) == 1 or group.limit is None:
                _settle(waiting, document)
                return
            # Not all fit: as many as the counter has room for go together, the rest are
            # refused (the counter only grows, but for units given back meanwhile).
            stored = await self._collection().find_one(group.selector, {self._field: 1})
            room = 0 if stored is None else group.limit - int(stored.get(self._field, 0))
            _settle(waiting[max(room, 0) :], None)
            waiting = waiting[: max(room, 0)]
            if not waiting:
                return
        for take in waiting:
            _settle([take], await self._take(group, 1, take.also_set))

    async def _take(
        self, group: _CounterGroup, units: int, also_set: dict[str, Any]
    ) -> dict[str, Any] | None:
        query = dict(group.selector)
        if group.limit is not None:
            if units > group.limit:
                return None
            query[self._field] = {"$lte": group.limit - units}
        update: dict[str, Any] = {"$inc": {self._field: units}}
        if also_set:
            update["$set"] = also_set
        document: dict[str, Any] | None = await self._collection().find_one_and_update(
            query, update, projection=group.projection, return_document=ReturnDocument.AFTER
        )
        return document


def _settle(takes: list[_CounterTake], document: dict[str, Any] | None) -> None:
    for take in takes:
        if not take.taken.done():
            take.taken.set_result(document)


@dataclass
class _ValueRead:
    value: Any
    found: "asyncio.Future[list[dict[str, Any]]]"


class ValueReads:
    """Gathers reads of the documents holding a value in one field (in any project) into one
    `$in` find, one round trip at a time; each read gets at most `per_value` documents, as a
    find of its own with that limit would."""

    def __init__(self, collection: Callable[[], Any], field: str, per_value: int) -> None:
        self._collection = collection
        self._field = field
        self._per_value = per_value
        self._queue: list[_ValueRead] = []
        self._reader: asyncio.Task[None] | None = None

    async def find(self, value: Any) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        read = _ValueRead(value, loop.create_future())
        self._queue.append(read)
        reader = self._reader
        if reader is None or reader.done() or reader.get_loop() is not loop:
            self._reader = loop.create_task(self._drain())
        return await read.found

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await self._read_batch(batch)
            except asyncio.CancelledError:
                for read in batch + self._queue:
                    read.found.cancel()
                self._queue = []
                raise

    async def _read_batch(self, batch: list[_ValueRead]) -> None:
        values = list({read.value for read in batch})
        limit = self._per_value * len(values)
        try:
            found = await self._find({"$in": values}, limit)
            if len(found) >= limit and len(values) > 1:
                # One value may have crowded out another's: each asks on its own.
                found = [d for value in values for d in await self._find(value, self._per_value)]
        except Exception as error:  # the database went away: every read of the batch failed
            for read in batch:
                if not read.found.done():
                    read.found.set_exception(error)
            return
        by_value: dict[Any, list[dict[str, Any]]] = {}
        for document in found:
            by_value.setdefault(document.get(self._field), []).append(document)
        for read in batch:
            if not read.found.done():
                read.found.set_result(by_value.get(read.value, [])[: self._per_value])

    async def _find(self, condition: Any, limit: int) -> list[dict[str, Any]]:
        cursor = self._collection().find({self._field: condition}).limit(limit)
        documents: list[dict[str, Any]] = await cursor.to_list()
        return documents
