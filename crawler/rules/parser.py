"""Parse query text (grammar in `query.lark`) into the node tree of `nodes.py`.

Every mistake becomes a `RulesSyntaxError` carrying the offset, line and column
in the query text and a sentence saying what was expected, so `load_topics` can
re-anchor it to the line of the TOML file and show it with a caret.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from crawler.rules.index import FIELDS
from crawler.rules.nodes import (
    DEFAULT_FIELDS,
    And,
    AtLeast,
    Count,
    Named,
    Near,
    Node,
    Not,
    Or,
    Term,
    Word,
)
from crawler.rules.text import HYPHENS, fast_tokens, word_tokens
from crawler.settings import MAX_NESTING, ConfigError, query_too_deep

__all__ = ["RulesSyntaxError", "format_error", "parse_query"]

MAX_DISTANCE = 1000
MIN_PREFIX = 3


class RulesSyntaxError(ConfigError):
    """A query that cannot be compiled; knows where (offset/line/column in the query) and why."""

    def __init__(self, message: str, text: str, offset: int, *, file: str | None = None) -> None:
        self.message = message
        self.text = text
        self.offset = max(0, min(offset, len(text)))
        self.line = text.count("\n", 0, self.offset) + 1
        self.column = self.offset - (text.rfind("\n", 0, self.offset) + 1) + 1
        self.file = file
        super().__init__([format_error(file or "<query>", text, self.offset, message)])


def format_error(where: str, text: str, offset: int, message: str, *, line_no: int | None = None,
                 col_no: int | None = None) -> str:
    """`where:line:col: message` followed by the offending line and a caret under the column."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end
    src = text[line_start:line_end].replace("\t", " ")
    col = offset - line_start
    line = line_no if line_no is not None else text.count("\n", 0, offset) + 1
    column = col_no if col_no is not None else col + 1
    return f"{where}:{line}:{column}: {message}\n    {src}\n    {' ' * col}^"


_NAMES = {
    "WORD": "a term", "PHRASE": 'a "phrase"', "CASED": "a {CaseSensitive} term",
    "LPAR": "'('", "RPAR": "')'", "COMMA": "','", "AND": "AND", "OR": "OR", "NOT": "NOT",
    "PROXOP": "NEAR/n, NEAR/s or ONEAR/n", "FIELD": "a field such as title:", "ATLEAST": "ATLEAST(",
    "COUNT": "COUNT(", "GE": "'>='", "$END": "the end of the query",
}
_OPERAND = {"WORD", "PHRASE", "CASED", "LPAR", "NOT", "FIELD", "ATLEAST", "COUNT"}


def _expected(names: set[str]) -> str:
    names = {n for n in names if n in _NAMES}
    parts: list[str] = []
    if _OPERAND & names:
        parts.append('a term, a "phrase", NOT, a field: or \'(\'')
        names -= _OPERAND
    order = ["AND", "OR", "PROXOP", "COMMA", "RPAR", "GE", "$END"]
    parts += [_NAMES[n] for n in order if n in names]
    if not parts:
        return "something else"
    return ", ".join(parts[:-1]) + (" or " if len(parts) > 1 else "") + parts[-1]


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = (Path(__file__).with_name("query.lark")).read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="basic", maybe_placeholders=False)


def _lark_error(text: str, exc: UnexpectedInput) -> RulesSyntaxError:
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        if ch in "\"“":
            return RulesSyntaxError("this phrase has no closing quote", text, exc.pos_in_stream)
        if ch == "{":
            return RulesSyntaxError("this {case-sensitive} term has no closing '}'", text, exc.pos_in_stream)
        if ch == ":":
            return RulesSyntaxError("':' must follow a field name such as title: or body:", text,
                                    exc.pos_in_stream)
        return RulesSyntaxError(f"unexpected character {ch!r}", text, exc.pos_in_stream)
    if isinstance(exc, UnexpectedEOF):
        return RulesSyntaxError(f"the query ends too early: expected {_expected(set(exc.expected))}",
                                text, len(text.rstrip()))
    if isinstance(exc, UnexpectedToken):
        tok: Token = exc.token
        expected = set(exc.expected)
        pos0 = tok.start_pos if tok.start_pos is not None else len(text)
        if _depth(text[:pos0]) == 0:
            expected -= {"RPAR", "COMMA"}  # LALR merges states: do not suggest ')' outside parentheses
        pos = tok.start_pos if tok.start_pos is not None else len(text)
        if tok.type == "$END":
            return RulesSyntaxError(f"the query ends too early: expected {_expected(expected)}",
                                    text, len(text.rstrip()))
        what = {"WORD": f"term {tok.value!r}", "PHRASE": f"phrase {tok.value}", "RPAR": "')'",
                "LPAR": "'('"}.get(tok.type, repr(str(tok.value)))
        msg = f"unexpected {what}: expected {_expected(expected)}"
        if tok.type in ("WORD", "PHRASE", "CASED", "LPAR") and "AND" in expected:
            if tok.type == "WORD" and tok.value.lower() in ("and", "or", "not"):
                msg += f" (operators are written in capitals: {tok.value.upper()})"
            elif tok.type == "WORD" and tok.value.upper().split("/", 1)[0] in ("NEAR", "ONEAR"):
                msg += (" (proximity needs a distance in words, a unit or both: NEAR/5, NEAR/s for "
                        "one sentence, NEAR/p for one paragraph, NEAR/20s)")
            else:
                msg += ' (put words that belong together in quotes: "secret talks")'
        elif tok.type == "NOT" and "AND" in expected:
            msg += " (write 'a AND NOT b')"
        return RulesSyntaxError(msg, text, pos)
    return RulesSyntaxError(str(exc), text, 0)  # pragma: no cover


def _depth(prefix: str) -> int:
    """Parenthesis depth at the end of `prefix`, ignoring quoted phrases (good enough for hints)."""
    depth, quoted = 0, False
    for ch in prefix:
        if ch in "\"“”":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
    return depth


def _chunk_words(chunk: str, cased: bool, pos: int) -> list[list[Word]]:
    """Variants of one space-free chunk: `back-channel` gives [back, channel] and [backchannel]."""
    prefix = chunk.endswith("*")
    body = chunk[:-1] if prefix else chunk
    if "*" in body:
        raise _TermError("a * wildcard can only end a word (negotiat*)", pos + body.index("*"))
    for h in HYPHENS:
        body = body.replace(h, "-")
    parts = [p for p in body.split("-")]
    tokens = [word_tokens(p) for p in parts]
    cased_tokens = [word_tokens_cased(p) for p in parts] if cased else None
    if cased_tokens is not None and [len(c) for c in cased_tokens] != [len(t) for t in tokens]:
        cased_tokens = None  # folding changed word boundaries (never in practice): match case-blind
    flat = [t for ts in tokens for t in ts]
    if not flat:
        return []

    def words(tok_lists: list[list[str]], cased_lists: list[list[str]] | None) -> list[Word]:
        out: list[Word] = []
        for i, ts in enumerate(tok_lists):
            for j, t in enumerate(ts):
                c = cased_lists[i][j] if cased_lists is not None else None
                out.append(Word(t, False, c))
        if prefix:
            last = out[-1]
            out[-1] = Word(last.text, True, last.cased)
        return out

    split = [ts for ts in tokens if ts]
    split_c = [cs for cs, ts in zip(cased_tokens, tokens, strict=True) if ts] if cased_tokens else None
    variants = [words(split, split_c)]
    if len(split) > 1 and len(parts) > 1:
        # Closed compound: join the last word of each part with the first of the next.
        joined: list[str] = list(split[0])
        joined_c: list[str] | None = list(split_c[0]) if split_c else None
        for k in range(1, len(split)):
            joined[-1] += split[k][0]
            joined.extend(split[k][1:])
            if joined_c is not None and split_c is not None:
                joined_c[-1] += split_c[k][0]
                joined_c.extend(split_c[k][1:])
        variants.append(words([joined], [joined_c] if joined_c is not None else None))
    return [v for v in variants if v]


def word_tokens_cased(text: str) -> list[str]:
    """Rule words without folding (for `{RAW}`): same boundaries as `word_tokens`."""
    return fast_tokens(text, fold=False)


def _term(raw: str, kind: str, text: str, pos: int) -> Term:
    """Compile a term token (word, "phrase" or {Cased}) into its spelling variants."""
    try:
        variants = _variants(raw, kind)
    except _TermError as exc:
        raise RulesSyntaxError(exc.message, text, pos + exc.offset) from None
    return Term(surface=raw, variants=variants)


class _TermError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        self.message, self.offset = message, offset


@lru_cache(maxsize=8192)
def _variants(raw: str, kind: str) -> tuple[tuple[Word, ...], ...]:
    """Spelling variants of a term (cached: topics repeat their vocabulary groups)."""
    pos = 0
    if kind == "phrase":
        content, cased = raw[1:-1], False
    elif kind == "cased":
        content, cased = raw[1:-1].strip(), True
        if len(content) >= 2 and content[0] in "\"“" and content[-1] in "\"”":
            content = content[1:-1]
    else:
        content, cased = raw, False
    chunk_variants: list[list[list[Word]]] = []
    offset = 1 if kind != "word" else 0
    for chunk in content.split():
        vs = _chunk_words(chunk, cased, pos + offset + content.find(chunk))
        if vs:
            chunk_variants.append(vs)
    if not chunk_variants:
        raise _TermError(f"{raw} can never match: a term needs at least one letter or digit", 0)
    variants: list[tuple[Word, ...]] = []
    for combo in itertools.islice(itertools.product(*chunk_variants), 64):
        variants.append(tuple(w for part in combo for w in part))
    for v in variants:
        for w in v:
            if w.prefix and len(w.text) < MIN_PREFIX:
                raise _TermError(
                    f"wildcard {raw} is too short: give at least {MIN_PREFIX} letters before *", 0)
    return tuple(dict.fromkeys(variants))


class _Builder:
    """Turns the lark tree into nodes, applying field scopes and checking what grammar cannot."""

    def __init__(self, text: str, lists: Mapping[str, tuple[str, Tree]] | None = None,
                 expanding: tuple[str, ...] = (), built: dict[tuple[str, ...], Node] | None = None,
                 ) -> None:
        self.text = text
        self.lists = lists or {}
        self.expanding = expanding
        """Names of the lists being built around this one (a list may not use itself)."""
        self.built = {} if built is None else built
        """Each term and list already built, by its text (or name) and fields: a topic names
        its lists hundreds of times and repeats words across them, and one shared node each
        keeps the rule set small (nodes are never changed after building, so sharing one is
        the same as building it again)."""

    def err(self, msg: str, where: Any) -> RulesSyntaxError:
        if isinstance(where, Tree):  # positions are not propagated (it costs a third of parsing)
            where = next((tok for tok in where.scan_values(lambda v: isinstance(v, Token))), None)
        pos = where.start_pos if isinstance(where, Token) else 0
        return RulesSyntaxError(msg, self.text, pos or 0)

    def build(self, t: Tree | Token, fields: tuple[str, ...]) -> Node:
        if isinstance(t, Token):  # pragma: no cover - grammar wraps every token
            raise self.err("unexpected token", t)
        kind = t.data
        if kind == "start":
            return self.build(t.children[0], fields)
        if kind == "chain":
            kids = t.children
            operands = [self.build(c, fields) for c in kids[0::2]]
            ops: list[Token] = list(kids[1::2])  # type: ignore[arg-type]
            if not ops:
                return operands[0]
            first = ops[0].type
            for op in ops[1:]:
                if op.type != first:
                    raise self.err(
                        f"{op.value} after {first} at the same level: AND and OR cannot be mixed "
                        "without parentheses; write (a AND b) OR c or a AND (b OR c)", op)
            return And(operands) if first == "AND" else Or(operands)
        if kind == "prox":
            kids = t.children
            node = self.build(kids[0], fields)
            for op, right_t in zip(kids[1::2], kids[2::2], strict=True):
                right = self.build(right_t, fields)
                assert isinstance(op, Token)
                ordered = op.value.startswith("O")
                spec = op.value.split("/", 1)[1]
                within = spec[-1] if spec[-1] in "sp" else ""
                digits = spec.rstrip("sp")
                n = int(digits) if digits else None
                if n is not None and n > MAX_DISTANCE:
                    raise self.err(f"{op.value}: the distance must be at most {MAX_DISTANCE} words", op)
                for side, st in ((node, kids[0]), (right, right_t)):
                    if not side.positional:
                        raise self.err(
                            f"{op.value} needs terms, phrases, OR-groups or other NEARs on both sides "
                            f"(not AND, NOT, ATLEAST or COUNT): {side}", st)
                node = Near(node, right, n, ordered, within)
            return node
        if kind == "negation":
            return Not(self.build(t.children[1], fields))
        if kind == "scoped":
            ftok, atom = t.children
            assert isinstance(ftok, Token)
            name = ftok.value[:-1].lower()
            if name not in FIELDS:
                raise self.err(f"unknown field {ftok.value!r}: expected one of "
                               + ", ".join(f + ":" for f in FIELDS), ftok)
            return self.build(atom, (name,))
        if kind in ("word", "phrase", "cased"):
            tok = t.children[0]
            assert isinstance(tok, Token)
            key = (kind, tok.value, *fields)
            term = self.built.get(key)
            if term is None:
                term = _term(tok.value, kind, self.text, tok.start_pos or 0)
                term.fields = fields
                self.built[key] = term
            return term
        if kind == "ref":
            tok = t.children[0]
            assert isinstance(tok, Token)
            name = tok.value[1:]
            if name not in self.lists:
                known = ", ".join("@" + n for n in self.lists) or "none: define them in a [terms] table"
                raise self.err(f"unknown term list {tok.value} (term lists: {known})", tok)
            if name in self.expanding:
                raise self.err(f"term list {tok.value} uses itself (through "
                               + " → ".join("@" + n for n in (*self.expanding, name)) + ")", tok)
            key = ("ref", name, *fields)
            named = self.built.get(key)
            if named is None:
                list_text, tree = self.lists[name]
                # Build the list's own tree in its own text, under the fields in force here.
                inner = _Builder(list_text, self.lists, (*self.expanding, name), self.built)
                named = self.built[key] = Named(name, inner.build(tree, fields))
            return named
        if kind == "atleast":
            ntok = t.children[1]
            assert isinstance(ntok, Token)
            if not ntok.value.isdigit():
                raise self.err(f"ATLEAST needs a number first: ATLEAST(2, a, b, c), not {ntok.value!r}", ntok)
            n = int(ntok.value)
            kids = [self.build(c, fields) for c in t.children[2:]]
            if not 1 <= n <= len(kids):
                raise self.err(f"ATLEAST({n}, …) with {len(kids)} clause(s): n must be between 1 and "
                               f"{len(kids)}", ntok)
            return AtLeast(n, kids)
        if kind == "count":
            child_t, ntok = t.children[1], t.children[3]
            assert isinstance(ntok, Token)
            child = self.build(child_t, fields)
            unit = ntok.value[-1] if ntok.value[-1:] in ("s", "p") else ""
            digits = ntok.value[:-1] if unit else ntok.value
            if not digits.isdigit() or int(digits) < 1:
                raise self.err("COUNT(…) >= needs a whole number of at least 1, or of sentences "
                               f"(2s) or paragraphs (2p), not {ntok.value!r}", ntok)
            if not child.positional:
                raise self.err("COUNT counts terms, phrases, OR-groups or NEARs (not AND, NOT, "
                               f"ATLEAST): {child}", child_t)
            return Count(child, int(digits), unit)
        raise self.err(f"unsupported construct {kind}", t)  # pragma: no cover


def parse_tree(text: str) -> Tree:
    """The syntax tree of a query (syntax errors only: names and terms are checked on building)."""
    if not text.strip() or not _strip_comments(text).strip():
        raise RulesSyntaxError("the query is empty", text, 0)
    if (deep := query_too_deep(text)) is not None:  # the parser and matcher recurse per level
        raise RulesSyntaxError(f"the query nests more than {MAX_NESTING} levels deep", text, deep)
    try:
        return _parser().parse(text)
    except UnexpectedInput as exc:
        raise _lark_error(text, exc) from None


def parse_query(text: str, lists: Mapping[str, tuple[str, Tree]] | None = None) -> Node:
    """Compile query text to a node tree, or raise `RulesSyntaxError`.

    `lists` maps a term list's name to its text and syntax tree (see `parse_tree`),
    for `@name` references.
    """
    return _Builder(text, lists).build(parse_tree(text), DEFAULT_FIELDS)


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] if line.lstrip().startswith("#") else line
                     for line in text.splitlines())
