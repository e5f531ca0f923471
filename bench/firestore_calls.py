"""Counting Firestore use in one process, for the benchmarks only: RPCs by method, and the
document operations Firestore bills (a read per document read, at least one per query; a write
or delete per mutation committed).

It wraps the GAPIC client's methods, so every calsync store (settings, mappings, issues, lease,
coalescing, budget) is counted without knowing about it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

UNARY = ("begin_transaction", "commit", "rollback", "get_document", "create_document",
         "update_document", "delete_document", "list_documents", "batch_write")  # fmt: skip
STREAMING = ("batch_get_documents", "run_query", "run_aggregation_query")


def _field(request: Any, name: str) -> Any:
    if isinstance(request, dict):
        return request.get(name) or []
    return getattr(request, name, None) or []


class FirestoreCalls:
    def __init__(self) -> None:
        from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

        self.rpcs: Counter[str] = Counter()
        self.ops: Counter[str] = Counter()  # reads, writes
        self._lock = threading.Lock()
        self._client = FirestoreClient
        self._originals = {n: getattr(FirestoreClient, n) for n in UNARY + STREAMING}
        for name in UNARY:
            setattr(FirestoreClient, name, self._unary(name, getattr(FirestoreClient, name)))
        for name in STREAMING:
            setattr(FirestoreClient, name, self._streaming(name, getattr(FirestoreClient, name)))

    def _add(self, rpc: str, reads: int = 0, writes: int = 0) -> None:
        with self._lock:
            self.rpcs[rpc] += 1 if rpc else 0
            self.ops["reads"] += reads
            self.ops["writes"] += writes

    def _unary(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(method)
        def counted(client: Any, request: Any = None, *args: Any, **kwargs: Any) -> Any:
            found = request if request is not None else kwargs.get("request")
            writes = len(_field(found, "writes")) if name in ("commit", "batch_write") else 0
            writes += 1 if name in ("create_document", "update_document", "delete_document") else 0
            reads = 1 if name == "get_document" else 0
            self._add(name, reads, writes)
            return method(client, request, *args, **kwargs)

        return counted

    def _streaming(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(method)
        def counted(client: Any, request: Any = None, *args: Any, **kwargs: Any) -> Any:
            self._add(name)
            return self._count_stream(name, method(client, request, *args, **kwargs))

        return counted

    def _count_stream(self, name: str, responses: Iterable[Any]) -> Iterator[Any]:
        """Counted as they come: callers often stop reading after the answer they need."""
        if name in ("run_query", "run_aggregation_query"):
            self._add("", reads=1)  # a query costs one read even when it finds nothing
        first = True
        for response in responses:
            if name == "batch_get_documents":
                self._add("", reads=1)  # found or missing: a read either way
            elif name == "run_query" and response.document.name:
                self._add("", reads=0 if first else 1)
                first = False
            yield response

    def close(self) -> None:
        """Stop counting: the client's methods as they were."""
        for name, method in self._originals.items():
            setattr(self._client, name, method)

    def __enter__(self) -> FirestoreCalls:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"rpcs": dict(self.rpcs), "reads": self.ops["reads"],
                    "writes": self.ops["writes"]}  # fmt: skip
