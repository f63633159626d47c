#!/usr/bin/python3
"""File and function size check (docs/tidy.md).

Fails on every C++ file over --max-file-lines lines and every function (free function,
member function, constructor, lambda at namespace scope excluded) whose definition spans
more than --max-function-lines lines, from the first line of its head to its closing
brace, unless

  - the comment block directly above the function (no blank line between) has a line
    that starts with the marker `// Long because:` followed by a reason, or
  - the allowlist (--allow FILE) names it:
        path                      # the file may be over the line limit
        path:Qualified::Name      # the function may be over the length limit
    each entry followed by `--` and a reason. An entry that no longer matches a
    violation is an error too ("stale"), so the list only ever shrinks.

Every violation is printed as `path:line: message`. Exit status 1 if any.

Function bodies are found with a small tokenizer that understands comments, string and
character literals (raw strings included) and preprocessor lines, so braces inside them
do not count; a `{` opens a function body when it follows a parameter list `)` (and
optional qualifiers, a trailing return type or a constructor initializer list) at
namespace or class scope. Control statements (`if (...) {`) only occur inside bodies,
where braces are just counted.
"""

import argparse
import os
import re
import subprocess
import sys

MARKER = "// Long because:"
CPP_EXTENSIONS = (".cc", ".h", ".cpp", ".hpp", ".cxx", ".hh")
# Words after a parameter list's `)` that still belong to a function head.
HEAD_QUALIFIERS = {
    "const", "noexcept", "override", "final", "mutable", "volatile", "&", "&&", "->",
    "requires", "try",
}
SCOPE_KEYWORDS = {"namespace", "class", "struct", "union", "enum"}


class Token:
    __slots__ = ("text", "line")

    def __init__(self, text, line):
        self.text = text
        self.line = line


def tokenize(src):
    """Tokens of C++ source with comments, literals and preprocessor lines removed
    (a literal becomes the single token '""'). Yields Token(text, 1-based line)."""
    tokens = []
    i, n, line = 0, len(src), 1
    at_line_start = True
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
            at_line_start = True
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if c == "#" and at_line_start:  # preprocessor line, with continuations
            while i < n and src[i] != "\n":
                if src[i] == "\\" and i + 1 < n and src[i + 1] == "\n":
                    line += 1
                    i += 2
                    continue
                i += 1
            continue
        at_line_start = False
        if src.startswith("//", i):
            while i < n and src[i] != "\n":
                i += 1
            continue
        if src.startswith("/*", i):
            end = src.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += src.count("\n", i, end)
            i = end
            continue
        m = re.match(r'(?:u8|u|U|L)?R"([^()\\ ]{0,16})\(', src[i:i + 24])
        if m:  # raw string literal
            close = ")" + m.group(1) + '"'
            end = src.find(close, i + m.end())
            end = n if end < 0 else end + len(close)
            tokens.append(Token('""', line))
            line += src.count("\n", i, end)
            i = end
            continue
        if c in "\"'":
            # A quote right after a digit or letter run like 1'000'000 is a digit
            # separator, not a character literal.
            if c == "'" and i > 0 and (src[i - 1].isalnum()) and i + 1 < n and src[i + 1].isalnum():
                i += 1
                continue
            j = i + 1
            while j < n and src[j] != c:
                if src[j] == "\\":
                    j += 1
                elif src[j] == "\n":  # unterminated: stop at the line end
                    break
                j += 1
            tokens.append(Token('""', line))
            i = j + 1
            continue
        m = re.match(r"[A-Za-z_][A-Za-z_0-9]*|\d[\w.']*|::|->|&&|\|\||<<=?|>>=?|[-+*/%^&|!=<>]=|.",
                     src[i:i + 256])
        text = m.group(0)
        tokens.append(Token(text, line))
        i += len(text)
    return tokens


def head_function_name(head):
    """The (qualified) name of the function whose head is `head` (tokens from the start
    of the declaration to just before `{`), or None when the head is not a function's:
    no parameter list, an initializer (`= ...`), a lambda, a scope keyword."""
    if not head:
        return None
    texts = [t.text for t in head]
    if texts[0] in SCOPE_KEYWORDS or texts[0] in ("extern", "using", "typedef"):
        if not (texts[0] in ("class", "struct", "union", "enum") and "(" in texts and
                texts.index("(") > 1 and texts[texts.index("(") - 1] not in ("class", "struct")):
            return None
    # Strip a constructor initializer list: ") : a_(x), b_{y}" -> ")".
    depth = 0
    close_idx = None
    for k, t in enumerate(texts):
        if t in "([":
            depth += 1
        elif t in ")]":
            depth -= 1
            if depth == 0 and t == ")":
                close_idx = k
                # Stop at the first top-level ')' followed by ':' (ctor init list).
                if k + 1 < len(texts) and texts[k + 1] == ":":
                    break
        elif t == "=" and depth == 0 and (k == 0 or texts[k - 1] != "operator"):
            return None  # an initializer (a lambda or a braced value), not a body
        elif t == "{" or t == "}":
            pass
    if close_idx is None:
        return None
    # What follows the parameter list must be qualifiers, a trailing return type, a
    # ctor initializer list, or an attribute.
    rest = texts[close_idx + 1:]
    if rest and rest[0] == ":":
        pass
    else:
        k = 0
        while k < len(rest):
            t = rest[k]
            if t in HEAD_QUALIFIERS:
                if t == "->":  # trailing return type: anything up to the brace
                    break
                if t == "noexcept" and k + 1 < len(rest) and rest[k + 1] == "(":
                    d = 0
                    while k < len(rest):
                        if rest[k] == "(":
                            d += 1
                        elif rest[k] == ")":
                            d -= 1
                            if d == 0:
                                break
                        k += 1
                k += 1
                continue
            if t == "[" and k + 1 < len(rest) and rest[k + 1] == "[":  # [[attribute]]
                while k < len(rest) and rest[k] != "]":
                    k += 1
                k += 2
                continue
            return None
    # The parameter list's '(' and the name before it.
    depth = 0
    open_idx = None
    for k in range(close_idx, -1, -1):
        if texts[k] == ")":
            depth += 1
        elif texts[k] == "(":
            depth -= 1
            if depth == 0:
                open_idx = k
                break
    if open_idx is None or open_idx == 0:
        return None
    k = open_idx - 1
    if texts[k] == "]":  # a lambda: `[...](...) {`
        return None
    name = []
    # operator overloads: operator==, operator(), operator[] ...
    m = k
    while m >= 0 and texts[m] != "operator" and texts[m] not in (";", "{", "}") and open_idx - m < 4:
        m -= 1
    if m >= 0 and texts[m] == "operator":
        name = ["".join(texts[m:open_idx])]
        k = m - 1
    elif re.match(r"[A-Za-z_]\w*$", texts[k]):
        name = [texts[k]]
        k -= 1
    else:
        return None
    if name[0] in ("if", "for", "while", "switch", "catch", "return", "sizeof", "decltype",
                   "alignof", "static_assert", "assert"):
        return None
    if re.match(r"(TYPED_)?TEST(_F|_P)?$", name[0]):  # googletest: TEST_F(Suite, Name)
        return name[0] + "(" + "".join(x if x != "," else ", " for x in
                                       texts[open_idx + 1:close_idx]) + ")"
    # Qualifiers: A::B::name, ~Dtor, templates A<T>::name.
    while k >= 1 and texts[k] in ("::", "~"):
        if texts[k] == "~":
            name.insert(0, "~")
            k -= 1
            continue
        name.insert(0, "::")
        k -= 1
        if texts[k] == ">":  # skip template arguments
            d = 0
            while k >= 0:
                if texts[k] == ">":
                    d += 1
                elif texts[k] == "<":
                    d -= 1
                    if d == 0:
                        break
                k -= 1
            k -= 1
        if k >= 0 and re.match(r"[A-Za-z_]\w*$", texts[k]):
            name.insert(0, texts[k])
            k -= 1
        else:
            break
    return "".join(name)


def find_functions(src):
    """[(name, first_line, last_line)] of every function body in the source."""
    tokens = tokenize(src)
    out = []
    stack = []  # open namespace/class/struct/enum/extern scopes
    head = []  # tokens of the current declaration at scope level
    body_depth = 0  # > 0 while inside a function body: braces are only counted
    body_info = None
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if body_depth > 0:
            if t.text == "{":
                body_depth += 1
            elif t.text == "}":
                body_depth -= 1
                if body_depth == 0:
                    out.append((body_info[0], body_info[1], t.line))
                    body_info = None
                    head = []
            i += 1
            continue
        if t.text == "{":
            texts = [x.text for x in head]
            # A brace inside a constructor initializer list (`) : a_{x}, b_{`): the head
            # has a parameter list's ')' followed by ':', and the brace follows a member
            # or base name rather than the list's last ')' or '}'.
            in_ctor_init = False
            depth = 0
            for k, x in enumerate(texts):
                if x == "(":
                    depth += 1
                elif x == ")":
                    depth -= 1
                    if depth == 0 and k + 1 < len(texts) and texts[k + 1] == ":":
                        in_ctor_init = texts[-1] not in (")", "}") and \
                            head_function_name(head[:k + 1]) is not None
                        break
            name = None if in_ctor_init else head_function_name(head)
            if in_ctor_init:
                # Skip the member's braced initializer, then keep reading the head.
                d = 0
                while i < len(tokens):
                    if tokens[i].text == "{":
                        d += 1
                    elif tokens[i].text == "}":
                        d -= 1
                        if d == 0:
                            break
                    head.append(tokens[i])
                    i += 1
                head.append(tokens[i])
                i += 1
                continue
            if name is not None:
                body_depth = 1
                body_info = (name, head[0].line)
                i += 1
                continue
            is_scope = bool(texts) and (texts[0] in SCOPE_KEYWORDS or
                                        texts[0] == "extern" or
                                        (len(texts) >= 2 and texts[0] == "template" and
                                         any(x in ("class", "struct", "union") for x in texts)))
            if is_scope and "=" not in texts:
                stack.append("scope")
                head = []
                i += 1
                continue
            # An initializer or anything else: skip to the matching brace.
            d = 0
            while i < len(tokens):
                if tokens[i].text == "{":
                    d += 1
                elif tokens[i].text == "}":
                    d -= 1
                    if d == 0:
                        break
                i += 1
            head.append(Token("{}", t.line))
            i += 1
            continue
        if t.text == "}":
            if stack:
                stack.pop()
            head = []
            i += 1
            continue
        if t.text == ";":
            head = []
            i += 1
            continue
        if t.text in ("public", "private", "protected") and i + 1 < len(tokens) and \
                tokens[i + 1].text == ":":
            head = []
            i += 2
            continue
        head.append(t)
        i += 1
    return out


def has_marker(lines, first_line):
    """True when the comment block directly above line `first_line` (1-based) has a
    line starting with MARKER and a reason after it."""
    k = first_line - 2
    while k >= 0:
        s = lines[k].strip()
        if not s.startswith("//"):
            return False
        if s.startswith(MARKER) and len(s) > len(MARKER) and s[len(MARKER):].strip():
            return True
        k -= 1
    return False


def tracked_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                             capture_output=True).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []  # not a git work tree: every file but builds and downloaded wraps
        for d, dirs, names in os.walk(root):
            if d == root:
                dirs[:] = [x for x in dirs if not x.startswith((".", "build", "subprojects"))]
            for f in names:
                files.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(f for f in files if f.endswith(CPP_EXTENSIONS))


def load_allowlist(path, errors):
    """{entry: (line, reason)}; malformed lines are appended to errors."""
    allow = {}
    if not path:
        return allow
    with open(path, encoding="utf-8") as f:
        for ln, raw in enumerate(f, 1):
            s = raw.strip()
            if not s or s.startswith("#"):
                continue
            entry, sep, reason = s.partition(" -- ")
            entry = entry.strip()
            if not sep or not reason.strip():
                errors.append("%s:%d: allowlist entry without a reason (`entry -- reason`)"
                              % (path, ln))
                continue
            allow[entry] = (ln, reason.strip())
    return allow


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".", help="tree to check (a git work tree or a folder)")
    ap.add_argument("--allow", help="allowlist file")
    ap.add_argument("--exclude", action="append", default=[],
                    help="path prefix to skip (repeatable)")
    ap.add_argument("--max-file-lines", type=int, default=600)
    ap.add_argument("--max-function-lines", type=int, default=80)
    ap.add_argument("--list", action="store_true",
                    help="print every function's length (longest first) and exit")
    ap.add_argument("files", nargs="*", help="files to check (default: every tracked one)")
    args = ap.parse_args()

    errors = []
    allow = load_allowlist(args.allow, errors)
    used = set()
    files = args.files or tracked_files(args.root)
    files = [f for f in files if not any(f.startswith(p) for p in args.exclude)]
    listing = []
    for rel in files:
        path = os.path.join(args.root, rel)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                src = f.read()
        except OSError as e:
            errors.append("%s:1: cannot read: %s" % (rel, e))
            continue
        lines = src.split("\n")
        nlines = src.count("\n") + (0 if src.endswith("\n") or not src else 1)
        if nlines > args.max_file_lines:
            if rel in allow:
                used.add(rel)
            else:
                errors.append("%s:%d: file has %d lines (limit %d)"
                              % (rel, args.max_file_lines + 1, nlines, args.max_file_lines))
        for name, first, last in find_functions(src):
            length = last - first + 1
            listing.append((length, rel, first, name))
            if length <= args.max_function_lines or has_marker(lines, first):
                continue
            key = rel + ":" + name
            if key in allow:
                used.add(key)
                continue
            errors.append("%s:%d: function %s has %d lines (limit %d; or a `%s <reason>` "
                          "comment directly above it)"
                          % (rel, first, name, length, args.max_function_lines, MARKER))
    if args.list:
        for length, rel, first, name in sorted(listing, reverse=True):
            print("%5d %s:%d %s" % (length, rel, first, name))
        return 0
    checked = set(files)
    for entry, (ln, _) in sorted(allow.items()):
        path = entry.split(":", 1)[0]
        exists = os.path.exists(os.path.join(args.root, path))
        if entry not in used and (path in checked or not exists):
            errors.append("%s:%d: stale allowlist entry `%s`: it is within the limits now "
                          "(or gone); remove it" % (args.allow, ln, entry))
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # --list | head
        sys.exit(0)
