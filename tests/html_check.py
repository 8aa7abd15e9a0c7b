"""Parse rendered HTML to see which tags and attributes reached it and what text it shows.

For tests that check content is escaped: any tag the page does not write itself,
or any ``on*`` attribute, came from content and got through.
"""

from __future__ import annotations

from html.parser import HTMLParser


class ParsedHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.handlers: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]

    def handle_data(self, data):
        self.text.append(data)


def parse(markup: str) -> ParsedHTML:
    parsed = ParsedHTML()
    parsed.feed(markup)
    parsed.close()
    return parsed
