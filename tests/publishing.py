"""End-to-end publishing helpers: a project publishing to one target, run in-process.

A :class:`Site` is a temporary project directory (``artreg.toml`` plus artifact
files) whose one target, ``test``, is a dir store, a moto bucket or an s3rver
bucket. ``site.run("apply", ...)`` runs ``artreg.cli.main`` with ``--config``
and captures its output; ``site.snapshot()`` reads every object back through
the store; :func:`check_references` follows the index from ``index.json``
like a client would and reports every reference to a missing object.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import re
import shutil
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from servers import S3Backend

from artreg.cli import main
from artreg.config import Target
from artreg.core import ci
from artreg.core.index import INDEX_PREFIX
from artreg.core.manifest import BUILDS_PREFIX, build_from_bytes, manifest_key
from artreg.errors import NotFound
from artreg.publish.lease import LEASE_KEY
from artreg.stores import Store, open_store

KINDS = ("dir", "moto", "s3rver", "rgw")
NOW = "2025-06-01T12:00:00Z"
# Request names that change a bucket (the probe's own writes are counted apart).
WRITE_OPERATIONS = (
    "PutObject",
    "DeleteObjects",
    "DeleteObject",
    "CopyObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
)
# Variables that would give the build a tag or commit from the environment.
CI_VARIABLES = ci.VARIABLES
DEFAULT_FILES = (("linux/amd64", "out/amd64/app"), ("linux/arm64", "out/arm64/app"))


@dataclass
class Run:
    """One CLI run: exit code and captured output."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Site:
    """A project publishing to the target ``test`` on one backend."""

    kind: str  # "dir" | "moto" | "s3rver"
    root: Path  # the project directory (holds artreg.toml)
    target: Target
    backend: S3Backend | None = None
    files: Sequence[tuple[str, str]] = DEFAULT_FILES
    page_size: int | None = None
    newest: int | None = None
    extra_toml: str = ""
    commands: list[list[str]] = field(default_factory=list)
    # How the commands run by ``run`` open the store (None: artreg.stores.open_store):
    # tests inject a counting, failing or recording store here.
    open_store: Callable[[Target, Path], Store] | None = None
    _reader: Store | None = field(default=None, repr=False)

    @property
    def config_path(self) -> Path:
        return self.root / "artreg.toml"

    def target_toml(self) -> str:
        if self.backend is None:
            return f'[targets.test]\ntype = "dir"\npath = "{self.target.path}"\n'
        return self.backend.toml(self.target)

    def configure(self, **changes: Any) -> None:
        """Write artreg.toml (after applying ``changes`` to the fields above)."""
        for name, value in changes.items():
            setattr(self, name, value)
        lines = ['[project]\nname = "demo"\n']
        index = []
        if self.page_size is not None:
            index.append(f"page_size = {self.page_size}\n")
        if self.newest is not None:
            index.append(f"newest = {self.newest}\n")
        if index:
            lines.append("[index]\n" + "".join(index))
        specs = ",\n".join(
            f'  {{ platform = "{platform}", path = "{path}" }}' for platform, path in self.files
        )
        lines.append(f'[[artifacts]]\nname = "app"\nfiles = [\n{specs},\n]\n')
        lines.append(self.target_toml())
        lines.append(self.extra_toml)
        self.config_path.write_text("\n".join(lines))

    def write(self, path: str, data: bytes) -> Path:
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(data)
        return full

    def write_build(self, seed: str) -> dict[str, bytes]:
        """Write every declared file with content derived from ``seed``; returns path -> bytes."""
        written = {}
        for platform, path in self.files:
            data = f"{seed} {platform}\n".encode()
            self.write(path, data)
            written[path] = data
        return written

    def run(self, *args: str) -> Run:
        """``artreg ARGS --config artreg.toml`` in this process."""
        argv = [*args, "--config", str(self.config_path)]
        self.commands.append(argv)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv, open_store=self.open_store)
        return Run(code, out.getvalue(), err.getvalue())

    def apply(self, tag: str, now: str = NOW, *extra: str) -> dict[str, Any]:
        """A successful ``apply --json``: its report."""
        result = self.run("apply", "--target", "test", "--tag", tag, "--now", now, "--json", *extra)
        assert result.code == 0, result.err
        report: dict[str, Any] = result.json()
        return report

    def publish(self, tag: str, seed: str | None = None, now: str = NOW) -> dict[str, Any]:
        """Write the build's files (content from ``seed``, default the tag) and apply it."""
        self.write_build(seed if seed is not None else tag)
        return self.apply(tag, now)

    def store(self) -> Store:
        """A store on the target for reading it back (one per site: clients are slow to make)."""
        if self._reader is None:
            self._reader = open_store(self.target, self.root)
        return self._reader

    def snapshot(self) -> dict[str, bytes]:
        """Every key of the target -> its bytes, read through the store."""
        store = self.store()
        return {info.key: store.get(info.key) for info in store.list()}

    def clone(self, root: Path) -> Site:
        """A copy of this project at ``root`` publishing to a copy of the target."""
        shutil.copytree(self.root, root, symlinks=True)
        site = dataclasses.replace(self, root=root, commands=[], _reader=None)
        if self.backend is not None:
            site.target = self.backend.target(prefix=self.target.prefix)
            client = self.backend.client()
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.target.bucket)
            for obj in (o for page in pages for o in page.get("Contents", [])):
                source = {"Bucket": self.target.bucket, "Key": obj["Key"]}
                client.copy_object(Bucket=site.target.bucket, Key=obj["Key"], CopySource=source)
        site.configure()
        return site

    def url(self, key: str) -> str:
        """The anonymous URL of ``key`` on the S3 server."""
        assert self.backend is not None
        return self.backend.url(str(self.target.bucket), self.target.prefix + key)


def make_site(request: pytest.FixtureRequest, tmp_path: Path, kind: str, **options: Any) -> Site:
    """A configured site on ``kind``; s3 ones live under the prefix ``_releases/``."""
    monkeypatch = request.getfixturevalue("monkeypatch")
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "project"
    root.mkdir(parents=True)
    website = options.pop("website", False)  # s3: anonymous reads (a dir target always has them)
    if kind == "dir":
        site = Site(kind, root, Target(name="test", type="dir", path="public"), **options)
    else:
        backend = request.getfixturevalue(f"{kind}_backend")
        target = backend.target(prefix="_releases/", website=website)
        site = Site(kind, root, target, backend, **options)
    site.configure()
    return site


def writes(report: Mapping[str, Any]) -> dict[str, int]:
    """The write requests of an apply report, by operation (zeros left out)."""
    requests: Mapping[str, int] = report["requests"]
    return {op: n for op, n in requests.items() if op in WRITE_OPERATIONS and n}


def keys_written(report: Mapping[str, Any]) -> list[str]:
    """The keys an apply report says it wrote (creates and replaces), in order."""
    return [a["key"] for a in report["actions"] if a["op"] != "delete"]


def resolve(base_key: str, reference: str) -> str:
    """A relative link in the document at ``base_key``, as a key (RFC 3986 resolution)."""
    url = urllib.parse.urljoin("http://host/" + base_key, reference)
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path).removeprefix("/")


def read_json(store: Store, key: str) -> Any:
    return json.loads(store.get(key))


def follow_index(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Each category's entries, following ``first``/``next`` from index.json like a client."""
    root = read_json(store, "index.json")
    found: dict[str, list[dict[str, Any]]] = {}
    for category, summary in root["categories"].items():
        entries: list[dict[str, Any]] = []
        seen: list[str] = []
        starts: list[dict[str, Any]] = []
        key = None if summary["first"] is None else resolve("index.json", summary["first"])
        while key is not None:
            assert key not in seen, f"page loop at {key}"
            seen.append(key)
            page = read_json(store, key)
            entries += page["entries"]
            starts.append({k: page["entries"][0][k] for k in ("tag", "published")})
            key = None if page["next"] is None else resolve(key, page["next"])
        assert seen == [resolve("index.json", p) for p in summary["pages"]], category
        assert starts == summary["starts"], category
        assert len(entries) == summary["count"], category
        found[category] = entries
    return found


_HREF = re.compile(r'href="([^"#?]+)"')


def check_references(store: Store) -> list[str]:
    """Every reference, reachable from index.json or a manifest, to an object that is missing.

    Followed like a reader would: the root's page links and newest entries,
    each page's ``next`` and entries (their files and their build manifests),
    every link in index.html, and the files of every manifest under
    ``_artreg/builds/``.
    """
    present = {info.key for info in store.list()}
    missing: list[str] = []

    def need(key: str, by: str) -> None:
        if key not in present:
            missing.append(f"{by} -> {key}")

    def entries(items: Sequence[Mapping[str, Any]], where: str, root: str) -> None:
        for entry in items:
            need(resolve(where, root + manifest_key(entry["tag"])), where)
            for file in entry["files"]:
                need(resolve(where, root + file["key"]), where)

    for key in sorted(k for k in present if k.startswith(BUILDS_PREFIX)):
        build = build_from_bytes(store.get(key), key)
        for file in build.files:
            need(file.key, key)
    try:
        root = read_json(store, "index.json")
    except NotFound:
        return missing
    need(resolve("index.json", root["html"]), "index.json")
    for summary in root["categories"].values():
        entries(summary["newest"], "index.json", "")
        links = [summary["first"], *summary["pages"]] if summary["first"] else summary["pages"]
        for link in links:
            need(resolve("index.json", link), "index.json")
        for link in summary["pages"]:
            page_key = resolve("index.json", link)
            if page_key not in present:
                continue
            page = read_json(store, page_key)
            entries(page["entries"], page_key, page["root"])
            if page["next"] is not None:
                need(resolve(page_key, page["next"]), page_key)
    # Every page of the site: the root page, the HTML index pages and the build pages; a
    # link to a directory is served by its index document (S3 websites, artreg serve).
    # A build's page is reachable once its manifest is (a crash before it leaves the page
    # unlinked: the next run publishes the build).
    pages = [
        k
        for k in sorted(present)
        if k == "index.html"
        or (k.startswith(INDEX_PREFIX) and k.endswith(".html"))
        or (
            k.endswith("/index.html")
            and f"{BUILDS_PREFIX}{k.removesuffix('/index.html')}.json" in present
        )
    ]
    for page in pages:
        for link in _HREF.findall(store.get(page).decode()):
            if "://" in link or link.startswith(("#", "mailto:")):
                continue
            target = resolve(page, link.split("#", 1)[0])
            need(target + "index.html" if target.endswith("/") or not target else target, page)
    return missing


def published_state(store: Store) -> dict[str, Any]:
    """What readers get, up to page boundaries: objects, ordered entries, root summary.

    Two targets holding the same builds may split their pages differently
    (``update`` keeps page ids stable, a rebuild packs them afresh): the pages
    themselves are compared through the entries they list, in order. Pages no
    longer linked from index.json are reported as ``orphan pages``.
    """
    everything = {info.key: store.get(info.key) for info in store.list()}
    # The lease is bookkeeping, not published state: a crashed run leaves it, expired.
    derived = ("index.json", "index.html", LEASE_KEY)
    objects = {
        k: v for k, v in everything.items() if k not in derived and not k.startswith(INDEX_PREFIX)
    }
    # index.html links the pages by id: ids aside, it must be the same page.
    html = re.sub(
        rb"_artreg/index/(\w+)/\d+\.(json|html)",
        rb"_artreg/index/\1/N.\2",
        everything["index.html"],
    )
    root = json.loads(everything["index.json"])
    linked = {
        resolve("index.json", link)
        for summary in root["categories"].values()
        for link in summary["pages"]
    }
    linked |= {key.removesuffix(".json") + ".html" for key in linked}  # their HTML twins
    summaries = {
        category: {k: v for k, v in summary.items() if k not in ("first", "pages", "starts")}
        for category, summary in root["categories"].items()
    }
    return {
        "objects": objects,
        "entries": follow_index(store),
        "root": {k: v for k, v in root.items() if k not in ("generated", "categories")},
        "html": html,
        "categories": summaries,
        "orphan pages": sorted(
            k for k in everything if k.startswith(INDEX_PREFIX) and k not in linked
        ),
    }


def without_generated(snapshot: Mapping[str, bytes]) -> dict[str, Any]:
    """A snapshot with index.json parsed and its ``generated`` dropped (and index.html's)."""
    result: dict[str, Any] = dict(snapshot)
    if "index.json" in result:
        root = json.loads(result["index.json"])
        root.pop("generated", None)
        result["index.json"] = root
    if "index.html" in result:
        result["index.html"] = re.sub(
            rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?(\s*UTC)?",
            b"<time>",
            result["index.html"],
        )
    return result


@contextlib.contextmanager
def no_change(site: Site) -> Iterator[dict[str, bytes]]:
    """Assert the target is byte-identical after the block."""
    before = site.snapshot()
    yield before
    after = site.snapshot()
    assert after == before, sorted(k for k in {*before, *after} if before.get(k) != after.get(k))


def http_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        body: bytes = response.read()
        return body


def download_everything(index_url: str) -> dict[str, dict[str, bytes]]:
    """Read an index over HTTP as spec.md section 8 says: tag -> {file key: bytes}.

    Every download's sha256 is checked against its entry.
    """
    root = json.loads(http_get(index_url))
    found: dict[str, dict[str, bytes]] = {}
    for summary in root["categories"].values():
        url = (
            None if summary["first"] is None else urllib.parse.urljoin(index_url, summary["first"])
        )
        while url is not None:
            page = json.loads(http_get(url))
            for entry in page["entries"]:
                files = found.setdefault(entry["tag"], {})
                for file in entry["files"]:
                    quoted = "/".join(
                        urllib.parse.quote(s, safe="") for s in file["key"].split("/")
                    )
                    body = http_get(urllib.parse.urljoin(url, page["root"] + quoted))
                    assert hashlib.sha256(body).hexdigest() == file["sha256"], file["key"]
                    files[file["key"]] = body
            url = None if page["next"] is None else urllib.parse.urljoin(url, page["next"])
    return found
