"""Typed helpers for Google Workspace add-on cards (`google.apps.card.v1`, R-33).

Each widget is a small frozen dataclass whose `json()` is the camelCase JSON of Google's card
schema; tests parse every card the add-on sends with the `google-apps-card` message types, which
refuse unknown fields. Only what calsync's sidebar uses is here. In an HTTP add-on an action's
`function` is the endpoint URL to call back (API-FACTS-2 §2.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any, Protocol

JSON = dict[str, Any]
MAX_ITEMS = 100  # selection inputs take at most 100 items


class Widget(Protocol):
    def json(self) -> JSON: ...


@dataclass(frozen=True)
class Action:
    """Call the add-on back at `function` (a URL) with these parameters."""

    function: str
    parameters: tuple[tuple[str, str], ...] = ()
    spinner: bool = True  # show Google's load indicator while the call runs

    def json(self) -> JSON:
        out: JSON = {"function": self.function}
        if self.parameters:
            out["parameters"] = [{"key": k, "value": v} for k, v in self.parameters]
        out["loadIndicator"] = "SPINNER" if self.spinner else "NONE"
        return out


@dataclass(frozen=True)
class Button:
    text: str
    action: Action | None = None
    link: str = ""  # openLink instead of an action (https only, within openLinkUrlPrefixes)
    filled: bool = False  # the primary button of a card

    def json(self) -> JSON:
        out: JSON = {"text": self.text}
        if self.link:
            out["onClick"] = {"openLink": {"url": self.link}}
        elif self.action is not None:
            out["onClick"] = {"action": self.action.json()}
        out["type"] = "FILLED" if self.filled else "OUTLINED"
        return out


def _plain(text: str) -> str:
    """Card texts are Google's simple HTML: a title or a message must not add markup."""
    return escape(text, quote=False)


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text; `html` for calsync's own markup (<b>, <i>, <br>)."""

    text: str
    html: bool = False

    def json(self) -> JSON:
        return {"textParagraph": {"text": self.text if self.html else _plain(self.text)}}


@dataclass(frozen=True)
class Labelled:
    """A decorated text: a small label above, the text, an optional line below and button
    (all plain text)."""

    text: str
    top: str = ""
    bottom: str = ""
    icon: str = ""  # a known icon name (DESCRIPTION, CLOCK, PERSON, BOOKMARK, ...)
    button: Button | None = None

    def json(self) -> JSON:
        out: JSON = {"text": _plain(self.text), "wrapText": True}
        if self.top:
            out["topLabel"] = _plain(self.top)
        if self.bottom:
            out["bottomLabel"] = _plain(self.bottom)
        if self.icon:
            out["startIcon"] = {"knownIcon": self.icon}
        if self.button is not None:
            out["button"] = self.button.json()
        return {"decoratedText": out}


@dataclass(frozen=True)
class Choice:
    text: str
    value: str
    selected: bool = False


@dataclass(frozen=True)
class Dropdown:
    name: str
    label: str
    choices: tuple[Choice, ...]

    def json(self) -> JSON:
        items = [{"text": c.text, "value": c.value, "selected": c.selected}
                 for c in self.choices[:MAX_ITEMS]]  # fmt: skip
        return {"selectionInput": {"name": self.name, "label": self.label, "type": "DROPDOWN",
                                   "items": items}}  # fmt: skip


@dataclass(frozen=True)
class TextBox:
    name: str
    label: str
    value: str = ""
    hint: str = ""

    def json(self) -> JSON:
        out: JSON = {"name": self.name, "label": self.label, "type": "SINGLE_LINE"}
        if self.value:
            out["value"] = self.value
        if self.hint:
            out["hintText"] = self.hint
        return {"textInput": out}


@dataclass(frozen=True)
class Buttons:
    buttons: tuple[Button, ...]

    def json(self) -> JSON:
        return {"buttonList": {"buttons": [b.json() for b in self.buttons]}}


@dataclass(frozen=True)
class Section:
    widgets: tuple[Widget, ...]
    header: str = ""
    collapsible: bool = False

    def json(self) -> JSON:
        out: JSON = {"widgets": [w.json() for w in self.widgets]}
        if self.header:
            out["header"] = self.header
        if self.collapsible:
            out["collapsible"] = True
            out["uncollapsibleWidgetsCount"] = 1
        return out


@dataclass(frozen=True)
class Card:
    title: str
    subtitle: str = ""
    sections: tuple[Section, ...] = field(default_factory=tuple)
    name: str = ""

    def json(self) -> JSON:
        header: JSON = {"title": self.title}
        if self.subtitle:
            header["subtitle"] = self.subtitle
        out: JSON = {"header": header, "sections": [s.json() for s in self.sections if s.widgets]}
        if self.name:
            out["name"] = self.name
        return out


# -- the answers an HTTP add-on gives (API-FACTS-2 §2.4) ------------------------------------


def show(card: Card) -> JSON:
    """The answer to a homepage or event-open trigger: this card."""
    return {"action": {"navigations": [{"pushCard": card.json()}]}}


def update(card: Card, notice: str = "") -> JSON:
    """The answer to a button's action: replace the card, with an optional notification."""
    action: JSON = {"navigations": [{"updateCard": card.json()}]}
    if notice:
        action["notification"] = {"text": notice}
    return {"renderActions": {"action": action}}


def cards_of(answer: JSON) -> Sequence[JSON]:
    """Every card in an answer (for tests that validate them against Google's schema)."""
    action = answer.get("renderActions", answer).get("action", {})
    return [card for nav in action.get("navigations", []) for card in nav.values()
            if isinstance(card, dict)]  # fmt: skip
