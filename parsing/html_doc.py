"""HTML via the stdlib tokenizer: visible text, <h1>-<h6> sections, <title> as title."""

from __future__ import annotations

from html.parser import HTMLParser

from parsing.sections import RawSection, SectionBuilder, clean_heading

# Content that is never shown as document text.
_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe", "object"})
# Tags that may appear inside <head>; any other tag means the body has begun.
_HEAD_TAGS = frozenset({"title", "meta", "link", "base", "style", "script", "noscript", "template"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div", "dl", "dt"}
    | {"fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol"}
    | {"p", "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul"}
)
_CELLS = frozenset({"td", "th"})


def parse_html(text: str) -> tuple[list[RawSection], str | None]:
    """Extract visible text from HTML; returns (sections, title).

    The title is <title>, else the first heading. Scripts, styles and the rest
    of <head> are dropped; block elements break paragraphs; table cells in a
    row are joined with " | "; <pre> keeps its line breaks.
    """
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    parser.finish()
    title = clean_heading("".join(parser.title)) or None
    return parser.builder.sections, title or parser.builder.first_heading


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = SectionBuilder()
        self.title: list[str] = []
        self.text: list[str] = []
        self.heading: list[str] | None = None
        self.heading_level = 1
        self.skip_depth = 0
        self.pre_depth = 0
        self.in_head = False
        self.in_title = False
        self.title_done = False
        self.row_cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
            return
        if tag == "head":
            self.in_head = True
        elif self.in_head and tag not in _HEAD_TAGS:
            self.in_head = False  # browsers end <head> implicitly at the first body tag
        if tag == "title" and not self.title_done and self.skip_depth == 0:
            self.in_title = True
        elif tag in _HEADINGS:
            self.flush()
            self.heading, self.heading_level = [], _HEADINGS[tag]
        elif tag == "pre":
            self.flush()
            self.pre_depth += 1
        elif tag in _CELLS:
            if self.row_cells:
                self.text.append(" | ")
            self.row_cells += 1
        elif tag in _BLOCKS:
            self.flush()
            self.row_cells = 0 if tag == "tr" else self.row_cells
            if tag == "li":
                self.text.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "head":
            self.in_head = False
        elif tag == "title" and self.in_title:
            self.in_title, self.title_done = False, True
        elif tag in _HEADINGS and self.heading is not None:
            self.builder.heading("".join(self.heading), self.heading_level)
            self.heading = None
        elif tag == "pre" and self.pre_depth:
            self.builder.code("".join(self.text))
            self.text = []
            self.pre_depth -= 1
        elif tag in _BLOCKS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.in_title:
            self.title.append(data)
        elif self.in_head:
            return
        elif self.heading is not None:
            self.heading.append(data)
        else:
            self.text.append(data)

    def flush(self) -> None:
        """End the current paragraph (inside <pre> line breaks are kept)."""
        if self.pre_depth:
            return
        self.builder.paragraph("".join(self.text))
        self.text = []

    def finish(self) -> None:
        """End of input: close any unterminated heading or <pre>."""
        if self.heading is not None:
            self.builder.heading("".join(self.heading), self.heading_level)
            self.heading = None
        if self.pre_depth:
            self.builder.code("".join(self.text))
        else:
            self.flush()
