"""Which parts of a web page are the document: its main content, without the site around it.

A saved documentation page or article carries its site with it: menus, a search box,
"skip to content" and "jump to navigation" links, a sidebar, a generated table of
contents, breadcrumbs, permalink signs ("¶") after every heading, edit links, footers
and link boxes. A person skips them; the bot used to quote them (31% of the chunks of a
documentation tree). ``prune`` removes them by what the page says they are: the
elements (``nav``, ``footer``, ``form``...), their ARIA roles, and the class and id
names sites give them (a box holding the page's ``h1`` is kept; an ``aside`` or sidebar
only goes when it is mostly links); ``main_content`` then keeps the page's ``main``/``article`` (or
the element the site calls its content) when there is one that holds most of the text.

Rules rather than a general extractor: on the development pages (docs/quality.md),
trafilatura kept 96 of 125 answer spans of the SQLite documentation tree and 61 of 74 of
the reStructuredText specification, readability-lxml 117/125 and 52/74; these rules keep
all of them while dropping the site's chrome.
"""

from __future__ import annotations

import re

__all__ = ["PERMALINK_SIGNS", "main_content", "page_title", "prune"]

_CHROME_TAGS = ("nav", "footer", "form", "dialog")
# A sidebar is chrome when it is a list of links; a box of facts beside the text ("Max DB size:
# 281 terabytes") is the page's own content. Measured: SQLite's fact box 77% link text,
# Wikipedia's navigation panel 82%.
_SIDEBAR_NAMES = frozenset(["sidebar", "side-bar", "leftsidebar", "rightsidebar", "sidebar-left", "sidebar-right"])
_SIDEBAR_LINK_SHARE = 0.8
_CHROME_ROLES = frozenset(
    [
        "navigation",
        "banner",
        "contentinfo",
        "search",
        "complementary",
        "menu",
        "menubar",
        "toolbar",
        "tablist",
        "dialog",
        "alertdialog",
    ]
)
# Class or id names sites give their chrome (compared whole, lower case).
_CHROME_NAMES = frozenset(
    """nav navbar navigation navheader navfooter nav-bar site-nav topnav top-nav mainmenu main-menu submenu
    menu menubar searchmenu searchbox search search-box search-form searchform sidenav
    sphinxsidebar sphinxsidebarwrapper breadcrumb breadcrumbs related relbar
    footer site-footer page-footer header site-header masthead banner skip skip-link skiplink skip-links
    skip-to-content skipnav jump-to-nav mw-jump-link mw-jump visually-hidden sr-only screen-reader-text
    noprint printfooter catlinks mw-navigation mw-head mw-panel mw-editsection navbox vertical-navbox
    sistersitebox mw-indicators sitesub contentsub siteSub headerlink toc toctitle contents-panel
    localtoc globaltoc toctree-wrapper page-toc on-this-page nosearch cookie cookie-banner share social
    social-links edit-link editsection backtotop back-to-top pagination pager prev-next
    mw-cite-backlink""".lower().split()
)
_CHROME_LINKS = frozenset(
    [
        "skip",
        "skip-link",
        "skiplink",
        "skip-to-content",
        "skipnav",
        "mw-jump-link",
        "headerlink",
        "permalink",
        "anchorjs-link",
        "hash-link",
    ]
)
_CHROME_PREFIX = re.compile(r"^(?:toc[-_]|fancy[-_]toc|toclevel|tocsection|navbox|mw-editsection|sidebar[-_]|menu[-_])")
_MAIN_IDS = (
    "main-content",
    "maincontent",
    "main",
    "content",
    "mw-content-text",
    "bodycontent",
    "article",
    "docs-content",
)
PERMALINK_SIGNS = "¶§#🔗⚓"
_PERMALINK_TITLE = re.compile(r"permalink|link to (?:this|heading|section)|direct link", re.IGNORECASE)
_SKIP_LINK = re.compile(r"^\s*(?:skip|jump)\s+to\b", re.IGNORECASE)


def _names(tag) -> list[str]:
    classes = tag.get("class") or []
    if isinstance(classes, str):
        classes = classes.split()
    ident = tag.get("id")
    return [c.lower() for c in classes] + ([ident.lower()] if isinstance(ident, str) else [])


def _is_chrome(tag) -> bool:
    name = tag.name
    if name in ("html", "body", "main", "article"):
        return False
    if name == "a":  # a link's classes say where it points ("toc-backref"), not that it is chrome
        return _is_permalink_or_skip(tag) or any(n in _CHROME_LINKS for n in _names(tag))
    if name in _CHROME_TAGS:
        return True
    if name == "header" and tag.find("h1") is None:  # a page header without the title is site chrome
        return True
    if name == "aside" or any(n in _SIDEBAR_NAMES for n in _names(tag)):
        return _link_share(tag) >= _SIDEBAR_LINK_SHARE
    role = tag.get("role")
    if isinstance(role, str) and role.lower() in _CHROME_ROLES:
        return True
    if tag.get("aria-hidden") == "true":
        return True
    names = _names(tag)
    if any(n in _CHROME_NAMES or _CHROME_PREFIX.match(n) for n in names):
        return tag.find("h1") is None  # a "header" or "masthead" that holds the page's title is the page's
    if "contents" in names and "topic" in names:  # docutils' generated table of contents
        return True
    return name == "sup" and "reference" in names  # Wikipedia's "[12]" citation marks


def _link_share(tag) -> float:
    text = len(" ".join(tag.get_text(" ").split()))
    links = sum(len(" ".join(a.get_text(" ").split())) for a in tag.find_all("a"))
    return links / text if text else 1.0


def _is_permalink_or_skip(anchor) -> bool:
    href = anchor.get("href")
    if not isinstance(href, str) or not href.startswith("#"):
        return False
    text = anchor.get_text().replace("\u200b", "").strip()
    if text and all(ch in PERMALINK_SIGNS for ch in text):
        return True
    title = anchor.get("title") or anchor.get("aria-label")
    if not text and isinstance(title, str) and _PERMALINK_TITLE.search(title):
        return True
    return bool(_SKIP_LINK.match(text))


# A page's "last modified" stamp: the site's, on every page, not the document's words.
_STAMP = re.compile(
    r"^(?:this page (?:was )?last (?:modified|updated|edited)|last (?:modified|updated)\b)", re.IGNORECASE
)


_STAMP_WORDS = re.compile(r"last\s+(?:modified|updated|edited)", re.IGNORECASE)


def _stamps(soup) -> list:
    """The paragraphs (or list items) that are only a "last modified" stamp."""
    found = []
    for string in soup.find_all(string=_STAMP_WORDS):
        tag = string.parent
        while tag is not None and tag.name not in ("p", "li", "div", "body"):
            tag = tag.parent
        if tag is not None and tag.name != "body":
            text = " ".join(tag.get_text(" ").split())
            if len(text) < 120 and _STAMP.match(text):
                found.append(tag)
    return found


def _is_link_list(tag) -> bool:
    """A list whose every item is one link to a place on the same page: a generated table of
    contents (the FAQ's list of questions, "On this page")."""
    if tag.name not in ("ul", "ol"):
        return False
    items = tag.find_all("li", recursive=False)
    if len(items) < 3:
        return False
    for item in items:
        text = len("".join(item.get_text().split()))
        linked = sum(
            len("".join(a.get_text().split())) for a in item.find_all("a", href=True) if a["href"].startswith("#")
        )
        if not text or linked < 0.9 * text:
            return False
    return True


def prune(soup) -> None:
    """Remove the page's chrome in place (iteratively: pages nest thousands deep)."""
    doomed = [tag for tag in soup.find_all(True) if _is_chrome(tag) or _is_link_list(tag)] + _stamps(soup)
    for tag in doomed:
        if not getattr(tag, "decomposed", False):
            tag.decompose()


def _text_length(tag) -> int:
    return sum(len(s.strip()) for s in tag.find_all(string=True))


def main_content(soup):
    """The element holding the document: the one ``main``/``article``/``role=main`` or an
    element named as the content, when it holds at least 40% of the page's text; else the body."""
    body = soup.body or soup
    mains, articles, named = [], [], []
    for tag in soup.find_all(True):  # one pass: pages are large
        if tag.name == "main" or tag.get("role") == "main":
            mains.append(tag)
        elif tag.name == "article":
            articles.append(tag)
        ident = tag.get("id")
        if isinstance(ident, str) and ident.lower() in _MAIN_IDS:
            named.append(tag)
    candidates = (
        mains + (articles if len(articles) == 1 else []) + sorted(named, key=lambda t: _MAIN_IDS.index(t["id"].lower()))
    )
    total = _text_length(body) if candidates else 0
    for tag in candidates:
        if total and _text_length(tag) >= 0.4 * total:
            return tag
    return body


def page_title(soup) -> str:
    """The page's first ``h1`` when the ``<title>`` names it (a title is often "Page - Site"),
    else the ``<title>``, else the first ``h1``."""
    title = " ".join(soup.title.get_text().split()) if soup.title else ""
    h1 = soup.find("h1")
    heading = " ".join(h1.get_text(" ").split()).rstrip(PERMALINK_SIGNS + " ") if h1 else ""
    if heading and title:
        lower, head = title.lower(), heading.lower()
        if lower.startswith(head) and _SITE_SEPARATOR.match(title[len(heading) :]):
            return heading
        if lower.endswith(head) and _SITE_SEPARATOR.match(title[: len(title) - len(heading)][::-1]):
            return heading
    return title or heading


# What lies between a page's own title and its site's name in a <title>: " - ", " | ", " — ", ": ".
_SITE_SEPARATOR = re.compile(r"^\s*[-|—–·:»«]\s")
