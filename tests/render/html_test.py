from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from artreg.core.index import Entry, EntryFile, pack, pack_all
from artreg.core.tags import Category
from artreg.render.html import href, human_size, render_index, render_root_html

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
EVIL = "<script>alert(1)</script>"


def entry(tag: str, category: Category, day: int, names: tuple[str, ...] = ("garage",)) -> Entry:
    files = tuple(
        EntryFile(
            platform=platform,
            name=name,
            key=f"{tag.replace('+', '_')}/{platform}/{name}",
            size=41_234_567 + day,
            sha256=hashlib.sha256(f"{tag}{platform}{name}".encode()).hexdigest(),
        )
        for platform in ("linux/amd64", "linux/arm64")
        for name in names
    )
    return Entry(
        tag=tag,
        category=category,
        published=dt.datetime(2025, 5, day, 9, 30, tzinfo=dt.timezone.utc),
        commit="0123456789abcdef0123456789abcdef01234567",
        files=files,
    )


RELEASES = [
    entry("v0.10.0", Category.RELEASE, 20, ("garage", EVIL)),
    entry("v0.9.0", Category.RELEASE, 10),
    entry("v0.8.2", Category.RELEASE, 1),
]
EXTRA = [entry("v1.0.0-rc1", Category.EXTRA, 21), entry("v0.9.0+feat", Category.EXTRA, 11)]
DEV = [entry(f"{n:x}" * 40, Category.DEV, 22 - n) for n in range(1, 4)]


def page() -> str:
    return render_index(
        "garage <&> co",
        RELEASES,
        EXTRA,
        DEV,
        totals={Category.RELEASE: 3, Category.EXTRA: 2, Category.DEV: 3},
        page_links={
            Category.RELEASE: ["_artreg/index/release/1.json"],
            Category.EXTRA: ["_artreg/index/extra/1.json"],
            Category.DEV: ["_artreg/index/dev/1.json"],
        },
        generated=NOW,
    )


# --- pure rendering ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (41_234_567, "41.2 MB"),
        (999_990_000, "1.0 GB"),
        (3 * 10**12, "3.0 TB"),
        (5 * 10**18, "5000.0 PB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_href_encodes_each_segment() -> None:
    assert href("v0.8.2_feat/linux/amd64/garage") == "v0.8.2_feat/linux/amd64/garage"
    assert href("v1/linux/amd64/a b#?%.tar") == "v1/linux/amd64/a%20b%23%3F%25.tar"
    assert href("v1/p/<x>") == "v1/p/%3Cx%3E"


def test_names_are_escaped() -> None:
    source = page()
    assert EVIL not in source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in source
    assert "garage &lt;&amp;&gt; co downloads" in source
    assert source.count("<script") == 0
    # the download link of the evil name: percent-encoded, relative
    assert 'href="v0.10.0/linux/amd64/%3Cscript%3Ealert%281%29%3C/script%3E"' in source


def test_structure() -> None:
    source = page()
    assert '<details id="extra">' in source and '<details id="dev">' in source
    assert "<details open" not in source
    release = source.index('<section id="release">')
    details = source.index("<details")
    for item in RELEASES:
        assert release < source.index(f'data-tag="{item.tag}"') < details
    for item in DEV:
        assert source.index('<details id="dev">') < source.index(f'data-tag="{item.tag}"')
    # rows in the given order, full digest present (shortened by CSS only)
    positions = [source.index(f'data-tag="{item.tag}"') for item in RELEASES]
    assert positions == sorted(positions)
    sha = RELEASES[1].files[0].sha256
    assert f'title="sha256:{sha}">{sha}</code>' in source
    assert "41.2 MB" in source
    assert 'href="_artreg/builds/v0.9.0_feat.json"' in source
    assert 'href="index.json"' in source
    assert "2025-05-20 09:30 UTC" in source
    assert not re.search(r'(href|src)="(/|https?:)', source)  # relative links only


def test_root_html_is_bounded_and_links_pages() -> None:
    dev = [entry(f"{n:040x}", Category.DEV, 1 + n % 28) for n in range(60)]
    pagesets = pack_all(dev + RELEASES, page_size=20)
    source = render_root_html("garage", pagesets.values(), generated=NOW, max_other=50)
    assert source.count('<tr class="build"') == 50 + len(RELEASES)
    assert "Showing 50 of 60. All 60 as JSON:" in source
    assert '<a href="_artreg/index/dev/3.json">page 3</a>' in source
    assert "No pre-releases and other versions published." in source
    shown = re.findall(r'<tr class="build" data-tag="([0-9a-f]{40})"', source)
    assert shown == [e.tag for e in pagesets[Category.DEV].entries()[:50]]
    empty = render_root_html("garage", [pack(Category.DEV, [])], generated=NOW)
    assert "No releases published." in empty


# --- in a real browser ---------------------------------------------------------------------------

PROBE = """<script>
for (const row of document.querySelectorAll("tr.build")) {
  // closed <details> hide their content with content-visibility in current Chromium,
  // where offsetParent stays set: ask the browser whether the row is rendered
  const shown = row.checkVisibility ? row.checkVisibility() : row.offsetParent !== null;
  row.setAttribute("data-visible", shown ? "yes" : "no");
}
document.body.setAttribute("data-probe", "done");
</script>
"""


def chromium(tmp_path: Path, *args: str) -> str:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(binary).exists():
        pytest.fail("chromium is not installed: run `make test` (it installs the system deps)")
    profile = tmp_path / "profile"
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    # the timeout only guards against a hung browser; nothing is asserted about time
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Rows(HTMLParser):
    """tr.build rows with their visibility and the details/section they sit in."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.rows: dict[str, tuple[str | None, str | None, bool]] = {}
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag in ("details", "section"):
            self.stack.append((tag, attributes))
        if tag == "tr" and attributes.get("class") == "build":
            container = self.stack[-1] if self.stack else ("", {})
            self.rows[attributes["data-tag"] or ""] = (
                attributes.get("data-visible"),
                container[1].get("id"),
                "open" in container[1],
            )

    def handle_endtag(self, tag: str) -> None:
        if tag in ("details", "section") and self.stack:
            self.stack.pop()


def write(path: Path, source: str) -> Path:
    path.write_text(source, encoding="utf-8")
    return path


def dom_rows(tmp_path: Path, source: str, name: str) -> Rows:
    probed = source.replace("</body>", PROBE + "</body>")
    dom = chromium(tmp_path, "--dump-dom", write(tmp_path / name, probed).as_uri())
    assert 'data-probe="done"' in dom
    parser = Rows()
    parser.feed(dom)
    assert parser.scripts == 1  # only the probe: the evil name stayed text
    return parser


def test_browser_renders_releases_and_folds_dev(tmp_path: Path) -> None:
    closed = dom_rows(tmp_path, page(), "closed.html")
    for item in RELEASES:
        assert closed.rows[item.tag] == ("yes", "release", False)
    for item in DEV:
        assert closed.rows[item.tag] == ("no", "dev", False)
    for item in EXTRA:
        assert closed.rows[item.tag] == ("no", "extra", False)

    opened = dom_rows(tmp_path, page().replace("<details ", "<details open "), "open.html")
    for item in DEV + EXTRA:
        visible, _, is_open = opened.rows[item.tag]
        assert (visible, is_open) == ("yes", True)


def test_browser_screenshots(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shots = {
        "index-closed.png": page(),
        "index-open.png": page().replace("<details ", "<details open "),
    }
    sizes = {}
    for name, source in shots.items():
        target = ARTIFACTS / name
        target.unlink(missing_ok=True)
        html_file = write(tmp_path / name.replace(".png", ".html"), source)
        chromium(tmp_path, f"--screenshot={target}", "--window-size=1000,800", html_file.as_uri())
        data = target.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 10_000, f"{target}: {len(data)} bytes, looks blank"
        sizes[name] = data
    assert sizes["index-closed.png"] != sizes["index-open.png"]
