#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Structural checks of src/, one rule per argument. make lint runs the
first three (the default):

  layers    every #include "mod/x.h" names the file's own module or one
            that tools/layers.txt lets it use; another module's *_int.h
            is never allowed (white-box tests/unit/test_<mod>_*.c may
            include <mod>'s; fuzz/ is white-box and not checked); no
            identifier declared in a header of a module the file may not
            use appears in it, however it got there (a header that
            re-exports it); the table is sound, covers every src/<dir>,
            and README.md's "Layers" section lists it in its order.
  guards    each header is wrapped whole in its include guard: the first
            line that is not a comment is #ifndef IETD_<MOD>_<FILE>_H,
            the next is its #define, and the #endif closing it is the
            last non-blank line. Names are unique.
  reexport  a header includes a header only when it uses something
            declared there itself, not so that its users get it.

On demand (dozens of findings in today's code, in files issue 18 is
moving; enforce them once that settles):

  iwyu        a file that uses an identifier (function, type, struct
              tag, enumerator, macro) of another module includes a
              header of that module itself, not through a header that
              happens to include it (iwyu-strict: that very header).
  unused      any file's #include of a header it uses nothing of.

Identifiers are found by a small C tokenizer (comments and strings
blanked; a function counts as used where it is called, so a struct member
of the same name is none), good enough for code in this project's style.
Each finding is one line "file:line: rule: what"; the exit status is 1
when there is one. Known violations that someone is removing are listed
in TEMPORARY below, each with its reason; an entry that no longer matches
anything is itself an error, so it goes with the fix.
"""

import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
LAYERS = "tools/layers.txt"

# Temporary exceptions: (rule, file, what), "what" as in the finding
# after the rule's name up to the first ":" (a module or a header).
# Delete each line once its file is clean; the checker says when.
TEMPORARY = []

KEYWORDS = set(
    """auto break case char const continue default do double else enum
    extern float for goto if inline int long register restrict return
    short signed sizeof static struct switch typedef union unsigned void
    volatile while _Bool _Static_assert _Alignas _Alignof _Atomic
    _Noreturn _Thread_local __attribute__ __typeof__ typeof asm __asm__
    __restrict __inline __extension__ defined""".split()
)

findings = []


def finding(path, line, rule, what, detail):
    findings.append((path, line, rule, what, detail))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def strip_c(text):
    """Comments, strings and character literals become blanks; newlines
    stay, so offsets keep their line numbers."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            # An #include "x" keeps its name: it is not a string.
            line_start = text.rfind("\n", 0, i) + 1
            if c == '"' and re.match(r"\s*#\s*include\b", text[line_start:i]):
                out.append(text[i:j])
            else:
                out.append(c + " " * (j - i - 2) + c if j - i >= 2 else c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


TOKEN = re.compile(r"[A-Za-z_]\w*|->|\.\.\.|[{}()\[\];,=.*#]|\n")


def includes(code):
    """[(line, "mod/x.h")] of the quoted includes."""
    return [
        (line_of(code, m.start()), m.group(1))
        for m in re.finditer(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', code, re.M)
    ]


def module_of(path):
    return path.split("/")[1]


def header_path(path, inc):
    """The src/ path an #include names, or None (a system header)."""
    if "/" in inc:
        p = "src/" + inc
    else:
        p = os.path.join(os.path.dirname(path), inc)
    return p if os.path.exists(os.path.join(ROOT, p)) else None


# ---- declarations of a header -------------------------------------------


def declarations(code):
    """The names a header declares: functions, variables, typedefs,
    enumerators, macros, and "struct x" / "union x" / "enum x" for the
    tags it defines (forward declarations in a second set)."""
    names, fwd, funcs = set(), set(), set()
    body = []
    in_pp = False
    for ln in code.split("\n"):
        m = re.match(r"\s*#\s*define\s+(\w+)(\()?", ln)
        if m:
            names.add(m.group(1))
            if m.group(2):
                funcs.add(m.group(1))
        # Preprocessor lines (and their continuations) are not C.
        pp = in_pp or re.match(r"\s*#", ln)
        in_pp = bool(pp) and ln.rstrip().endswith("\\")
        body.append("" if pp else ln)
    src = "\n".join(body)
    toks = [t for t in TOKEN.findall(src) if t != "\n"]
    i, n = 0, len(toks)
    stmt = []
    depth = 0
    while i < n:
        t = toks[i]
        if depth == 0 and t in ("struct", "union", "enum") and i + 1 < n:
            nxt = toks[i + 1]
            if re.match(r"[A-Za-z_]\w*$", nxt) and nxt not in KEYWORDS:
                if i + 2 < n and toks[i + 2] == "{":
                    names.add(t + " " + nxt)
                elif i + 2 < n and toks[i + 2] == ";" and not stmt:
                    fwd.add(t + " " + nxt)
            if t == "enum":
                # Enumerators: the names after "{" or "," in its body.
                j = i + 1
                while j < n and toks[j] not in ("{", ";"):
                    j += 1
                if j < n and toks[j] == "{":
                    d, k = 0, j
                    prev = None
                    while k < n:
                        if toks[k] in ("{", "(", "["):
                            d += 1
                        elif toks[k] in ("}", ")", "]"):
                            d -= 1
                            if d == 0:
                                break
                        elif d == 1 and prev in ("{", ","):
                            if re.match(r"[A-Za-z_]\w*$", toks[k]):
                                names.add(toks[k])
                        prev = toks[k]
                        k += 1
        if t == "{":
            if depth == 0 and "(" in stmt and "=" not in stmt:
                # A function body (a static inline function): its name.
                declare_stmt(stmt, names, funcs)
                stmt = ["{body}"]
            depth += 1
        elif t == "}":
            depth -= 1
            if depth == 0 and stmt == ["{body}"]:
                stmt = []
        elif depth == 0:
            if t == ";":
                declare_stmt(stmt, names, funcs)
                stmt = []
            else:
                stmt.append(t)
        i += 1
    return names, fwd, funcs


def declare_stmt(stmt, names, funcs):
    """A top-level statement (with any braces removed): a typedef, a
    function prototype or a variable."""
    if not stmt or stmt == ["{body}"]:
        return
    stmt = [t for t in stmt if t != "{body}"]
    # __attribute__((...)) is no declarator.
    out = []
    k = 0
    while k < len(stmt):
        if stmt[k] == "__attribute__":
            d = 0
            k += 1
            while k < len(stmt):
                if stmt[k] == "(":
                    d += 1
                elif stmt[k] == ")":
                    d -= 1
                    if d == 0:
                        break
                k += 1
        else:
            out.append(stmt[k])
        k += 1
    stmt = out
    if not stmt or stmt[0] == "_Static_assert":
        return
    ident = lambda t: re.match(r"[A-Za-z_]\w*$", t) and t not in KEYWORDS
    if "(" in stmt:
        p = stmt.index("(")
        if p + 2 < len(stmt) and stmt[p + 1] == "*" and ident(stmt[p + 2]):
            names.add(stmt[p + 2])  # (*fn)(...): a pointer to function
        elif p > 0 and ident(stmt[p - 1]):
            names.add(stmt[p - 1])
            if stmt[0] != "typedef":
                funcs.add(stmt[p - 1])
        return
    # A variable or a typedef: the last name before "[" or "=".
    for stop in ("[", "="):
        if stop in stmt:
            stmt = stmt[: stmt.index(stop)]
    for t in reversed(stmt):
        if ident(t):
            if t in ("struct", "union", "enum"):
                return
            prev = stmt[stmt.index(t) - 1] if stmt.index(t) > 0 else ""
            if prev not in ("struct", "union", "enum"):
                names.add(t)
            return


def uses(code):
    """{name: first line} of the identifiers and "struct x" tags a file
    uses, without member names (after "." or "->") and #include lines;
    and {name: first line} of those called (followed by "(")."""
    used, called = {}, {}
    code = re.sub(r"^[ \t]*#[ \t]*include[^\n]*", "", code, flags=re.M)
    toks = []
    line = 1
    for m in TOKEN.finditer(code):
        if m.group(0) == "\n":
            line += 1
        else:
            toks.append((m.group(0), line))
    prev = None
    for k, (t, line) in enumerate(toks):
        if re.match(r"[A-Za-z_]", t) and prev not in (".", "->"):
            key = prev + " " + t if prev in ("struct", "union", "enum") else t
            used.setdefault(key, line)
            if k + 1 < len(toks) and toks[k + 1][0] == "(":
                called.setdefault(key, line)
        prev = t
    return used, called


# ---- the table ----------------------------------------------------------


def load_layers():
    order, uses_of, headers_of = [], {}, {}
    for no, raw in enumerate(read(LAYERS).split("\n"), 1):
        ln = raw.split("#", 1)[0].strip()
        if not ln:
            continue
        m = re.match(r"([a-z0-9_]+):\s*(.*)$", ln)
        if not m:
            finding(LAYERS, no, "layers", "table", 'not "module: modules"')
            continue
        mod = m.group(1)
        if mod in uses_of:
            finding(LAYERS, no, "layers", "table", mod + " listed twice")
        mods, hdrs = set(), set()
        for dep in m.group(2).split():
            dm = dep.split("/")[0]
            if dm not in uses_of:
                finding(LAYERS, no, "layers", "table",
                        "%s may use only modules above it, not %s" % (mod, dm))
            if "/" in dep:
                if header_path("src/x/x.c", dep) is None:
                    finding(LAYERS, no, "layers", "table",
                            "no such header src/" + dep)
                hdrs.add(dep)
            else:
                mods.add(dep)
        order.append(mod)
        uses_of[mod], headers_of[mod] = mods, hdrs
    return order, uses_of, headers_of


def src_files(ext=("c", "h")):
    out = []
    for d in sorted(os.listdir(os.path.join(ROOT, "src"))):
        full = os.path.join(ROOT, "src", d)
        if os.path.isdir(full):
            for f in sorted(os.listdir(full)):
                if f.rsplit(".", 1)[-1] in ext:
                    out.append("src/%s/%s" % (d, f))
    return out


class Tree:
    def __init__(self):
        self.code = {p: strip_c(read(p)) for p in src_files()}
        self.decl, self.fwd, self.funcs = {}, {}, set()
        for p in self.code:
            if p.endswith(".h"):
                self.decl[p], self.fwd[p], f = declarations(self.code[p])
                self.funcs |= f
        # name -> the headers that declare it. For the layers, a tag
        # defined somewhere belongs to where it is defined; for includes,
        # a forward declaration serves as well (an opaque pointer).
        self.owners, self.homes = {}, {}
        for h in self.decl:
            for nm in self.decl[h]:
                self.owners.setdefault(nm, set()).add(h)
                self.homes.setdefault(nm, set()).add(h)
            for nm in self.fwd[h]:
                self.owners.setdefault(nm, set()).add(h)
        for nm, hs in self.owners.items():
            self.homes.setdefault(nm, hs)
        self.incs = {p: includes(c) for p, c in self.code.items()}
        # What each file uses; a function only where it is called, so
        # that a struct member of the same name is no use of it.
        # What a file declares itself (a static function, a macro) is
        # its own even where a header has the same name.
        self.used, self.all_used = {}, {}
        for p, c in self.code.items():
            used, called = uses(c)
            self.all_used[p] = set(used)
            own = self.decl[p] if p in self.decl else declarations(c)[0]
            self.used[p] = {
                nm: ln for nm, ln in used.items()
                if (nm not in self.funcs or nm in called)
                and (p.endswith(".h") or nm not in own)
            }


def may_use(mod, uses_of, headers_of, header):
    hm = module_of(header)
    if hm == mod:
        return True
    return hm in uses_of.get(mod, ()) or header[4:] in headers_of.get(mod, ())


def check_layers(tree):
    order, uses_of, headers_of = load_layers()
    for d in sorted(os.listdir(os.path.join(ROOT, "src"))):
        if os.path.isdir(os.path.join(ROOT, "src", d)) and d not in uses_of:
            finding("src/" + d, 0, "layers", d,
                    "module missing from " + LAYERS)
    check_readme(order)
    for p, incs in tree.incs.items():
        mod = module_of(p)
        for line, inc in incs:
            h = header_path(p, inc)
            if h is None:
                continue
            hm = module_of(h)
            if hm != mod and h.endswith("_int.h"):
                finding(p, line, "layers", inc,
                        "includes %s, private to %s" % (inc, hm))
            elif not may_use(mod, uses_of, headers_of, h):
                only = sorted(x for x in headers_of.get(mod, ())
                              if x.startswith(hm + "/"))
                finding(p, line, "layers", hm,
                        'includes "%s": %s may not use %s (%s)'
                        % (inc, mod,
                           hm if not only else
                           "other headers of %s than %s" % (hm, " ".join(only)),
                           LAYERS))
    # What it uses, whoever brought it in.
    for p, used in tree.used.items():
        mod = module_of(p)
        bad = {}
        for nm, line in used.items():
            hs = tree.homes.get(nm)
            if not hs or any(may_use(mod, uses_of, headers_of, h) for h in hs):
                continue
            bad.setdefault(module_of(sorted(hs)[0]), []).append((line, nm))
        for hm, lst in sorted(bad.items()):
            lst.sort()
            finding(p, lst[0][0], "layers", hm,
                    "uses %s of %s: %s may not use %s (%s)"
                    % (", ".join(nm for _, nm in lst[:4])
                       + (", ..." if len(lst) > 4 else ""),
                       hm, mod, hm, LAYERS))
    # White-box unit tests may include their own module's *_int.h only.
    tdir = os.path.join(ROOT, "tests/unit")
    for f in sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []:
        if not f.endswith((".c", ".h")):
            continue
        p = "tests/unit/" + f
        m = re.match(r"test_([a-z0-9]+)_|([a-z0-9]+)_harness\.h$", f)
        for line, inc in includes(strip_c(read(p))):
            if inc.endswith("_int.h") and "/" in inc and (
                not m or inc.split("/")[0] not in m.groups()
            ):
                finding(p, line, "layers", inc,
                        "includes %s, private to %s"
                        % (inc, inc.split("/")[0]))


def check_readme(order):
    """README.md's "### Layers" lists src/<mod> in the table's order."""
    text = read("README.md")
    m = re.search(r"^### Layers\n(.*?)(?=^#)", text, re.M | re.S)
    if not m:
        finding("README.md", 0, "layers", "readme",
                'no "### Layers" section listing ' + LAYERS)
        return
    listed = re.findall(r"^    src/([a-z0-9_]+)", m.group(1), re.M)
    if listed != order:
        finding("README.md", line_of(text, m.start()), "layers", "readme",
                "Layers lists %s; %s says %s"
                % (" ".join(listed), LAYERS, " ".join(order)))


def guard_name(path):
    mod = module_of(path)
    base = os.path.basename(path)[:-2]
    return "IETD_%s_%s_H" % (mod.upper(), re.sub(r"\W", "_", base).upper())


def check_guards(tree):
    seen = {}
    for p in sorted(tree.code):
        if not p.endswith(".h"):
            continue
        want = guard_name(p)
        if want in seen:
            finding(p, 1, "guards", want,
                    "guard %s is also %s's" % (want, seen[want]))
        seen[want] = p
        lines = tree.code[p].split("\n")
        real = [(i + 1, ln.strip()) for i, ln in enumerate(lines) if ln.strip()]
        if len(real) < 3:
            finding(p, 1, "guards", want, "no include guard %s" % want)
            continue
        (l1, a), (l2, b) = real[0], real[1]
        if not re.match(r"#\s*ifndef\s+%s$" % want, a):
            finding(p, l1, "guards", want,
                    "the first line after the comments should be "
                    "#ifndef %s, is %s" % (want, a[:60]))
            continue
        if not re.match(r"#\s*define\s+%s$" % want, b):
            finding(p, l2, "guards", want,
                    "#define %s should follow the #ifndef" % want)
            continue
        # The #if that the first line opens closes on the last line.
        depth = 0
        for no, ln in real:
            if re.match(r"#\s*if", ln):
                depth += 1
            elif re.match(r"#\s*endif\b", ln):
                depth -= 1
                if depth == 0:
                    if no != real[-1][0]:
                        finding(p, no, "guards", want,
                                "the guard's #endif is not the last line: "
                                "line %d and after are outside %s"
                                % (real[real.index((no, ln)) + 1][0], want))
                    break
        else:
            finding(p, l1, "guards", want, "#ifndef %s is never closed" % want)


def best_header(nm, hs):
    """The header to name for nm: a public one, the one called after
    the name if there is one (struct loop: net/loop.h)."""
    bare = nm.split(" ")[-1]
    return sorted(
        hs,
        key=lambda h: (h.endswith("_int.h"),
                       not bare.startswith(os.path.basename(h)[:-2]), h),
    )[0]


def check_iwyu(tree, strict=False):
    """A file that uses what another module's header declares includes a
    header of that module itself (strict: that very header). Headers
    include only what they use."""
    for p in sorted(tree.code):
        mod = module_of(p)
        direct = set()
        for _, inc in tree.incs[p]:
            h = header_path(p, inc)
            if h:
                direct.add(h)
        direct_mods = {module_of(h) for h in direct}
        missing = {}
        for nm, line in tree.used[p].items():
            hs = tree.owners.get(nm)
            if not hs or p in hs:
                continue
            # Within a module, its headers may gather each other.
            if any(module_of(h) == mod for h in hs) or hs & direct:
                continue
            if not strict and {module_of(h) for h in hs} & direct_mods:
                continue
            missing.setdefault(best_header(nm, hs), []).append((line, nm))
        for h, lst in sorted(missing.items()):
            lst.sort()
            finding(p, lst[0][0], "iwyu", h[4:],
                    'uses %s of %s without #include "%s"'
                    % (", ".join(nm for _, nm in lst[:4])
                       + (", ..." if len(lst) > 4 else ""),
                       module_of(h) if not strict else h, h[4:]))


def check_reexport(tree, rule="reexport"):
    """A header includes a header only to use something of it itself
    (rule "unused": any file)."""
    headers_only = rule == "reexport"
    for p in sorted(tree.code):
        if headers_only and not p.endswith(".h"):
            continue
        # Defining what a header declares is using it.
        mine = tree.all_used[p]
        for line, inc in tree.incs[p]:
            h = header_path(p, inc)
            if h is None:
                continue
            if not (mine & (tree.decl[h] | tree.fwd[h])):
                finding(p, line, rule, inc,
                        'includes "%s" but uses nothing declared there: a '
                        "header includes what it needs, not what its users "
                        "need" % inc if p.endswith(".h") else
                        'includes "%s" but uses nothing declared there' % inc)


RULES = {
    "layers": check_layers,
    "guards": check_guards,
    "reexport": check_reexport,
    "iwyu": check_iwyu,
    "iwyu-strict": lambda tree: check_iwyu(tree, strict=True),
    "unused": lambda tree: check_reexport(tree, "unused"),
}


def main(argv):
    rules = argv[1:] or ["layers", "guards", "reexport"]
    for r in rules:
        if r not in RULES:
            sys.exit("usage: %s [%s]" % (argv[0], "|".join(RULES)))
    tree = Tree()
    for r in rules:
        RULES[r](tree)
    bad = 0
    matched = set()
    for path, line, rule, what, detail in sorted(findings, key=lambda f: f[:2]):
        key = (rule, path, what)
        if key in TEMPORARY:
            matched.add(key)
            continue
        print("%s:%d: %s: %s" % (path, line, rule, detail))
        bad = 1
    for key in TEMPORARY:
        if key[0] in rules and key not in matched:
            print("tools/check-source.py: %s: the temporary exception for "
                  "%s (%s) matches nothing now: delete it from TEMPORARY"
                  % (key[0], key[1], key[2]))
            bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv))
