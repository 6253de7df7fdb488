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
from typing import Any, Generic, TypeVar

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


Q = TypeVar("Q")
A = TypeVar("A")


@dataclass
class _Ask(Generic[Q, A]):
    """One request's question and the future its answer is set on."""

    question: Q
    answer: "asyncio.Future[A]"


def _reply(ask: "_Ask[Any, A]", answer: A) -> None:
    if not ask.answer.done():
        ask.answer.set_result(answer)


def _fail(asks: "list[_Ask[Any, Any]]", error: BaseException) -> None:
    for ask in asks:
        if not ask.answer.done():
            ask.answer.set_exception(error)


class _Gatherer(Generic[Q, A]):
    """The questions asked while a round trip is under way wait, then go together in the next
    one (at most MAX_BATCH at a time): one round trip at a time. `_answer` answers a batch."""

    def __init__(self) -> None:
        self._queue: list[_Ask[Q, A]] = []
        self._task: asyncio.Task[None] | None = None

    async def _ask(self, question: Q) -> A:
        loop = asyncio.get_running_loop()
        ask: _Ask[Q, A] = _Ask(question, loop.create_future())
        self._queue.append(ask)
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._drain())
        return await ask.answer

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await self._answer(batch)
            except asyncio.CancelledError:
                for ask in batch + self._queue:
                    ask.answer.cancel()
                self._queue = []
                raise
            except Exception as error:  # the database went away: every question of the batch failed
                _fail(batch, error)
        self._drained()

    async def _answer(self, batch: list[_Ask[Q, A]]) -> None:
        raise NotImplementedError

    def _drained(self) -> None:
        """Called when nothing waits any more."""


_Write = InsertOne[Any] | UpdateOne


class WriteBatcher(_Gatherer[_Write, WriteOutcome]):
    """Gathers the inserts and updates asked of it into unordered bulk writes, one at a time."""

    def __init__(self, collection: Callable[[], Any]) -> None:
        super().__init__()
        self._collection = collection

    async def insert_one(self, document: dict[str, Any]) -> WriteOutcome:
        return await self._ask(InsertOne(document))

    async def update_one(
        self, selector: dict[str, Any], update: dict[str, Any], *, upsert: bool = False
    ) -> WriteOutcome:
        return await self._ask(UpdateOne(selector, update, upsert=upsert))

    async def _answer(self, batch: list[_Ask[_Write, WriteOutcome]]) -> None:
        errors: dict[int, dict[str, Any]] = {}
        try:
            result = await self._collection().bulk_write(
                [ask.question for ask in batch], ordered=False
            )
            upserted = set(result.upserted_ids or {})
            matched_count = result.matched_count
        except BulkWriteError as error:
            details = error.details
            errors = {failure["index"]: failure for failure in details.get("writeErrors", [])}
            upserted = {entry["index"] for entry in details.get("upserted", [])}
            matched_count = int(details.get("nMatched", 0))
        is_update = [isinstance(ask.question, UpdateOne) for ask in batch]
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
        for index, ask in enumerate(batch):
            failure = errors.get(index)
            if failure is not None and failure.get("code") != DUPLICATE_KEY:
                _fail([ask], BulkWriteError({"writeErrors": [failure]}))
                continue
            was_upserted = index in upserted
            _reply(
                ask,
                WriteOutcome(
                    upserted=was_upserted,
                    duplicate=failure is not None,
                    matched=(
                        everything_matched
                        if is_update[index] and failure is None and not was_upserted
                        else False
                    ),
                ),
            )


# (project, fields, document id)
_ById = tuple[str, tuple[str, ...], Any]


class ReadBatcher(_Gatherer[_ById, "dict[str, Any] | None"]):
    """Gathers reads of single documents by `_id` within one project into one `$in` find per
    project and projection, one round trip at a time."""

    def __init__(self, collection: Callable[[], Any]) -> None:
        super().__init__()
        self._collection = collection

    async def find_by_id(
        self, project_id: str, document_id: Any, fields: tuple[str, ...]
    ) -> dict[str, Any] | None:
        """The document with `document_id` in the project, with only `fields` (all when
        empty), or None."""
        return await self._ask((project_id, fields, document_id))

    async def _answer(self, batch: list[_Ask[_ById, "dict[str, Any] | None"]]) -> None:
        groups: dict[tuple[str, tuple[str, ...]], list[_Ask[_ById, dict[str, Any] | None]]] = {}
        for ask in batch:
            project_id, fields, _ = ask.question
            groups.setdefault((project_id, fields), []).append(ask)
        for (project_id, fields), asks in groups.items():
            wanted = list({ask.question[2] for ask in asks})
            projection = dict.fromkeys(fields, 1) if fields else None
            try:
                cursor = self._collection().find(
                    {"_id": {"$in": wanted}, "project_id": project_id}, projection
                )
                by_id = {document["_id"]: document async for document in cursor}
            except Exception as error:  # the database went away: every read of the group failed
                _fail(asks, error)
                continue
            for ask in asks:
                _reply(ask, by_id.get(ask.question[2]))


class _CounterGroup(_Gatherer[dict[str, Any], "dict[str, Any] | None"]):
    """The waiting takes of one counter; each take's question is what it sets beside."""

    def __init__(
        self,
        takes: "CounterTakes",
        key: tuple[Any, ...],
        selector: dict[str, Any],
        limit: int | None,
        projection: dict[str, Any] | None,
    ) -> None:
        super().__init__()
        self.takes, self.key = takes, key
        self.selector, self.limit, self.projection = selector, limit, projection

    async def _answer(self, batch: list[_Ask[dict[str, Any], "dict[str, Any] | None"]]) -> None:
        await self.takes._take_for(self, batch)

    def _drained(self) -> None:
        self.takes._forget(self)


_Take = _Ask[dict[str, Any], "dict[str, Any] | None"]


class CounterTakes:
    """Concurrent takes of one counter (the same document, filter and limit) as one conditional
    `$inc` of their number, with the limit less that number in the filter. Units of a counter
    are alike, so when all fit, all are granted by one round trip and share the document it
    returns; when not all fit, the group reads the counter's room, takes what fits together
    and refuses the rest, as if each had gone alone."""

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
        key = (
            tuple(sorted((name, repr(value)) for name, value in selector.items())),
            limit,
            tuple(sorted(projection or {})),
            tuple(sorted(also_set)),
        )
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _CounterGroup(self, key, selector, limit, projection)
        return await group._ask(also_set)

    def _forget(self, group: _CounterGroup) -> None:
        if self._groups.get(group.key) is group:
            del self._groups[group.key]

    async def _take_for(self, group: _CounterGroup, batch: list[_Take]) -> None:
        waiting = batch
        for _ in range(ROOM_ROUNDS):
            latest = {name: value for take in waiting for name, value in take.question.items()}
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
            _settle([take], await self._take(group, 1, take.question))

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


def _settle(takes: list[_Take], document: dict[str, Any] | None) -> None:
    for take in takes:
        _reply(take, document)


class ValueReads(_Gatherer[Any, "list[dict[str, Any]]"]):
    """Gathers reads of the documents holding a value in one field (in any project) into one
    `$in` find, one round trip at a time; each read gets at most `per_value` documents, as a
    find of its own with that limit would."""

    def __init__(self, collection: Callable[[], Any], field: str, per_value: int) -> None:
        super().__init__()
        self._collection = collection
        self._field = field
        self._per_value = per_value

    async def find(self, value: Any) -> list[dict[str, Any]]:
        return await self._ask(value)

    async def _answer(self, batch: list[_Ask[Any, "list[dict[str, Any]]"]]) -> None:
        values = list({ask.question for ask in batch})
        limit = self._per_value * len(values)
        found = await self._find({"$in": values}, limit)
        if len(found) >= limit and len(values) > 1:
            # One value may have crowded out another's: each asks on its own.
            found = [d for value in values for d in await self._find(value, self._per_value)]
        by_value: dict[Any, list[dict[str, Any]]] = {}
        for document in found:
            by_value.setdefault(document.get(self._field), []).append(document)
        for ask in batch:
            _reply(ask, by_value.get(ask.question, [])[: self._per_value])

    async def _find(self, condition: Any, limit: int) -> list[dict[str, Any]]:
        cursor = self._collection().find({self._field: condition}).limit(limit)
        documents: list[dict[str, Any]] = await cursor.to_list()
        return documents
