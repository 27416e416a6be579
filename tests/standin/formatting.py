"""Telegram's text formatting: HTML, MarkdownV2 and legacy Markdown to plain text + entities.

Why this exists: Telegram measures a message's length *after* formatting is parsed, returns the
entities it found, and rejects malformed markup with ``can't parse entities: ...``. A bot that
escapes HTML badly works against a permissive fake and fails against Telegram, so the stand-in
parses like Telegram's server (tdlib's ``parse_html`` / ``parse_markdown_v2``): same accepted
tags, same entity decoding, same error wording, offsets in bytes of UTF-8 (errors) and in UTF-16
code units (entities).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import bad_request

Entity = dict[str, Any]

# Tag -> entity type, as documented in https://core.telegram.org/bots/api#html-style
HTML_TAG_ENTITY: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
NAMED_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
ENTITY_TYPES = frozenset(
    {
        "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number",
        "bold", "italic", "underline", "strikethrough", "spoiler", "blockquote",
        "expandable_blockquote", "code", "pre", "text_link", "text_mention", "custom_emoji",
        "date_time",
    }
)  # fmt: skip
_SPACES = " \t\r\n\v\f"
_HTML_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")


class ParseError(Exception):
    """Malformed markup; the message becomes ``Bad Request: can't parse entities: <message>``."""


@dataclass(frozen=True)
class FormattedText:
    """What Telegram stores for a message: the visible text and its entities."""

    text: str
    entities: list[Entity] = field(default_factory=list)

    @property
    def length(self) -> int:
        """Length as Telegram's limits count it: characters (code points) of the visible text."""
        return len(self.text)


def utf16_len(text: str) -> int:
    """Telegram counts entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def byte_offset(source: str, index: int) -> int:
    """tdlib reports markup errors at UTF-8 byte offsets, not character indexes."""
    return len(source[:index].encode("utf-8"))


def format_text(text: str, parse_mode: str | None, entities: list[Entity] | None = None) -> FormattedText:
    """Parse ``text`` the way Telegram does for the given ``parse_mode`` or explicit entities.

    Explicit ``entities`` win over ``parse_mode`` (Telegram ignores the mode then).
    """
    if entities is not None:
        check_entities(text, entities)
        return FormattedText(text, list(entities))
    mode = (parse_mode or "").strip().lower()
    parsers = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown}
    if not mode:
        return FormattedText(text)
    if mode not in parsers:
        raise bad_request("unsupported parse_mode")
    try:
        return parsers[mode](text)
    except ParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None


def check_entities(text: str, entities: list[Entity]) -> None:
    """Explicit entities must be well-formed and lie inside the text."""
    total = utf16_len(text)
    for entity in entities:
        if not isinstance(entity, dict) or entity.get("type") not in ENTITY_TYPES:
            raise bad_request("can't parse entities: unsupported entity type")
        offset, length = entity.get("offset"), entity.get("length")
        if not isinstance(offset, int) or not isinstance(length, int):
            raise bad_request("can't parse entities: entity offset and length must be integers")
        if offset < 0 or length < 0 or offset + length > total:
            raise bad_request("can't parse entities: entity is out of the text bounds")


# ---------------------------------------------------------------------------- HTML


@dataclass
class _OpenTag:
    name: str
    start: int  # UTF-16 offset in the visible text
    byte_start: int
    argument: str = ""
    expandable: bool = False
    language: str = ""


class _Output:
    """Accumulates visible text while tracking its UTF-16 length."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.utf16 = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.utf16 += utf16_len(text)

    def text(self) -> str:
        return "".join(self.parts)


def parse_html(source: str) -> FormattedText:
    """Parse Telegram's HTML subset, raising ``ParseError`` with tdlib's wording."""
    out = _Output()
    stack: list[_OpenTag] = []
    entities: list[Entity] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "&":
            decoded = _decode_html_entity(source, i)
            if decoded is not None:
                out.add(decoded[0])
                i += decoded[1]
                continue
        if char != "<":
            out.add(char)
            i += 1
        elif i + 1 < n and source[i + 1] == "/":
            i = _close_html_tag(source, i, stack, entities, out)
        else:
            tag, i = _open_html_tag(source, i, out)
            stack.append(tag)
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return FormattedText(out.text(), _sorted(entities))


def _decode_html_entity(source: str, index: int) -> tuple[str, int] | None:
    """Decode ``&lt;`` ``&gt;`` ``&amp;`` ``&quot;`` and numeric entities; others stay literal."""
    match = _HTML_ENTITY_RE.match(source, index)
    if not match:
        return None
    body = match.group(1)
    if body.startswith("#"):
        code = int(body[2:], 16) if body[1:2] in ("x", "X") else int(body[1:])
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), match.end() - index
    named = NAMED_HTML_ENTITIES.get(body)
    return (named, match.end() - index) if named else None


def _open_html_tag(source: str, begin: int, out: _Output) -> tuple[_OpenTag, int]:
    """Read ``<name attr="value" ...>`` starting at ``begin``; return the tag and next index."""
    n = len(source)
    at = byte_offset(source, begin)
    i = begin + 1
    while i < n and source[i] not in _SPACES and source[i] != ">":
        i += 1
    if i >= n:
        raise ParseError(f"Unclosed start tag at byte offset {at}")
    name = source[begin + 1 : i].lower()
    if name not in HTML_TAG_ENTITY:
        raise ParseError(f'Unsupported start tag "{name}" at byte offset {at}')
    tag = _OpenTag(name=name, start=out.utf16, byte_start=at)
    i = _read_html_attributes(source, i, tag)
    if name == "span" and tag.argument != "tg-spoiler":
        raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
    return tag, i + 1


def _read_html_attributes(source: str, i: int, tag: _OpenTag) -> int:
    """Consume attributes up to the closing ``>``; return its index."""
    n = len(source)
    while True:
        while i < n and source[i] in _SPACES:
            i += 1
        if i >= n:
            raise ParseError(f"Unclosed start tag at byte offset {tag.byte_start}")
        if source[i] == ">":
            return i
        name_start = i
        while i < n and source[i] not in _SPACES and source[i] not in "=>":
            i += 1
        attribute = source[name_start:i].lower()
        while i < n and source[i] in _SPACES:
            i += 1
        if i < n and source[i] != "=":
            if tag.name == "blockquote" and attribute == "expandable":
                tag.expandable = True
                continue
            raise ParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag.name}" at byte offset {tag.byte_start}'
            )
        value, i = _read_html_attribute_value(source, i + 1, tag)
        _apply_html_attribute(tag, attribute, value)


def _read_html_attribute_value(source: str, i: int, tag: _OpenTag) -> tuple[str, int]:
    n = len(source)
    while i < n and source[i] in _SPACES:
        i += 1
    if i >= n:
        raise ParseError(f"Unclosed start tag at byte offset {tag.byte_start}")
    if source[i] not in "'\"":
        start = i
        while i < n and _is_name_char(source[i]):
            i += 1
        if i >= n or (source[i] not in _SPACES and source[i] != ">"):
            raise ParseError(f"Unexpected end of name token at byte offset {byte_offset(source, start)}")
        return source[start:i].lower(), i
    quote = source[i]
    end = source.find(quote, i + 1)
    if end == -1:
        raise ParseError(f"Unclosed start tag at byte offset {tag.byte_start}")
    return _decode_html_entities(source[i + 1 : end]), end + 1


def _decode_html_entities(raw: str) -> str:
    """Attribute values (an ``href``) get the same entity decoding as text."""

    def replace(match: re.Match[str]) -> str:
        decoded = _decode_html_entity(match.group(0), 0)
        return decoded[0] if decoded else match.group(0)

    return _HTML_ENTITY_RE.sub(replace, raw)


def _is_name_char(char: str) -> bool:
    """Unquoted attribute values are HTML name tokens: ASCII letters, digits, '.', '-'."""
    return (char.isascii() and char.isalnum()) or char in ".-"


def _apply_html_attribute(tag: _OpenTag, attribute: str, value: str) -> None:
    """Keep the attributes Telegram uses; it ignores all others."""
    if (tag.name, attribute) in (("a", "href"), ("span", "class")):
        tag.argument = value
    elif tag.name == "code" and attribute == "class" and value.startswith("language-"):
        tag.language = value.removeprefix("language-")
    elif tag.name == "tg-emoji" and attribute == "emoji-id":
        tag.argument = value


def _close_html_tag(
    source: str, begin: int, stack: list[_OpenTag], entities: list[Entity], out: _Output
) -> int:
    """Read ``</name>``, match it with the innermost open tag and emit its entity."""
    n = len(source)
    at = byte_offset(source, begin)
    if not stack:
        raise ParseError(f"Unexpected end tag at byte offset {at}")
    i = begin + 2
    while i < n and source[i] not in _SPACES and source[i] != ">":
        i += 1
    end_name = source[begin + 2 : i].lower()
    while i < n and source[i] in _SPACES:
        i += 1
    if i >= n or source[i] != ">":
        raise ParseError(f"Unclosed end tag at byte offset {at}")
    tag = stack.pop()
    if end_name and end_name != tag.name:
        raise ParseError(
            f'Unmatched end tag at byte offset {at}, expected "</{tag.name}>", found "</{end_name}>"'
        )
    _emit_html_entity(tag, stack, entities, out.utf16)
    return i + 1


def _emit_html_entity(tag: _OpenTag, stack: list[_OpenTag], entities: list[Entity], end: int) -> None:
    length = end - tag.start
    if length <= 0:
        return
    if tag.name == "code" and stack and stack[-1].name == "pre" and tag.language:
        stack[-1].language = tag.language  # <pre><code class="language-x"> is one pre entity
        return
    entity: Entity = {"type": HTML_TAG_ENTITY[tag.name], "offset": tag.start, "length": length}
    if tag.name == "a":
        if not tag.argument:
            return
        entity["url"] = tag.argument
    elif tag.name == "blockquote" and tag.expandable:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "pre" and tag.language:
        entity["language"] = tag.language
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.argument
    entities.append(entity)


def _sorted(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


# ----------------------------------------------------------------------- MarkdownV2

_V2_RESERVED = "_*[]()~`>#+-=|{}.!"
_V2_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough":
    "Strikethrough", "spoiler": "Spoiler", "code": "Code", "pre": "Pre", "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}  # fmt: skip


@dataclass
class _OpenV2:
    type: str
    start: int  # UTF-16 offset
    text_start: int  # index into the visible text parts
    byte_start: int
    language: str = ""


def _reserved_message(char: str) -> str:
    return f"Character '{char}' is reserved and must be escaped with the preceding '\\'"


def parse_markdown_v2(source: str) -> FormattedText:
    """Parse MarkdownV2; unescaped reserved characters are errors, as on Telegram."""
    parser = _MarkdownV2(source)
    return parser.run()


class _MarkdownV2:
    """A port of tdlib's ``parse_markdown_v2`` loop, one method per kind of token."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.out = _Output()
        self.stack: list[_OpenV2] = []
        self.entities: list[Entity] = []
        self.quote_start: int | None = None

    def at(self, index: int) -> str:
        return self.source[index] if index < len(self.source) else ""

    def run(self) -> FormattedText:
        i = 0
        while i < len(self.source):
            i = self.step(i)
        self.close_quote()
        if self.stack:
            top = self.stack[-1]
            raise ParseError(
                f"Can't find end of {_V2_NAMES[top.type]} entity at byte offset {top.byte_start}"
            )
        return FormattedText(self.out.text(), _sorted(self.entities))

    def step(self, i: int) -> int:
        char = self.source[i]
        if char == "\\" and 0 < ord(self.at(i + 1) or "\0") <= 126:
            self.out.add(self.source[i + 1])
            return i + 2
        if char == ">" and not self.stack and (i == 0 or self.source[i - 1] == "\n"):
            if self.quote_start is None:
                self.quote_start = self.out.utf16
            return i + 1
        if char == "\n" and self.quote_start is not None and self.at(i + 1) != ">":
            self.close_quote()
        in_code = bool(self.stack) and self.stack[-1].type in ("code", "pre")
        reserved = "`" if in_code else _V2_RESERVED
        if char not in reserved:
            self.out.add(char)
            return i + 1
        if self.stack and self.ends_entity(i):
            return self.close_entity(i)
        return self.open_entity(i)

    def close_quote(self) -> None:
        if self.quote_start is not None and self.out.utf16 > self.quote_start:
            self.entities.append(
                {
                    "type": "blockquote",
                    "offset": self.quote_start,
                    "length": self.out.utf16 - self.quote_start,
                }
            )
        self.quote_start = None

    def ends_entity(self, i: int) -> bool:
        char, kind = self.source[i], self.stack[-1].type
        following = self.at(i + 1)
        return {
            "bold": char == "*",
            "italic": char == "_" and following != "_",
            "underline": char == "_" and following == "_",
            "code": char == "`",
            "pre": self.source.startswith("```", i),
            "text_link": char == "]",
            "custom_emoji": char == "]",
            "strikethrough": char == "~",
            "spoiler": char == "|" and following == "|",
        }[kind]

    def open_entity(self, i: int) -> int:
        """Start the entity whose marker is at ``i``; return where its content begins."""
        char, following = self.source[i], self.at(i + 1)
        start = byte_offset(self.source, i)
        language = ""
        if char == "_":
            kind, body = ("underline", i + 2) if following == "_" else ("italic", i + 1)
        elif char in "*~[":
            kind, body = {"*": "bold", "~": "strikethrough", "[": "text_link"}[char], i + 1
        elif char == "|" and following == "|":
            kind, body = "spoiler", i + 2
        elif char == "!" and following == "[":
            kind, body = "custom_emoji", i + 2
        elif self.source.startswith("```", i):
            kind = "pre"
            body, language = self.pre_header(i + 3)
        elif char == "`":
            kind, body = "code", i + 1
        else:
            raise ParseError(_reserved_message(char))
        self.stack.append(_OpenV2(kind, self.out.utf16, len(self.out.parts), start, language=language))
        return body

    def pre_header(self, i: int) -> tuple[int, str]:
        """Skip a ```language line; return the index of the pre body and the language."""
        end = i
        while end < len(self.source) and self.source[end] not in _SPACES + "`":
            end += 1
        language = ""
        if end != i and end < len(self.source) and self.source[end] != "`":
            language, i = self.source[i:end], end
        if self.at(i) in ("\n", "\r"):
            i += 2 if self.at(i + 1) in ("\n", "\r") and self.at(i + 1) != self.at(i) else 1
        return i, language

    def close_entity(self, i: int) -> int:
        top = self.stack.pop()
        widths = {"underline": 2, "spoiler": 2, "pre": 3}
        next_index = i + widths.get(top.type, 1)
        entity: Entity = {
            "type": top.type,
            "offset": top.start,
            "length": self.out.utf16 - top.start,
        }
        if top.type in ("text_link", "custom_emoji"):
            url, next_index = self.read_url(i, top)
            key = "url" if top.type == "text_link" else "custom_emoji_id"
            entity[key] = url.removeprefix("tg://emoji?id=") if key != "url" else url
        if top.type == "pre" and top.language:
            entity["language"] = top.language
        if entity["length"] > 0:
            self.entities.append(entity)
        return next_index

    def read_url(self, i: int, top: _OpenV2) -> tuple[str, int]:
        if self.at(i + 1) != "(":
            if top.type == "custom_emoji":
                raise ParseError("Custom emoji entity must contain a tg://emoji URL")
            return "".join(self.out.parts[top.text_start :]), i + 1
        j = i + 2
        url: list[str] = []
        while j < len(self.source) and self.source[j] != ")":
            if self.source[j] == "\\" and 0 < ord(self.at(j + 1) or "\0") <= 126:
                url.append(self.source[j + 1])
                j += 2
                continue
            url.append(self.source[j])
            j += 1
        if j >= len(self.source):
            at = byte_offset(self.source, i + 2)
            raise ParseError(f"Can't find end of a URL at byte offset {at}")
        return "".join(url), j + 1


# ------------------------------------------------------------------- legacy Markdown


def parse_markdown(source: str) -> FormattedText:
    """Parse legacy Markdown (``*bold*``, ``_italic_``, `` `code` ``, ``[text](url)``)."""
    out = _Output()
    entities: list[Entity] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        i = _markdown_entity(source, i, out, entities)
    return FormattedText(out.text(), _sorted(entities))


def _markdown_entity(source: str, begin: int, out: _Output, entities: list[Entity]) -> int:
    n = len(source)
    char = source[begin]
    end_char = "]" if char == "[" else char
    is_pre = source.startswith("```", begin)
    i = begin + (3 if is_pre else 1)
    language = ""
    if is_pre:
        end = i
        while end < n and source[end] not in _SPACES + "`":
            end += 1
        if end != i and end < n and source[end] != "`":
            language, i = source[i:end], end
        if i < n and source[i] in "\r\n":
            i += 1
    start, text_start = out.utf16, len(out.parts)
    while i < n and (source[i] != end_char or (is_pre and not source.startswith("```", i))):
        out.add(source[i])
        i += 1
    if i >= n:
        raise ParseError(f"Can't find end of the entity starting at byte offset {byte_offset(source, begin)}")
    entity: Entity = {"type": "", "offset": start, "length": out.utf16 - start}
    if char == "[":
        url = "".join(out.parts[text_start:])
        if i + 1 < n and source[i + 1] == "(":
            close = source.find(")", i + 2)
            url, i = (source[i + 2 : close], close) if close != -1 else (source[i + 2 :], n - 1)
        entity.update(type="text_link", url=url)
    elif char == "`":
        entity["type"] = "pre" if is_pre else "code"
        if language:
            entity["language"] = language
    else:
        entity["type"] = "bold" if char == "*" else "italic"
    if entity["length"] > 0:
        entities.append(entity)
    return i + (3 if is_pre else 1)
