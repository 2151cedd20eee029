from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import chromium

from artreg.core.forge import parse_repository
from artreg.core.index import Entry, EntryFile, pack_all
from artreg.core.manifest import Build, FileEntry, ImageEntry
from artreg.core.tags import Category
from artreg.render.site import (
    ROOT_OTHER_ROWS,
    ROOT_RELEASE_ROWS,
    Section,
    Site,
    Yanks,
    build_page_key,
    html_page_key,
    render_build_page,
    render_history_page,
    render_root_page,
)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
EVIL = "<script>alert(1)</script>"
SHA = "0123456789abcdef0123456789abcdef01234567"
SITE = Site(
    project="garage <&> co",
    repository=parse_repository("https://git.deuxfleurs.fr/Deuxfleurs/garage"),
    signer="garage",
)
PLATFORMS = ("linux/amd64", "linux/arm64", "linux/riscv64", "windows/amd64", "darwin/arm64")


def build(tag: str, category: Category, day: int, names: tuple[str, ...] = ("garage",)) -> Build:
    encoded = tag.replace("+", "_")
    return Build(
        tag=tag,
        category=category,
        published=dt.datetime(2025, 5, 1 + day % 28, 9, 30, tzinfo=dt.timezone.utc)
        + dt.timedelta(days=28 * (day // 28)),
        commit=SHA,
        files=tuple(
            FileEntry(
                artifact="garage",
                platform=platform,
                name=name,
                key=f"{encoded}/{platform}/{name}",
                size=41_234_567 + day,
                sha256=hashlib.sha256(f"{tag}{platform}{name}".encode()).hexdigest(),
            )
            for platform in PLATFORMS
            for name in names
        ),
        images=(
            ImageEntry(
                "image",
                "deuxfleurs/garage",
                encoded,
                "sha256:" + hashlib.sha256(tag.encode()).hexdigest(),
                "application/vnd.oci.image.index.v1+json",
                1234,
            ),
        ),
    )


def entry_of(item: Build) -> Entry:
    return Entry(
        tag=item.tag,
        category=item.category,
        published=item.published,
        commit=item.commit,
        files=tuple(EntryFile(f.platform, f.name, f.key, f.size, f.sha256) for f in item.files),
    )


LATEST = build("v1.10.0", Category.RELEASE, 20, ("garage", EVIL + ".tar.gz"))
RELEASES = [LATEST] + [build(f"v1.{n}.0", Category.RELEASE, n) for n in range(9, 0, -1)]
EXTRA = [build("v2.0.0-rc.1", Category.EXTRA, 21), build("v1.9.1+debug", Category.EXTRA, 11)]
DEV = [build(f"{n:x}" * 40, Category.DEV, 22 - n) for n in range(1, 4)]
YANKS = Yanks({"v1.9.0": "corrupts data on upgrade " + EVIL})


def sections(builds: list[Build], page_size: int = 1000) -> dict[Category, Section]:
    pagesets = pack_all([entry_of(b) for b in builds], page_size)
    return {
        category: Section(pageset.entries(), pageset.count, pageset.ids)
        for category, pageset in pagesets.items()
    }


def root_page(builds: list[Build] | None = None) -> str:
    return render_root_page(
        SITE,
        sections(builds or RELEASES + EXTRA + DEV),
        latest=LATEST,
        generated=NOW,
        yanks=YANKS,
    )


def build_page(item: Build = LATEST, **kwargs: object) -> str:
    return render_build_page(SITE, item, signed=True, **kwargs)  # type: ignore[arg-type]


def history_page() -> str:
    entries = [entry_of(b) for b in RELEASES]
    return render_history_page(SITE, Category.RELEASE, 3, entries, 7, yanks=YANKS)


def tidy_errors(tmp_path: Path, source: str) -> str:
    binary = shutil.which("tidy")
    if binary is None:
        pytest.fail("tidy is not installed: run scripts/install-system-deps.sh")
    path = tmp_path / "page.html"
    path.write_text(source, encoding="utf-8")
    done = subprocess.run(
        [binary, "-errors", "-quiet", "-utf8", str(path)], capture_output=True, text=True
    )
    return done.stderr + (f"\nexit {done.returncode}" if done.returncode else "")


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag in ("a", "link") and attributes.get("href"):
            self.links.append(str(attributes["href"]))


def links(source: str) -> Links:
    parser = Links()
    parser.feed(source)
    return parser


# --- pure rendering ------------------------------------------------------------------------------


@pytest.mark.parametrize("page", [root_page, build_page, history_page])
def test_pages_are_tidy_clean_escaped_and_relative(tmp_path: Path, page: object) -> None:
    source = page()  # type: ignore[operator]
    assert tidy_errors(tmp_path, source) == ""
    assert EVIL not in source
    for link in links(source).links:
        assert not link.startswith("/") and not link.startswith("javascript:"), link
        if "://" in link:
            assert link.startswith("https://git.deuxfleurs.fr/Deuxfleurs/garage/"), link


def test_root_highlights_latest_links_feed_and_build_pages() -> None:
    source = root_page()
    assert (
        '<link rel="alternate" type="application/atom+xml" title="garage &lt;&amp;&gt; co '
        'releases" href="releases.xml">' in source
    )
    hero = source[source.index('<section id="latest"') : source.index("</section>")]
    for platform in PLATFORMS:
        assert f'href="v1.10.0/{platform}/garage"' in hero
    assert hero.count('class="dl"') == 2 * len(PLATFORMS)
    assert 'href="v1.10.0/"' in hero
    assert 'podman pull <span class="host">HOST</span>/deuxfleurs/garage:v1.10.0' in hero
    # version links open the build page, not JSON
    assert '<td class="tag"><a href="v1.9.1_debug/">v1.9.1+debug</a>' in source
    # yanked: struck out with the (escaped) reason
    assert '<tr class="build yanked" data-tag="v1.9.0">' in source
    assert "<del>v1.9.0</del>" in source
    assert "yanked: corrupts data on upgrade &lt;script&gt;" in source
    assert '<a href="_artreg/index/release/1.html">1</a>' in source


def test_root_is_bounded_at_any_history_size() -> None:
    many = [build(f"v{n // 1000}.{n % 1000}.0", Category.RELEASE, n % 28) for n in range(2000)]
    dev = [build(f"{n:040x}", Category.DEV, n) for n in range(98_000)]
    source = render_root_page(
        SITE, sections(many + dev, page_size=1000), latest=LATEST, generated=NOW
    )
    size = len(source.encode())
    assert size < 64_000, size
    assert source.count('<tr class="build"') == ROOT_RELEASE_ROWS + ROOT_OTHER_ROWS
    assert "All 98000, page by page:" in source
    assert "(each page links the next; 98 pages)" in source
    print(f"root index.html for 100,000 builds: {size} bytes")


def test_history_page_links_root_next_and_json() -> None:
    source = history_page()
    assert '<a href="../../../">all downloads</a>' in source
    assert '<a href="7.html">next page</a>' in source and '<a href="3.json">as JSON</a>' in source
    assert 'href="../../../v1.9.0/"' in source
    assert 'href="../../../v1.10.0/linux/amd64/garage"' in source
    assert html_page_key(Category.DEV, 12) == "_artreg/index/dev/12.html"
    last = render_history_page(SITE, Category.DEV, 1, [entry_of(DEV[0])], None)
    assert "last page" in last and "next page" not in last


def test_build_page_contents() -> None:
    source = build_page()
    assert build_page_key("v1.9.1+debug") == "v1.9.1_debug/index.html"
    for f in LATEST.files:
        assert f">{f.sha256}</code>" in source  # the full digest
    assert source.count('<button type="button" class="copy"') == len(LATEST.files) + 2 + 4
    assert 'href="linux/amd64/garage"' in source
    assert 'href="linux/amd64/%3Cscript%3Ealert%281%29%3C/script%3E.tar.gz"' in source
    assert "sha256sum -c --ignore-missing SHA256SUMS" in source
    assert (
        "ssh-keygen -Y verify -f allowed_signers -I garage -n file -s SHA256SUMS.sig "
        "&lt; SHA256SUMS" in source
    )
    assert 'href="../_artreg/allowed_signers"' in source
    assert f'href="https://git.deuxfleurs.fr/Deuxfleurs/garage/commit/{SHA}"' in source
    assert 'href="https://git.deuxfleurs.fr/Deuxfleurs/garage/releases/tag/v1.10.0"' in source
    digest = LATEST.images[0].digest
    host = '<span class="host">HOST</span>'
    for tool in ("podman", "docker"):
        assert f"{tool} pull {host}/deuxfleurs/garage:v1.10.0</pre>" in source
        assert f"{tool} pull {host}/deuxfleurs/garage@{digest}</pre>" in source
    assert 'href="../_artreg/builds/v1.10.0.json"' in source
    assert links(source).scripts == 1
    configured = render_build_page(
        Site(project="garage", site_url="https://dl.example.org/"), LATEST
    )
    assert "podman pull dl.example.org/deuxfleurs/garage:v1.10.0" in configured
    assert "ssh-keygen" not in configured  # no signing configured: no verify command
    assert "commit <code>0123456789ab</code>" in configured  # no repository: no link


def test_build_page_yanked() -> None:
    source = build_page(RELEASES[1], yanked="corrupts data " + EVIL)
    assert "<del>v1.9.0</del>" in source
    assert "<strong>Yanked:</strong> corrupts data &lt;script&gt;" in source
    assert 'href="linux/amd64/garage"' in source  # files stay downloadable


# --- in a real browser ---------------------------------------------------------------------------

# Headless Chromium will not make a window narrower than 500 px: the page is laid out in a
# 400 px wide srcdoc iframe (same origin, so the parent can read what the page measured).
FRAME = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body{{margin:0;background:#999}}iframe{{width:{width}px;height:{height}px;border:0;
display:block;background:#fff}}</style></head><body>
<iframe id="page" srcdoc="{srcdoc}"></iframe>
<script>
const frame = document.getElementById("page");
frame.addEventListener("load", () => {{
  const doc = frame.contentDocument;
  document.body.setAttribute("data-width", String(doc.documentElement.scrollWidth));
  document.body.setAttribute("data-client", String(doc.documentElement.clientWidth));
  document.body.setAttribute("data-buttons",
    String([...doc.querySelectorAll("button.copy")].filter(b => !b.hidden).length));
}});
</script></body></html>"""


def framed(source: str, width: int, height: int = 1400) -> str:
    return FRAME.format(width=width, height=height, srcdoc=html.escape(source, quote=True))


def probe(tmp_path: Path, source: str, width: int) -> tuple[int, int, int]:
    path = tmp_path / "frame.html"
    path.write_text(framed(source, width), encoding="utf-8")
    dom = chromium(tmp_path, "--window-size=600,900", "--dump-dom", path.as_uri())
    found = re.search(r'data-width="(\d+)" data-client="(\d+)" data-buttons="(\d+)"', dom)
    assert found, dom[-2000:]
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


@pytest.mark.parametrize("page", [root_page, build_page, history_page])
def test_no_horizontal_scroll_at_400px(tmp_path: Path, page: object) -> None:
    source = page()  # type: ignore[operator]
    width, client, buttons = probe(tmp_path, source, 400)
    assert client == 400 and width <= 400, (client, width)
    assert buttons == source.count('class="copy"')  # the script revealed every copy button


def test_screenshots(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shots = {
        "site-root-1200.png": (root_page(), 1200),
        "site-root-400.png": (root_page(), 400),
        "site-build-1200.png": (build_page(), 1200),
        "site-build-400.png": (build_page(), 400),
    }
    for name, (source, width) in shots.items():
        target = ARTIFACTS / name
        target.unlink(missing_ok=True)
        path = tmp_path / name.replace(".png", ".html")
        # at 400 px the page sits in a 400 px frame of a 500 px window (Chromium's minimum)
        path.write_text(framed(source, width) if width < 500 else source, encoding="utf-8")
        window = max(width, 500)
        chromium(tmp_path, f"--screenshot={target}", f"--window-size={window},1400", path.as_uri())
        data = target.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 10_000, f"{target}: {len(data)} bytes, looks blank"
