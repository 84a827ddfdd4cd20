#!/usr/bin/env python3
"""Checks that no source file and no function in tollgate is too long.

Reads the .h/.hpp/.cpp files under protocol/, daemon/, workers/, tools/,
clients/ and examples/ and fails (exit 1) when

  - a file has more than MAX_FILE_LINES (500) lines, or
  - a function body has more than MAX_FUNCTION_LINES (80) lines, counted
    from the line of its opening brace to the line of its closing brace.

Each breach is printed as `FILE:LINE: what: N lines (limit M)`.

How functions are found (a heuristic, not a C++ parser). Comments, string
and character literals and preprocessor lines are blanked first. Then the
braces are matched, tracking parentheses. A `{` outside any parentheses
opens

  - a scope that is walked into, when the text before it (back to the
    previous `;`, `{` or `}`) names a namespace, a class, struct or union,
    or is `extern "C"`;
  - a function body, when that text has a `(` and no `=` outside
    parentheses (a constructor's member initializer list is followed up to
    its body: the braces of `member_{value}` are skipped);
  - anything else (an enum, a variable's braced initializer, an array
    table, a lambda assigned to a variable): skipped whole.

Function bodies are not walked into: lambdas and local classes count
towards their function's lines.

Tables. A function that is only data (a list of settings, a table of
fields) may be longer than 80 lines when a comment containing
`size-check: table` stands right above it (between the definition before it
and its head), e.g.

    // The settings, one row each. size-check: table
    std::vector<Setting> settings() {
      return {
        ...
      };
    }

Variables with braced initializers are never counted (they are not
functions), so they need no marker. The marker does not lift the file
limit.

Usage:
    tools/check-sizes.py [--root DIR]
Standard library only.
"""
import argparse
import os
import re
import sys

ROOTS = ("protocol", "daemon", "workers", "tools", "clients", "examples")
SOURCE_SUFFIXES = (".h", ".hpp", ".cpp", ".cc")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
TABLE_MARKER = "size-check: table"

SCOPE_RE = re.compile(r"\s*((inline\s+)?namespace|class|struct|union)\b|\s*extern\s*$")
ENUM_RE = re.compile(r"\benum\b")
# How a function's head ends once parenthesised parts are emptied (`f(`):
# after its parameters, qualifiers and annotation macros, or a trailing
# return type.
FUNCTION_TAIL_RE = re.compile(r"\((\s*(const|noexcept|override|final|mutable|volatile|try|&&?|\w+\())*\s*$"
                              r"|\(\s*[^(]*->[^(]*$")
NAME_RE = re.compile(r"(operator\s*(?:\(\)|[^\s(]+)|~?[A-Za-z_][\w:~<>,\s]*?)\s*$")


def source_files(root):
    for top in ROOTS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(SOURCE_SUFFIXES):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def in_number(text, i):
    """True when the quote at i is a digit separator (1'000'000)."""
    j = i - 1
    while j >= 0 and (text[j].isalnum() or text[j] in "'."):
        j -= 1
    return j + 1 < i and text[j + 1].isdigit() and i + 1 < len(text) and text[i + 1].isalnum()


def blank(text):
    """text with comments, literals and preprocessor lines turned into
    spaces; newlines and every offset are kept."""
    out = list(text)
    i, n = 0, len(text)
    line_start = True

    def wipe(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if line_start and c == "#":
            j = i
            while j < n and not (text[j] == "\n" and text[j - 1] != "\\"):
                j += 1
            wipe(i, j)
            i = j
            continue
        if c == "\n":
            line_start = True
            i += 1
            continue
        if not c.isspace():
            line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            wipe(i, j)
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            open_paren = text.find("(", i + 2)
            delim = text[i + 2:open_paren]
            j = text.find(")" + delim + '"', open_paren)
            j = n if j < 0 else j + len(delim) + 2
            wipe(i, j)
            i = j
        elif c == '"' or (c == "'" and not in_number(text, i)):
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            wipe(i, min(j + 1, n))
            i = j + 1
        else:
            i += 1
    return "".join(out)


def match_brace(code, i):
    """Offset just past the `}` matching the `{` at i."""
    depth = 0
    n = len(code)
    while i < n:
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def outside_parens(head):
    """head with everything inside (...) removed."""
    out, depth = [], 0
    for c in head:
        if c == "(":
            depth += 1
            if depth == 1:
                out.append("(")
        elif c == ")":
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out)


def strip_template_prefix(text):
    """text without a leading `template <...>` (its defaults hold `=`)."""
    m = re.match(r"\s*template\s*<", text)
    if not m:
        return text
    depth, k = 1, m.end()
    while k < len(text) and depth:
        depth += {"<": 1, ">": -1}.get(text[k], 0)
        k += 1
    return strip_template_prefix(text[k:])


def init_list_start(head):
    """Offset in head of a constructor's `:` initializer list, or -1."""
    depth = 0
    seen_params = False
    for k, c in enumerate(head):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                seen_params = True
        elif c == ":" and depth == 0 and seen_params:
            if head[k - 1:k] != ":" and head[k + 1:k + 2] != ":":
                return k
    return -1


def function_name(head):
    flat = " ".join(outside_parens(head).split())
    before = flat.split("(")[0]
    m = NAME_RE.search(before)
    name = m.group(1).split()[-1] if m and m.group(1).split() else before.strip()
    return name or "?"


class Scanner:
    def __init__(self, text):
        self.text = text
        self.code = blank(text)
        self.functions = []  # (head_offset, open_offset, close_offset, name, table)

    def line_of(self, offset):
        return self.text.count("\n", 0, offset) + 1

    def scan(self, start, end):
        """Walks a namespace or class body between start and end."""
        code = self.code
        head_start = start
        i, paren = start, 0
        while i < end:
            c = code[i]
            if c == "(":
                paren += 1
            elif c == ")":
                paren -= 1
            elif c == "{" and paren > 0:
                i = match_brace(code, i)
                continue
            elif c in ";}" and paren == 0:
                head_start = i + 1
            elif c == "{":
                i = self.open_brace(head_start, i)
                head_start = i
                continue
            i += 1

    def open_brace(self, head_start, i):
        """Handles the `{` at i; returns the offset to go on from."""
        code = self.code
        head = code[head_start:i]
        bare = outside_parens(head).strip()
        close = match_brace(code, i)
        if ENUM_RE.search(bare):
            return close
        declarator = strip_template_prefix(bare)
        if SCOPE_RE.match(declarator):
            self.scan(i + 1, close - 1)
            return close
        if "(" not in declarator or "=" in declarator.split("(")[0] and "operator" not in declarator:
            return close
        if init_list_start(head) >= 0:
            if re.search(r"[\w>]\s*$", head):
                # `member_{value}` inside an initializer list: skip it and
                # keep reading the list up to the body.
                return self.follow_init_list(head_start, close)
        elif not FUNCTION_TAIL_RE.search(declarator):
            return close  # e.g. `std::function<void()> member_{...}`
        self.add_function(head_start, i, close)
        return close

    def follow_init_list(self, head_start, i):
        code = self.code
        n = len(code)
        paren = 0
        while i < n:
            c = code[i]
            if c == "(":
                paren += 1
            elif c == ")":
                paren -= 1
            elif c == "{" and paren == 0:
                if re.search(r"[\w>]\s*$", code[head_start:i]):
                    i = match_brace(code, i)
                    continue
                close = match_brace(code, i)
                self.add_function(head_start, i, close)
                return close
            elif c == ";" and paren == 0:
                return i + 1
            i += 1
        return n

    def add_function(self, head_start, open_offset, close):
        head = self.code[head_start:open_offset]
        lead = self.text[head_start:open_offset]
        table = TABLE_MARKER in lead
        first = head_start + (len(head) - len(head.lstrip()))
        self.functions.append((first, open_offset, close, function_name(head), table))


def check_file(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        text = f.read()
    breaches = []
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if lines > MAX_FILE_LINES:
        breaches.append(f"{rel}:1: file: {lines} lines (limit {MAX_FILE_LINES})")
    scanner = Scanner(text)
    scanner.scan(0, len(scanner.code))
    for first, open_offset, close, name, table in scanner.functions:
        length = scanner.line_of(close - 1) - scanner.line_of(open_offset) + 1
        if length > MAX_FUNCTION_LINES and not table:
            breaches.append(f"{rel}:{scanner.line_of(first)}: function {name}: "
                            f"{length} lines (limit {MAX_FUNCTION_LINES})")
    return breaches, len(scanner.functions)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--root", default=default_root, help="source root")
    parser.add_argument("files", nargs="*", help="check only these (relative to --root)")
    args = parser.parse_args(argv)
    files = args.files or list(source_files(args.root))
    breaches, functions = [], 0
    for rel in files:
        found, count = check_file(args.root, rel)
        breaches += found
        functions += count
    for line in breaches:
        print(line)
    if breaches:
        print(f"check-sizes: {len(breaches)} breach(es)", file=sys.stderr)
        return 1
    print(f"check-sizes: {len(files)} files and {functions} functions: no file over "
          f"{MAX_FILE_LINES} lines, no function over {MAX_FUNCTION_LINES}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
