"""A SOQL subset: parse one SELECT into a plan, then filter, order and project records.

Supported: field and parent-field selects (Account.Name, Owner.Email), COUNT(), one FROM
object, WHERE with = != <> < > <= >= IN, NOT IN, LIKE, AND, OR, NOT and parentheses, string /
number / boolean / NULL / date / datetime literals and TODAY-style date literals, ORDER BY with
ASC/DESC and NULLS FIRST/LAST, LIMIT and OFFSET. Anything else is MALFORMED_QUERY.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from . import ids
from .errors import ApiError, bad_request, malformed_query
from .objects import Field, SObject, find_type
from .timeutil import midnight, parse_date, parse_datetime

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?::\d+)?)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "NULL",
    "TRUE",
    "FALSE",
}


@dataclass
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            snippet = text[pos:].strip()[:20]
            raise malformed_query(f"unexpected token: '{snippet}'")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


def unescape(raw: str, *, like: bool) -> list[tuple[str, bool]]:
    """Decode a quoted literal into (char, is_wildcard) pairs; bad escapes are an error."""
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt in _ESCAPES:
                out.append((_ESCAPES[nxt], False))
            elif nxt in ("%", "_"):
                # outside LIKE these stay as written (backslash and all)
                out.extend([(nxt, False)] if like else [("\\", False), (nxt, False)])
            elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
                out.append((chr(int(body[i + 2 : i + 6], 16)), False))
                i += 4
            else:
                raise malformed_query(
                    f"Invalid string literal '{body}'. Illegal character sequence '\\{nxt}' "
                    "in string literal."
                )
            i += 2
            continue
        out.append((char, like and char in "%_"))
        i += 1
    return out


# -- plan --------------------------------------------------------------------------------------
@dataclass
class Path:
    """A selected or filtered field, possibly through one parent relationship."""

    text: str
    field: Field
    relationship: Field | None = None  # the reference field on the queried object
    parent_types: tuple[str, ...] = ()


@dataclass
class Compare:
    path: Path
    op: str  # = != < > <= >= IN NOTIN LIKE
    value: Any


@dataclass
class BoolOp:
    op: str  # AND OR NOT
    items: list[Any]


@dataclass
class Order:
    path: Path
    descending: bool
    nulls_last: bool


@dataclass
class Query:
    sobject: SObject
    select: list[Path] = field(default_factory=list)
    count_only: bool = False
    where: Any = None
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


class _Parser:
    def __init__(self, text: str, schema: dict[str, SObject], today: date) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.schema = schema
        self.today = today
        self.sobject: SObject | None = None

    # token helpers
    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def is_word(self, *words: str, offset: int = 0) -> bool:
        tok = self.peek(offset)
        return bool(tok and tok.kind == "word" and tok.text.upper() in words)

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise malformed_query("unexpected end of query")
        self.i += 1
        return tok

    def expect_word(self, word: str) -> None:
        tok = self.take()
        if tok.kind != "word" or tok.text.upper() != word:
            raise malformed_query(f"unexpected token: '{tok.text}', expected {word}")

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise malformed_query(f"unexpected token: '{tok.text}', expected '{text}'")

    # grammar
    def parse(self) -> Query:
        self.expect_word("SELECT")
        raw_select, count_only = self._select_list()
        self.expect_word("FROM")
        tok = self.take()
        sobject = find_type(self.schema, tok.text) if tok.kind == "word" else None
        if sobject is None:
            raise bad_request("INVALID_TYPE", f"sObject type '{tok.text}' is not supported.")
        self.sobject = sobject
        query = Query(sobject, [self.path(t) for t in raw_select], count_only)
        if self.is_word("WHERE"):
            self.take()
            query.where = self._condition()
        if self.is_word("ORDER"):
            self.take()
            self.expect_word("BY")
            query.order = self._order_list()
        if self.is_word("LIMIT"):
            self.take()
            query.limit = self._integer()
        if self.is_word("OFFSET"):
            self.take()
            query.offset = self._integer()
        if self.peek() is not None:
            raise malformed_query(f"unexpected token: '{self.peek().text}'")  # type: ignore[union-attr]
        return query

    def _select_list(self) -> tuple[list[Token], bool]:
        if self.is_word("COUNT") and self.peek(1) and self.peek(1).text == "(":  # type: ignore[union-attr]
            self.take()
            self.expect("(")
            self.expect(")")
            return [], True
        out = []
        while True:
            tok = self.take()
            if tok.kind != "word" or tok.text.upper() in KEYWORDS:
                raise malformed_query(f"unexpected token: '{tok.text}'")
            out.append(tok)
            if self.peek() and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                continue
            return out, False

    def path(self, tok: Token) -> Path:
        assert self.sobject is not None
        parts = tok.text.split(".")
        if len(parts) == 1:
            found = self.sobject.lookup(parts[0])
            if found is None or found.type == "junctionidlist":
                raise self._no_column(parts[0])
            return Path(found.name, found)
        if len(parts) > 2:
            raise malformed_query(f"only one level of parent relationship is supported: {tok.text}")
        rel = self.sobject.relationship(parts[0])
        if rel is None:
            raise bad_request(
                "INVALID_FIELD",
                f"Didn't understand relationship '{parts[0]}' in field path. "
                "If you are attempting to use a custom relationship, be sure to append the '__r' "
                "after the custom relationship name.",
            )
        targets = [t for t in (self.schema.get(r) for r in rel.references) if t]
        fields = [f for f in (t.lookup(parts[1]) for t in targets) if f]
        if not fields:
            raise self._no_column(parts[1], targets[0].name if targets else parts[0])
        return Path(
            f"{rel.relationship}.{fields[0].name}", fields[0], rel, tuple(t.name for t in targets)
        )

    def _no_column(self, name: str, entity: str | None = None) -> ApiError:
        assert self.sobject is not None
        return bad_request(
            "INVALID_FIELD",
            f"No such column '{name}' on entity '{entity or self.sobject.name}'. If you are "
            "attempting to use a custom field, be sure to append the '__c' after the custom "
            "field name. Please reference your WSDL or the describe call for the appropriate "
            "names.",
        )

    def _integer(self) -> int:
        tok = self.take()
        if tok.kind != "number" or not tok.text.isdigit():
            raise malformed_query(f"unexpected token: '{tok.text}', expected a number")
        return int(tok.text)

    def _condition(self) -> Any:
        items = [self._unary()]
        joiner = None
        while self.is_word("AND", "OR"):
            word = self.take().text.upper()
            if joiner and word != joiner:
                # SOQL needs parentheses to mix AND and OR
                raise malformed_query(
                    "unexpected token: '" + word + "'; use parentheses to combine AND and OR"
                )
            joiner = word
            items.append(self._unary())
        return items[0] if joiner is None else BoolOp(joiner, items)

    def _unary(self) -> Any:
        if self.is_word("NOT"):
            self.take()
            return BoolOp("NOT", [self._unary()])
        tok = self.peek()
        if tok and tok.text == "(":
            self.take()
            inner = self._condition()
            self.expect(")")
            return inner
        return self._comparison()

    def _comparison(self) -> Compare:
        tok = self.take()
        if tok.kind != "word" or tok.text.upper() in KEYWORDS:
            raise malformed_query(f"unexpected token: '{tok.text}'")
        path = self.path(tok)
        if self.is_word("NOT") and self.is_word("IN", offset=1):
            self.take()
            self.take()
            return Compare(path, "NOTIN", self._list(path))
        if self.is_word("IN"):
            self.take()
            return Compare(path, "IN", self._list(path))
        if self.is_word("LIKE"):
            self.take()
            lit = self.take()
            if lit.kind != "string":
                raise malformed_query("LIKE needs a string literal")
            if path.field.type not in (
                "string",
                "textarea",
                "email",
                "phone",
                "url",
                "picklist",
                "id",
                "reference",
            ):
                raise bad_request(
                    "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on {path.text}: LIKE"
                )
            return Compare(path, "LIKE", _like_regex(unescape(lit.text, like=True)))
        op = self.take()
        if op.kind != "op":
            raise malformed_query(f"unexpected token: '{op.text}'")
        value = self._value(path)
        if value is None and op.text not in ("=", "!=", "<>"):
            raise malformed_query(f"invalid operator for null: {op.text}")
        return Compare(path, "!=" if op.text == "<>" else op.text, value)

    def _list(self, path: Path) -> list[Any]:
        self.expect("(")
        values = [self._value(path)]
        while self.peek() and self.peek().text == ",":  # type: ignore[union-attr]
            self.take()
            values.append(self._value(path))
        self.expect(")")
        return values

    def _value(self, path: Path) -> Any:
        tok = self.take()
        ftype = path.field.type
        word = tok.text.upper() if tok.kind == "word" else ""
        if word == "NULL":
            return None
        if ftype == "boolean":
            if word not in ("TRUE", "FALSE"):
                raise self._type_error(path, "boolean")
            return word == "TRUE"
        if ftype in ("int", "double"):
            if tok.kind != "number":
                raise self._type_error(path, ftype)
            return float(tok.text)
        if ftype in ("datetime", "date"):
            return self._temporal(tok, path)
        if tok.kind != "string":
            raise self._type_error(path, "string")
        text = "".join(c for c, _ in unescape(tok.text, like=False))
        if ftype in ("id", "reference"):
            return ids.normalise(text) or text
        return text

    def _temporal(self, tok: Token, path: Path) -> Any:
        is_dt = path.field.type == "datetime"
        if tok.kind == "datetime" and is_dt:
            return parse_datetime(tok.text)
        if tok.kind == "date" and not is_dt:
            return parse_date(tok.text)
        if tok.kind == "word":
            span = _date_literal(tok.text, self.today)
            if span:
                return span if is_dt else (span[0].date(), span[1].date())
        raise self._type_error(path, path.field.type)

    def _type_error(self, path: Path, kind: str) -> ApiError:
        return bad_request(
            "INVALID_FIELD",
            f"value of filter criterion for field '{path.text}' must be of "
            f"type {kind} and should not be enclosed in quotes",
        )

    def _order_list(self) -> list[Order]:
        out = []
        while True:
            tok = self.take()
            if tok.kind != "word":
                raise malformed_query(f"unexpected token: '{tok.text}'")
            path = self.path(tok)
            descending = False
            if self.is_word("ASC", "DESC"):
                descending = self.take().text.upper() == "DESC"
            nulls_last = descending
            if self.is_word("NULLS"):
                self.take()
                if not self.is_word("FIRST", "LAST"):
                    raise malformed_query("NULLS must be followed by FIRST or LAST")
                nulls_last = self.take().text.upper() == "LAST"
            out.append(Order(path, descending, nulls_last))
            if self.peek() and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                continue
            return out


def _date_literal(word: str, today: date) -> tuple[datetime, datetime] | None:
    """TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n as [start, end) in UTC."""
    name, _, n = word.upper().partition(":")
    start = midnight(today)
    one = timedelta(days=1)
    spans = {
        "TODAY": (start, start + one),
        "YESTERDAY": (start - one, start),
        "TOMORROW": (start + one, start + 2 * one),
    }
    if name in spans and not n:
        return spans[name]
    if name == "LAST_N_DAYS" and n:
        return (start - int(n) * one, start + one)
    if name == "NEXT_N_DAYS" and n:
        return (start, start + (int(n) + 1) * one)
    return None


def _like_regex(chars: list[tuple[str, bool]]) -> re.Pattern[str]:
    parts = []
    for char, wild in chars:
        parts.append((".*" if char == "%" else ".") if wild else re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def parse(text: str, schema: dict[str, SObject], today: date | None = None) -> Query:
    return _Parser(text, schema, today or datetime.now(UTC).date()).parse()


# -- evaluation --------------------------------------------------------------------------------
def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _cmp_value(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    return _fold(value)


def matches(cond: Any, get: Any) -> bool:
    """Evaluate a WHERE tree; `get(path)` returns a record's value for a path."""
    if isinstance(cond, BoolOp):
        if cond.op == "AND":
            return all(matches(c, get) for c in cond.items)
        if cond.op == "OR":
            return any(matches(c, get) for c in cond.items)
        return not matches(cond.items[0], get)
    value = get(cond.path)
    op, target = cond.op, cond.value
    if op == "LIKE":
        return value is not None and bool(target.fullmatch(str(value)))
    if op in ("IN", "NOTIN"):
        found = any(_equal(value, t) for t in target)
        return found if op == "IN" else not found
    if op == "=":
        return _equal(value, target)
    if op == "!=":
        return not _equal(value, target)
    if value is None or target is None:
        return False
    if isinstance(target, tuple):  # a date literal span [start, end)
        lo, hi = target
        return {"<": value < lo, "<=": value < hi, ">": value >= hi, ">=": value >= lo}[op]
    left, right = _cmp_value(value), _cmp_value(target)
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _equal(value: Any, target: Any) -> bool:
    if isinstance(target, tuple):
        return value is not None and target[0] <= value < target[1]
    if value is None or target is None:
        return value is None and target is None
    return bool(_cmp_value(value) == _cmp_value(target))


def sort_key(order: list[Order], get: Any) -> Any:
    """A key for sorted(): honours ASC/DESC and NULLS FIRST/LAST per ORDER BY item."""

    class Key:
        def __init__(self, rec: Any) -> None:
            self.values = [get(o.path, rec) for o in order]

        def __lt__(self, other: Key) -> bool:
            for o, a, b in zip(order, self.values, other.values, strict=True):
                if a is None and b is None:
                    continue
                if a is None or b is None:
                    return (a is None) != o.nulls_last
                a, b = _cmp_value(a), _cmp_value(b)
                if a == b:
                    continue
                return (a > b) if o.descending else (a < b)
            return False

    return Key
