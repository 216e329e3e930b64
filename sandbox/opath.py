"""A small OPATH filter evaluator (`-eq`, `-ne`, `-like`, `-and`, `-or`, `-not`, parentheses) for -Filter."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<paren>[()])
      | (?P<op>-(?:eq|ne|like|and|or|not))\b
      | '(?P<squoted>(?:[^']|'')*)'
      | "(?P<dquoted>[^"]*)"
      | \$(?P<const>true|false|null)\b
      | (?P<word>[A-Za-z_][\w.]*)
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_CONSTANTS = {"true": True, "false": False, "null": None}


class FilterError(ValueError):
    """The filter text is not valid OPATH, or names a property the objects do not have."""


def compile_filter(text: str, properties: Collection[str]) -> Predicate:
    """A predicate over objects (dicts) for `text`; property and string matches are case-insensitive.

    `properties` are the names the cmdlet accepts; an object without one of them reads as $null.
    """
    tokens = _tokenize(text)
    parser = _Parser(tokens, {p.lower(): p for p in properties})
    predicate = parser.expression()
    if parser.pos != len(tokens):
        raise FilterError(f"Invalid filter syntax: unexpected '{tokens[parser.pos][1]}' in \"{text}\".")
    return predicate


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f'Invalid filter syntax near position {pos} in "{text}".')
        pos = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "squoted":
            tokens.append(("value", value.replace("''", "'")))
        elif kind == "dquoted":
            tokens.append(("value", value))
        elif kind == "const":
            tokens.append(("value", _CONSTANTS[value.lower()]))
        elif kind == "op":
            tokens.append(("op", value.lower()))
        else:
            tokens.append((kind, value))
    return tokens


def _normal(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    return value.casefold() if isinstance(value, str) else value


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], properties: dict[str, str]) -> None:
        self.tokens = tokens
        self.properties = properties
        self.pos = 0

    def _peek(self) -> tuple[str, Any]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", None)

    def _take(self, kind: str, value: Any = None) -> Any:
        token = self._peek()
        if token[0] != kind or (value is not None and token[1] != value):
            raise FilterError(
                f"Invalid filter syntax: expected {value or kind}, found '{token[1] or 'end of filter'}'."
            )
        self.pos += 1
        return token[1]

    def expression(self) -> Predicate:
        terms = [self._conjunction()]
        while self._peek() == ("op", "-or"):
            self.pos += 1
            terms.append(self._conjunction())
        return terms[0] if len(terms) == 1 else lambda obj: any(t(obj) for t in terms)

    def _conjunction(self) -> Predicate:
        factors = [self._factor()]
        while self._peek() == ("op", "-and"):
            self.pos += 1
            factors.append(self._factor())
        return factors[0] if len(factors) == 1 else lambda obj: all(f(obj) for f in factors)

    def _factor(self) -> Predicate:
        if self._peek() == ("op", "-not"):
            self.pos += 1
            inner = self._factor()
            return lambda obj: not inner(obj)
        if self._peek() == ("paren", "("):
            self.pos += 1
            inner = self.expression()
            self._take("paren", ")")
            return inner
        return self._comparison()

    def _comparison(self) -> Predicate:
        name = self._take("word")
        prop = self.properties.get(name.lower())
        if prop is None:
            # Exchange's wording, e.g. '"SharePointSiteUrl" is not a recognized filterable property.'
            valid = ", ".join(sorted(self.properties.values(), key=str.lower))
            raise FilterError(f'"{name}" is not a recognized filterable property. Valid property names are: {valid}')
        op = self._take("op")
        if op not in ("-eq", "-ne", "-like"):
            raise FilterError(f"Invalid filter syntax: '{op}' is not a comparison operator.")
        expected = _normal(self._take("value"))
        if op == "-like":
            pattern = str(expected)
            return lambda obj: fnmatch.fnmatchcase(str(_normal(obj.get(prop))), pattern)
        if op == "-ne":
            return lambda obj: _normal(obj.get(prop)) != expected
        return lambda obj: _normal(obj.get(prop)) == expected
