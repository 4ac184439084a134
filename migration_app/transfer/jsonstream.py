"""Reading one large JSON document a member at a time, so an import never holds the whole file in memory.

A catalog file is an object whose big members are arrays of small objects. ``JsonObjectReader`` walks
the top-level object key by key and hands over each member's value whole (``value``) or, for an array,
element by element (``array``), each decoded by the standard library's C scanner. Any valid layout is
read, whatever its whitespace or line breaks; only the order of the members is the caller's business.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TextIO, cast

_WHITESPACE = re.compile(r"[ \t\n\r]*")
READ_SIZE = 1 << 16
# A single value larger than this is refused rather than read into memory whole: in a catalog file it
# can only be damage, such as an unterminated string swallowing the rest of the file.
MAX_VALUE_CHARS = 16 << 20


class JsonStreamError(ValueError):
    """The text is not valid JSON, or not shaped as expected; ``offset`` counts characters from the start."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at character {offset:,})")
        self.offset = offset


class JsonObjectReader:
    """Iterate a JSON object's members from a text stream without decoding the whole document.

    ``members()`` yields each key; before asking for the next one the caller reads that key's value
    with ``value()`` or iterates ``array()`` to the end.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._buffer = ""
        self._pos = 0
        self._dropped = 0  # characters already discarded from the front of the buffer
        self._eof = False
        self._decoder = json.JSONDecoder()

    def members(self) -> Iterator[str]:
        """Yield the top-level object's keys in file order, then check nothing follows the object."""
        self._expect("{", "'{' opening the document")
        if self._peek() == "}":
            self._pos += 1
        else:
            while True:
                key = self.value()
                if not isinstance(key, str):
                    raise self._error("expected a member name in quotes")
                self._expect(":", "':' after a member name")
                yield key
                if self._expect(",}", "',' or '}' after a member") == "}":
                    break
        if self._peek():
            raise self._error("unexpected text after the end of the document")

    def array(self) -> Iterator[Any]:
        """Yield the elements of the array that comes next, one at a time."""
        self._expect("[", "a list ('[')")
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            yield self.value()
            if self._expect(",]", "',' or ']' after a list element") == "]":
                return

    def value(self) -> Any:
        """Decode the complete JSON value that comes next."""
        self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                # Most likely the value continues in the next chunk; if there is none, it is broken.
                if self._fill_within_limit():
                    continue
                raise JsonStreamError(exc.msg, self._dropped + exc.pos) from None
            # A number or literal that reaches the end of the buffer may go on in the next chunk.
            if end == len(self._buffer) and self._fill_within_limit():
                continue
            self._pos = end
            return value

    def _peek(self) -> str:
        """Skip whitespace and return the next character without consuming it ('' at the end)."""
        while True:
            # The pattern matches the empty string, so it matches at every position, the end included.
            self._pos = cast("re.Match[str]", _WHITESPACE.match(self._buffer, self._pos)).end()
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._fill():
                return ""

    def _expect(self, allowed: str, what: str) -> str:
        char = self._peek()
        if not char or char not in allowed:
            raise self._error(f"expected {what}")
        self._pos += 1
        return char

    def _fill(self) -> bool:
        """Read the next chunk, first discarding what has been consumed; False at the end of the stream."""
        if self._eof:
            return False
        chunk = self._stream.read(READ_SIZE)
        if not chunk:
            self._eof = True
            return False
        self._dropped += self._pos
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0
        return True

    def _fill_within_limit(self) -> bool:
        if len(self._buffer) - self._pos > MAX_VALUE_CHARS:
            raise self._error(f"a single value longer than {MAX_VALUE_CHARS:,} characters (is the file damaged?)")
        return self._fill()

    def _error(self, message: str) -> JsonStreamError:
        return JsonStreamError(message, self._dropped + self._pos)
