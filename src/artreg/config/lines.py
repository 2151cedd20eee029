"""Where each key of a TOML document starts, for ``file:line`` messages."""

from __future__ import annotations

import contextlib

from artreg.config.values import KeyPath


class Locator:
    """Where each key and array element of a TOML document starts (tomllib gives no lines).

    A lenient scanner run on text tomllib already accepted: it tracks table headers
    (``[a.b]``, the n-th ``[[artifacts]]``), dotted keys, inline tables and arrays.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[KeyPath, int] = {}
        self._implicit: set[KeyPath] = set()
        self._aot: dict[KeyPath, int] = {}
        self._text = text
        self._pos = 0
        self._line = 1
        with contextlib.suppress(IndexError, ValueError):  # best effort: lines are a courtesy
            self._document()

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, else of its nearest located ancestor."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def _mark(self, path: KeyPath, line: int, *, explicit: bool) -> None:
        if explicit:
            if path not in self.lines or path in self._implicit:
                self.lines[path] = line
                self._implicit.discard(path)
        elif path not in self.lines:
            self.lines[path] = line
            self._implicit.add(path)

    def _peek(self, ahead: int = 0) -> str:
        index = self._pos + ahead
        return self._text[index] if index < len(self._text) else ""

    def _advance(self, count: int = 1) -> None:
        chunk = self._text[self._pos : self._pos + count]
        self._line += chunk.count("\n")
        self._pos += count

    def _skip_blank(self, *, newlines: bool) -> None:
        while True:
            char = self._peek()
            if char in (" ", "\t", "\r") or (newlines and char == "\n"):
                self._advance()
            elif char == "#":
                while self._peek() not in ("\n", ""):
                    self._advance()
            else:
                return

    def _document(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self._peek() == "":
                return
            line = self._line
            if self._peek() == "[":
                array = self._peek(1) == "["
                self._advance(2 if array else 1)
                table = self._header(self._key(), line, array=array)
                self._advance(2 if array else 1)
            else:
                keys = self._key()
                self._dotted(table, keys, line)
                self._skip_blank(newlines=False)
                self._advance()  # '='
                self._value((*table, *keys))

    def _header(self, keys: list[str], line: int, *, array: bool) -> KeyPath:
        path: KeyPath = ()
        for index, key in enumerate(keys):
            path = (*path, key)
            if index == len(keys) - 1:
                if array:
                    count = self._aot.get(path, 0)
                    self._aot[path] = count + 1
                    self._mark(path, line, explicit=False)
                    path = (*path, count)
                self._mark(path, line, explicit=True)
            elif path in self._aot:
                path = (*path, self._aot[path] - 1)
            else:
                self._mark(path, line, explicit=False)
        return path

    def _dotted(self, table: KeyPath, keys: list[str], line: int) -> None:
        for end in range(1, len(keys)):
            self._mark((*table, *keys[:end]), line, explicit=False)
        self._mark((*table, *keys), line, explicit=True)

    def _key(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            char = self._peek()
            if char in ('"', "'"):
                keys.append(self._string())
            else:
                start = self._pos
                while self._peek() and (self._peek().isalnum() or self._peek() in "_-"):
                    self._advance()
                if self._pos == start:
                    raise ValueError("expected a key")
                keys.append(self._text[start : self._pos])
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return keys
            self._advance()

    def _string(self) -> str:
        quote = self._peek()
        if self._text.startswith(quote * 3, self._pos):
            self._advance(3)
            end = self._text.index(quote * 3, self._pos)
            while self._text.startswith(quote, end + 3):  # up to two quotes may end the body
                end += 1
            value = self._text[self._pos : end]
            self._advance(end + 3 - self._pos)
            return value
        self._advance()
        chars: list[str] = []
        while (char := self._peek()) != quote:
            if char in ("", "\n"):
                raise ValueError("unterminated string")
            if char == "\\" and quote == '"':
                self._advance()
                char = self._peek()
            chars.append(char)
            self._advance()
        self._advance()
        return "".join(chars)

    def _value(self, path: KeyPath) -> None:
        self._skip_blank(newlines=False)
        char = self._peek()
        if char in ('"', "'"):
            self._string()
        elif char == "{":
            self._advance()
            while True:
                self._skip_blank(newlines=True)
                if self._peek() == "}":
                    self._advance()
                    return
                if self._peek() == ",":
                    self._advance()
                    continue
                line = self._line
                keys = self._key()
                self._dotted(path, keys, line)
                self._skip_blank(newlines=False)
                self._advance()  # '='
                self._value((*path, *keys))
        elif char == "[":
            self._advance()
            index = 0
            while True:
                self._skip_blank(newlines=True)
                if self._peek() == "]":
                    self._advance()
                    return
                if self._peek() == ",":
                    self._advance()
                    index += 1
                    continue
                self._mark((*path, index), self._line, explicit=True)
                self._value((*path, index))
        else:
            while self._peek() not in (",", "]", "}", "\n", "#", ""):
                self._advance()
