#!/usr/bin/env python3
"""Turn one of docs/*.md into scdoc text for a manual page (issue 14).

Usage: man-from-markdown.py PAGE.scd.in DOC.md OUT.scd

PAGE.scd.in is an scdoc page with a line @BODY@ where DOC.md goes, so that
a reference kept in docs/ (docs/configuration.md for estd.conf(5)) is
written once and read in both places. DOC.md may use what docs/ uses:
headings, paragraphs, "- " lists, ``` blocks, tables (key | default |
meaning: each row becomes a tagged paragraph), `code`, **bold** and
[links](target). Its first heading is the page's own title and is left out;
"##" becomes a section, "###" a subsection.
"""
import re
import sys


def escape(text):
    """scdoc's own characters, for text that is not markup."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def inline(text):
    """Markdown inline markup to scdoc: code and bold become bold, links their text."""
    out = []
    pos = 0
    pattern = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)]+)\)")
    for m in pattern.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append("*" + escape(m.group(1)) + "*")
        elif m.group(2) is not None:
            out.append("*" + escape(m.group(2)) + "*")
        else:
            label, target = m.group(3), m.group(4)
            if target.endswith(".md") and label == target:
                out.append(escape("docs/" + target))
            else:
                out.append(inline(label))
                if target.endswith(".md"):
                    out.append(" (" + escape("docs/" + target) + ")")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def text_line(text):
    """A line of running text; a leading [ would start an scdoc table."""
    return "\\" + text if text.startswith("[") else text


def special(line):
    """Whether a line starts something other than running text."""
    return line.startswith(("```", "#", "|", "- "))


def table_row(line):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return cells


def convert(md):
    lines = md.splitlines()
    out = []
    i = 0
    seen_title = False
    header = None
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            out.append("```")
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                out.append(lines[i])
                i += 1
            out.append("```")
            i += 1
            continue
        if line.startswith("    ") and (not out or out[-1] == ""):
            out.append("```")
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                if not lines[i].strip() and not (i + 1 < len(lines) and lines[i + 1].startswith("    ")):
                    break
                out.append(lines[i][4:])
                i += 1
            out.append("```")
            continue
        m = re.match(r"^(#+) (.*)$", line)
        if m:
            level, title = len(m.group(1)), m.group(2)
            if level == 1 and not seen_title:
                seen_title = True
            elif level <= 2:
                out.append("# " + inline(title).upper())
            else:
                out.append("## " + inline(title))
            i += 1
            continue
        if line.startswith("|"):
            cells = table_row(line)
            if i + 1 < len(lines) and re.match(r"^\|[-| :]+\|$", lines[i + 1]):
                header = cells
                i += 2
                continue
            tag = inline(cells[0])
            if len(cells) >= 3 and header is not None and header[1].lower() == "default":
                tag += " (default: " + inline(cells[1]) + ")"
                text = cells[2:]
            else:
                text = cells[1:]
            out.append(tag)
            for t in text:
                out.append("\t" + text_line(inline(t)))
            out.append("")
            i += 1
            continue
        if line.startswith("- "):
            item = line[2:]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                item += " " + lines[i].strip()
                i += 1
            out.append("- " + inline(item))
            continue
        if not line.strip():
            out.append("")
            i += 1
            continue
        # A paragraph is one line here, so markup may span the source's line breaks.
        para = [line.strip()]
        i += 1
        while i < len(lines) and lines[i].strip() and not special(lines[i]):
            para.append(lines[i].strip())
            i += 1
        out.append(text_line(inline(" ".join(para))))
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: man-from-markdown.py PAGE.scd.in DOC.md OUT.scd")
    with open(sys.argv[1], encoding="utf-8") as f:
        page = f.read()
    with open(sys.argv[2], encoding="utf-8") as f:
        body = convert(f.read())
    if "@BODY@\n" not in page:
        sys.exit(sys.argv[1] + ": no @BODY@ line")
    with open(sys.argv[3], "w", encoding="utf-8") as f:
        f.write(page.replace("@BODY@\n", body))


if __name__ == "__main__":
    main()
