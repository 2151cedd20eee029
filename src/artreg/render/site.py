"""The download site's pages: the root, one page per build, one per index page.

Pure: every function returns a string. Pages are valid HTML5 (``tidy -errors``
clean), complete without JavaScript (one small script reveals the copy
buttons and fills in the registry host), readable at 400 px without
horizontal scrolling, and hold only relative links (each path segment
percent-encoded) so the tree works under any prefix on any static host.

The root stays small whatever the history: a few rows per category, then
links to the HTML twin of each JSON index page
(``_artreg/index/<category>/<id>.html``), written whenever that JSON page is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from artreg.core.checksums import relative_path
from artreg.core.forge import Repository
from artreg.core.index import INDEX_PREFIX, PAGE_TO_ROOT, ROOT_KEY, Entry
from artreg.core.keys import SIGNATURE_NAME, SUMS_NAME
from artreg.core.manifest import Build, ImageEntry, manifest_key
from artreg.core.signing import ALLOWED_SIGNERS_KEY, check_command, verify_command
from artreg.core.tags import Category, encode_tag
from artreg.render.html import esc, href, time_html
from artreg.render.terminal import human_size

ROOT_RELEASE_ROWS = 20
ROOT_OTHER_ROWS = 10
MAX_PAGE_LINKS = 30
FEED_HREF = "releases.xml"
LATEST_JSON_HREF = "latest.json"
BUILD_TO_ROOT = "../"

_TITLES = {
    Category.RELEASE: "Releases",
    Category.EXTRA: "Pre-releases and other versions",
    Category.DEV: "Development builds",
}

_CSS = """
:root{color-scheme:light dark;--line:#8884;--dim:#767676;--hl:#0a5bd31a}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:64rem;
margin:0 auto;padding:1rem 1rem 3rem;overflow-wrap:anywhere}
h1{font-size:1.6rem;margin:.5rem 0 .2rem}h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
.meta,.more,.empty,footer{color:var(--dim);font-size:.9rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.4rem .5rem;border-bottom:1px solid var(--line)}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--dim)}
td.tag{font-weight:600}td.date{white-space:nowrap}
ul.files,ul.plain{list-style:none;margin:0;padding:0}ul.files li{margin:.15rem 0}
.platform{display:inline-block;min-width:7.5rem;color:var(--dim)}
.size{color:var(--dim);margin:0 .4rem}
code,pre{font:.85em ui-monospace,SFMono-Regular,Menlo,monospace}
pre{white-space:pre-wrap;word-break:break-all;background:var(--hl);padding:.5rem .6rem;
border-radius:4px;margin:.3rem 0}
code.sha{word-break:break-all;color:var(--dim)}
.commit{font-weight:400;color:var(--dim)}
.hero{border:2px solid #0a5bd3;border-radius:8px;padding:.6rem 1rem;background:var(--hl)}
.hero h2{margin-top:.3rem}
a.dl{display:inline-block;font-weight:600;padding:.25rem .6rem;margin:.2rem .2rem .2rem 0;
border:1px solid var(--line);border-radius:5px;text-decoration:none}
.yanked td.tag del,.yanked h1 del{color:var(--dim)}
.reason{display:block;font-weight:400;color:#b3261e;font-size:.9rem}
.banner{border:2px solid #b3261e;border-radius:6px;padding:.5rem .8rem}
details{margin-top:1.2rem;border:1px solid var(--line);border-radius:6px;padding:.3rem .8rem}
summary{cursor:pointer;font-weight:600;font-size:1.1rem;padding:.3rem 0}
button.copy{font-size:.8rem;margin-left:.3rem}
a{color:#0a5bd3}@media(prefers-color-scheme:dark){a{color:#7ab0ff}a.dl{color:#7ab0ff}
.hero{border-color:#7ab0ff}}
@media(max-width:40rem){table.builds,table.builds tbody,table.builds tr,table.builds td{
display:block}table.builds thead{display:none}table.builds td{border:0;padding:.15rem 0}
table.builds tr{border-bottom:1px solid var(--line);padding:.4rem 0}
.platform{min-width:0;margin-right:.4rem}}
""".strip()

# Reveals the copy buttons and fills in the registry host; the page is whole without it.
_SCRIPT = """
for(const h of document.querySelectorAll(".host"))if(location.host)h.textContent=location.host;
for(const b of document.querySelectorAll("button.copy")){b.hidden=false;b.addEventListener(
"click",()=>navigator.clipboard.writeText(document.getElementById(b.dataset.copy).textContent)
.then(()=>{b.textContent="Copied";}));}
""".strip()


@dataclass(frozen=True)
class Site:
    """What every page needs besides the builds (from ``artreg.toml``)."""

    project: str
    repository: Repository | None = None
    site_url: str | None = None  # e.g. https://dl.example.org/ (registry host, absolute links)
    signer: str | None = None  # the allowed-signers principal when signing is configured


@dataclass(frozen=True)
class Section:
    """One category on the root page: the rows to show, the total and the index page ids."""

    rows: Sequence[Entry] = ()
    total: int = 0
    page_ids: Sequence[int] = ()


@dataclass(frozen=True)
class Yanks:
    """Yanked builds: tag -> reason."""

    reasons: Mapping[str, str] = field(default_factory=dict)

    def __contains__(self, tag: object) -> bool:
        return tag in self.reasons


def _document(title: str, body: str, *, head: str = "", script: bool = False) -> str:
    tail = f"<script>\n{_SCRIPT}\n</script>\n" if script else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{head}<style>
{_CSS}
</style>
</head>
<body>
{body}
<footer><p>Published with artreg.</p></footer>
{tail}</body>
</html>
"""


def build_dir_href(tag: str, to_root: str = "") -> str:
    """The link to a build's page (its directory, served by its ``index.html``)."""
    return f"{to_root}{href(encode_tag(tag))}/"


def html_page_key(category: Category, page_id: int) -> str:
    """The HTML twin of ``_artreg/index/<category>/<id>.json``."""
    return f"{INDEX_PREFIX}{category.value}/{page_id}.html"


def build_page_key(tag: str) -> str:
    return f"{encode_tag(tag)}/index.html"


def registry_host(site: Site) -> str:
    """The host images are pulled from, as HTML: the configured site's, else filled in
    by the script from the page's own URL (``HOST`` without JavaScript)."""
    if site.site_url:
        netloc = urlsplit(site.site_url).netloc
        if netloc:
            return esc(netloc)
    return '<span class="host">HOST</span>'


# --- rows ----------------------------------------------------------------------------------------


def _row(entry: Entry, yanks: Yanks, to_root: str) -> str:
    tag = esc(entry.tag)
    reason = yanks.reasons.get(entry.tag)
    label = f"<del>{tag}</del>" if reason is not None else tag
    note = f'<span class="reason">yanked: {esc(reason)}</span>' if reason is not None else ""
    commit = ""
    if entry.commit is not None and entry.commit != entry.tag:
        commit = (
            f' <code class="commit" title="{esc(entry.commit)}">{esc(entry.commit[:10])}</code>'
        )
    files = "".join(
        f'<li><span class="platform">{esc(f.platform)}</span> '
        f'<a href="{esc(to_root + href(f.key))}">{esc(f.name)}</a>'
        f'<span class="size">{human_size(f.size)}</span></li>'
        for f in entry.files
    )
    css = "build yanked" if reason is not None else "build"
    return (
        f'<tr class="{css}" data-tag="{tag}">'
        f'<td class="tag"><a href="{esc(build_dir_href(entry.tag, to_root))}">{label}</a>'
        f"{commit}{note}</td>"
        f'<td class="date">{time_html(entry.published)}</td>'
        f'<td><ul class="files">{files or "<li>(no files)</li>"}</ul></td></tr>'
    )


def _table(category: Category, rows: Sequence[Entry], yanks: Yanks, to_root: str) -> str:
    body = "\n".join(_row(entry, yanks, to_root) for entry in rows)
    return (
        f'<table class="builds" id="{category.value}-builds">'
        "<thead><tr><th>Version</th><th>Published</th><th>Downloads</th></tr></thead>"
        f"<tbody>\n{body}\n</tbody></table>"
    )


def _page_links(category: Category, section: Section) -> str:
    if not section.page_ids:
        return ""
    ids = list(section.page_ids)
    shown = ids[:MAX_PAGE_LINKS]
    links = " · ".join(
        f'<a href="{esc(href(html_page_key(category, page_id)))}">{n}</a>'
        for n, page_id in enumerate(shown, start=1)
    )
    rest = f" (each page links the next; {len(ids)} pages)" if len(ids) > len(shown) else ""
    counted = f"Showing {len(section.rows)} of {section.total}. " if section.rows else ""
    return f'<p class="more">{counted}All {section.total}, page by page: {links}{rest}</p>'


def _section_body(category: Category, section: Section, yanks: Yanks) -> str:
    if not section.rows:
        return f'<p class="empty">No {_TITLES[category].lower()} published.</p>'
    return _table(category, section.rows, yanks, "") + "\n" + _page_links(category, section)


# --- root ----------------------------------------------------------------------------------------


def _pull_lines(site: Site, image: ImageEntry) -> list[tuple[str, str]]:
    host = registry_host(site)
    name = f"{host}/{esc(image.repository)}"
    by_tag = f"{name}:{esc(image.tag)}"
    by_digest = f"{name}@{esc(image.digest)}"
    return [
        ("podman, by tag", f"podman pull {by_tag}"),
        ("docker, by tag", f"docker pull {by_tag}"),
        ("podman, by digest", f"podman pull {by_digest}"),
        ("docker, by digest", f"docker pull {by_digest}"),
    ]


def _hero(site: Site, latest: Build | Entry) -> str:
    page = build_dir_href(latest.tag)
    links = "".join(
        f'<li><a class="dl" href="{esc(href(f.key))}">{esc(f.platform)} · {esc(f.name)}</a>'
        f'<span class="size">{human_size(f.size)}</span></li>'
        for f in latest.files
    )
    images = "".join(
        f"<li><code>podman pull {registry_host(site)}/{esc(i.repository)}:{esc(i.tag)}</code></li>"
        for i in (latest.images if isinstance(latest, Build) else ())
    )
    image_block = f'<h3>Images</h3><ul class="plain">{images}</ul>' if images else ""
    return (
        '<section id="latest" class="hero">'
        f'<h2>Latest release: <a href="{esc(page)}">{esc(latest.tag)}</a></h2>'
        f'<p class="meta">Published {time_html(latest.published)}</p>'
        f'<ul class="plain">{links or "<li>(no files)</li>"}</ul>{image_block}'
        f'<p><a href="{esc(page)}">Checksums, signature and install commands</a></p>'
        "</section>"
    )


def render_root_page(
    site: Site,
    sections: Mapping[Category, Section],
    *,
    latest: Build | Entry | None,
    generated: dt.datetime,
    yanks: Yanks | None = None,
) -> str:
    """``index.html``: the highest release highlighted, then a few rows per category.

    ``latest`` is the manifest of the highest release that is not yanked (its
    images are listed); ``sections`` hold the rows to show, already ordered.
    """
    yanks = yanks or Yanks()

    def section(category: Category) -> Section:
        return sections.get(category, Section())

    def rows(category: Category, limit: int) -> Section:
        current = section(category)
        return Section(current.rows[:limit], current.total, current.page_ids)

    release = rows(Category.RELEASE, ROOT_RELEASE_ROWS)
    folded = "\n".join(
        f'<details id="{category.value}"><summary>{_TITLES[category]} '
        f'<span class="count">({section(category).total})</span></summary>\n'
        f"{_section_body(category, rows(category, ROOT_OTHER_ROWS), yanks)}\n</details>"
        for category in (Category.EXTRA, Category.DEV)
    )
    title = f"{esc(site.project)} downloads"
    hero = _hero(site, latest) if latest is not None else ""
    # The feed and latest.json follow the releases: written once there is one.
    feed = f' <a href="{FEED_HREF}">Atom feed</a> ·' if latest is not None else ""
    latest_json = (
        f' <a href="{LATEST_JSON_HREF}">{LATEST_JSON_HREF}</a>,' if latest is not None else ""
    )
    body = f"""<header>
<h1>{title}</h1>
<p class="meta">Updated {time_html(generated)} ·{feed}
for scripts:{latest_json} <a href="{ROOT_KEY}">{ROOT_KEY}</a></p>
</header>
<main>
{hero}
<section id="release">
<h2>{_TITLES[Category.RELEASE]} <span class="count">({release.total})</span></h2>
{_section_body(Category.RELEASE, release, yanks)}
</section>
{folded}
</main>"""
    head = (
        f'<link rel="alternate" type="application/atom+xml" title="{esc(site.project)} releases" '
        f'href="{FEED_HREF}">\n'
        if latest is not None
        else ""
    )
    return _document(title, body, head=head)


# --- index pages ---------------------------------------------------------------------------------


def render_history_page(
    site: Site,
    category: Category,
    page_id: int,
    entries: Sequence[Entry],
    next_id: int | None,
    *,
    yanks: Yanks | None = None,
) -> str:
    """``_artreg/index/<category>/<id>.html``: the entries of that JSON page, linking the next."""
    yanks = yanks or Yanks()
    title = f"{esc(site.project)}: {_TITLES[category].lower()}"
    following = f'<a href="{next_id}.html">next page</a>' if next_id is not None else "last page"
    nav = (
        f'<p class="more"><a href="{PAGE_TO_ROOT}">all downloads</a> · {following} · '
        f'<a href="{page_id}.json">as JSON</a></p>'
    )
    body = (
        f"<header><h1>{title}</h1>{nav}</header>\n<main>\n"
        f"{_table(category, entries, yanks, PAGE_TO_ROOT)}\n</main>\n{nav}"
    )
    return _document(title, body)


# --- one build -----------------------------------------------------------------------------------


def _copyable(element_id: str, text_html: str, block: bool = True) -> str:
    button = f'<button type="button" class="copy" data-copy="{element_id}" hidden>Copy</button>'
    if block:
        return f'<pre id="{element_id}">{text_html}</pre>{button}'
    return f'<code class="sha" id="{element_id}">{text_html}</code>{button}'


def render_build_page(
    site: Site,
    build: Build,
    *,
    yanked: str | None = None,
    signed: bool = False,
) -> str:
    """``<encoded tag>/index.html``: files, checksums, verification and pull commands."""
    tag = esc(build.tag)
    heading = f"<del>{tag}</del>" if yanked is not None else tag
    banner = ""
    if yanked is not None:
        banner = (
            f'<p class="banner"><strong>Yanked:</strong> {esc(yanked)}. '
            "The files stay downloadable; the latest links and the feed no longer offer it.</p>"
        )
    css = ' class="yanked"' if yanked is not None else ""
    body = f"""<header{css}>
<p class="meta"><a href="{BUILD_TO_ROOT}">{esc(site.project)} downloads</a></p>
<h1>{esc(site.project)} {heading}</h1>
<p class="meta">{" · ".join(_build_facts(site, build))}</p>
{banner}
</header>
<main>
<h2>Files</h2>
{_files_table(build)}
{chr(10).join(_verify_lines(site, signed))}
{_images_block(site, build)}
</main>"""
    return _document(f"{esc(site.project)} {tag}", body, script=True)


def _build_facts(site: Site, build: Build) -> list[str]:
    """Published when, what category, the commit and tag links, the manifest."""
    facts = [f"Published {time_html(build.published)}", f"{esc(build.category.value)} build"]
    repository = site.repository
    if build.commit is not None:
        commit_url = repository.commit_url(build.commit) if repository else None
        short = esc(build.commit[:12])
        facts.append(
            f'commit <a href="{esc(commit_url)}"><code>{short}</code></a>'
            if commit_url
            else f"commit <code>{short}</code>"
        )
    if repository is not None and build.category is not Category.DEV:
        facts.append(f'<a href="{esc(repository.tag_url(build.tag))}">tag on the forge</a>')
    facts.append(
        f'<a href="{esc(BUILD_TO_ROOT + href(manifest_key(build.tag)))}">manifest (JSON)</a>'
    )
    return facts


def _files_table(build: Build) -> str:
    """One row per file: platform, link, size, full SHA-256 with a copy control."""
    build_dir = encode_tag(build.tag)
    rows = []
    for n, f in enumerate(sorted(build.files, key=lambda f: f.key), start=1):
        relative = relative_path(build_dir, f.key)
        rows.append(
            f'<tr><td><span class="platform">{esc(f.platform)}</span></td>'
            f'<td><a href="{esc(href(relative))}">{esc(f.name)}</a>'
            f'<span class="size">{human_size(f.size)}</span><br>'
            f"{_copyable(f'sha{n}', esc(f.sha256), block=False)}</td></tr>"
        )
    if not rows:
        return '<p class="empty">No files.</p>'
    return (
        '<table class="builds files"><thead><tr><th>Platform</th><th>File and SHA-256</th>'
        f"</tr></thead><tbody>\n{chr(10).join(rows)}\n</tbody></table>"
    )


def _verify_lines(site: Site, signed: bool) -> list[str]:
    """The ``sha256sum -c`` line, and the signature check when the sums are signed."""
    verify = [
        "<h2>Verify a download</h2>",
        f'<p>In the directory holding the downloaded files and <a href="{SUMS_NAME}">'
        f"{SUMS_NAME}</a>:</p>",
        _copyable("check", esc(check_command())),
    ]
    if signed and site.signer is not None:
        signers = BUILD_TO_ROOT + ALLOWED_SIGNERS_KEY
        verify += [
            f'<p>Check the <a href="{SIGNATURE_NAME}">signature</a> of {SUMS_NAME} with '
            f'OpenSSH 8.1+ and the project\'s <a href="{esc(signers)}">allowed_signers</a> '
            "file, downloaded next to it:</p>",
            _copyable("verify", esc(verify_command(site.signer, "allowed_signers"))),
        ]
    return verify


def _images_block(site: Site, build: Build) -> str:
    """``podman pull``/``docker pull`` by tag and by digest, per image."""
    images = []
    for n, image in enumerate(build.images, start=1):
        images.append(f"<h3><code>{esc(image.repository)}</code></h3>")
        for m, (label, command) in enumerate(_pull_lines(site, image), start=1):
            images.append(f'<p class="meta">{label}</p>{_copyable(f"pull{n}-{m}", command)}')
    return "<h2>Images</h2>\n" + "\n".join(images) if images else ""
