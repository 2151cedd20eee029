"""Every table and key of ``artreg.toml``, described once.

The checker (``check.py``) reads each key's type, bounds, validator and "expected ..."
text from here; the JSON Schema (``schema.py``) is generated from the same
description, so the two cannot drift apart. Rules across keys that a
description cannot hold (duplicates, examples, the release rule) stay as small
functions in the checker.
"""

from __future__ import annotations

from collections.abc import Mapping

from artreg.config import values as v
from artreg.config.spec import Case, Key, Table, Variants
from artreg.core.durations import DURATION_EXPECTED
from artreg.core.keys import OCI_REPOSITORY, PLATFORM_RULE, platform_problem

PRINTABLE = "^[^\\u0000-\\u001f\\u007f]*\\S[^\\u0000-\\u001f\\u007f]*$"
_PORT = "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
ENDPOINT_PATTERN = f"^https?://(?:{v.ENDPOINT_HOST.pattern})(?::{_PORT})?(?:/[^\\s?#]*)?$"


# --- [project] --------------------------------------------------------------------------------

PROJECT = Table(
    "The project.",
    (
        Key(
            "name",
            "string",
            "Project name shown in the index and docs. Default: the config file's directory name.",
            expected="a non-empty, single-line string",
            valid=v.printable_name,
            schema={"type": "string", "pattern": PRINTABLE},
        ),
        Key(
            "repository",
            "string",
            "The project's repository on its forge (GitHub, GitLab, Forgejo/Gitea): build pages "
            "link commits and tags. Example: 'https://github.com/owner/name'.",
            expected="the repository's https URL, like 'https://github.com/owner/name'",
            valid=v.repository_url,
            schema={
                "type": "string",
                "pattern": "^https?://[^/\\s\"'<>?#]+/[^\\s\"'<>?#]+/[^\\s\"'<>?#]+$",
            },
        ),
        Key(
            "site_url",
            "string",
            "The URL the published target is served at (e.g. 'https://dl.example.org/'): the "
            "feed's xml:base and the registry host in pull commands.",
            expected="the http(s) URL the target is served at, like 'https://dl.example.org/'",
            valid=v.site_url,
            schema={"type": "string", "pattern": "^https?://[^/\\s\"'<>?#@]+(/[^\\s\"'<>?#]*)?$"},
        ),
    ),
)

# --- [tags] -----------------------------------------------------------------------------------

KEEP = Key(
    "keep",
    "string",
    "Keep every build of this category forever. Contradicts keep_last and expire_after.",
    expected="'forever' (or remove keep and set keep_last / expire_after to let builds expire)",
    valid=lambda text: text == "forever",
    schema={"const": "forever"},
)
KEEP_LAST = Key(
    "keep_last",
    "integer",
    "Never delete the newest N builds of this category (by publish time).",
    low=0,
)
EXPIRE_AFTER = Key(
    "expire_after",
    "duration",
    "Builds older than this (and not among the newest keep_last) are deleted: <integer><unit>, "
    "unit s, m, h, d or w, e.g. '30d'.",
    expected=DURATION_EXPECTED,
    positive=True,
)
PROTECT = Key(
    "protect",
    "strings",
    "Tags or fnmatch glob patterns (v1.2.*) that retention never deletes.",
    items_expected="an array of tags or glob patterns",
    expected="a tag or glob pattern (letters, digits, '.', '_', '+', '-', and '*', '?', '[...]')",
    valid=v.PROTECT_PATTERN.fullmatch,
    schema={
        "type": "array",
        "items": {"type": "string", "pattern": "^[A-Za-z0-9._+*?!\\[\\]-]{1,128}$"},
    },
)
ALLOW_EXPIRE = Key(
    "allow_expire",
    "boolean",
    "Let keep_last / expire_after delete releases (they are kept forever otherwise).",
)
EXAMPLES = Key(
    "examples",
    "strings",
    "Example tags for the generated docs; each must classify into this category.",
    items_expected="an array of tags",
    expected="a tag",
    valid=lambda _: True,
    schema={"type": "array", "items": {"type": "string", "minLength": 1}},
)


def _match(description: str) -> Key:
    # Checked by the checker itself: a broken expression must stop the convention.
    return Key("match", "other", description, schema={"type": "string", "format": "regex"})


_EXPIRING = ("keep_last", "expire_after")
_CONTRADICTS = {"keep": _EXPIRING}

RELEASE = Table(
    "Releases: semver without pre-release or build metadata, shown by default, kept forever "
    "unless allow_expire = true.",
    (KEEP, KEEP_LAST, EXPIRE_AFTER, PROTECT, ALLOW_EXPIRE),
    hints={
        "match": "unknown key; a release is plain semver behind tags.prefix: "
        "match applies only to [tags.extra] and [tags.dev]",
        "examples": "unknown key; examples apply only to [tags.extra] and [tags.dev]",
    },
    conflicts=_CONTRADICTS,
    needs_flag=(_EXPIRING, "allow_expire"),
)


def _may_expire(category: str) -> Mapping[str, str]:
    return {
        "allow_expire": "unknown key; allow_expire applies only to [tags.release] "
        f"({category} builds may always expire)"
    }


EXTRA = Table(
    "Extra builds: semver with a pre-release and/or build metadata (v1.2.3-rc.1, v1.2.3+feat), "
    "hidden behind a button. Default: keep_last = 10, expire_after = '180d'.",
    (
        KEEP,
        KEEP_LAST,
        EXPIRE_AFTER,
        PROTECT,
        _match(
            "Optional: the whole extra tag (prefix included) must also match this regular "
            "expression."
        ),
        EXAMPLES,
    ),
    hints=_may_expire("extra"),
    conflicts=_CONTRADICTS,
)
DEV = Table(
    "Dev builds of untagged commits, hidden. Default: match = '[0-9a-f]{40}', keep_last = 30, "
    "expire_after = '30d'.",
    (
        KEEP,
        KEEP_LAST,
        EXPIRE_AFTER,
        PROTECT,
        _match(
            "Regular expression the whole dev tag must match. Default: '[0-9a-f]{40}' "
            "(a commit id)."
        ),
        EXAMPLES,
    ),
    hints=_may_expire("dev"),
    conflicts=_CONTRADICTS,
)
RULES = {"release": RELEASE, "extra": EXTRA, "dev": DEV}

TAG_PREFIX = Key(
    "prefix",
    "string",
    "What version tags start with: 'v' for v1.2.3, '' for bare semver. Up to 16 letters, '.', "
    "'_' or '-'.",
    expected="'' (bare semver) or a short prefix: up to 16 letters, '.', '_' or '-', "
    "starting with a letter or '_'",
    valid=v.TAG_PREFIX.fullmatch,
    schema={"type": "string", "pattern": f"^{v.TAG_PREFIX.pattern}$"},
    default="v",
)

# A target overrides only these, per category.
OVERRIDABLE = ("keep_last", "expire_after", "protect")
_OVERRIDE = (
    "not overridable per target (only keep_last, expire_after and protect are); "
    "set {key} in [tags.{category}], which applies to every target"
)


def _override(category: str) -> Table:
    refused = [k for k in RULES[category].names() if k not in OVERRIDABLE]
    if "allow_expire" not in refused:
        refused.append("allow_expire")
    table = RULES[category].only(*OVERRIDABLE)
    return Table(
        "This target's retention for the category, merged over [tags.<category>] "
        "(protect lists are combined).",
        table.keys,
        hints={key: _OVERRIDE.format(key=key, category=category) for key in refused},
    )


OVERRIDES = {category: _override(category) for category in RULES}


def _table_key(name: str, table: Table) -> Key:
    return Key(name, "other", table=table)


TAGS = Table(
    "The tag convention and retention per category.",
    (TAG_PREFIX, *(_table_key(name, table) for name, table in RULES.items())),
)
TARGET_TAGS = Table(
    "Per-target retention overrides, merged over [tags].",
    tuple(_table_key(name, table) for name, table in OVERRIDES.items()),
    hints={
        "prefix": "the tag convention is the same for every target; set it in [tags] "
        "(a target overrides only [tags.release|extra|dev] keep_last, expire_after, protect)"
    },
)

# --- [index], [gc], [signing], [latest] -------------------------------------------------------

INDEX = Table(
    "Layout of the static index.",
    (
        Key("page_size", "integer", "Entries per index page (like OCI's n).", low=1, high=10000),
        Key(
            "newest",
            "integer",
            "Newest entries per category repeated in the root index.json.",
            low=0,
            high=1000,
        ),
    ),
)
GC = Table(
    "Brakes on garbage collection.",
    (
        Key(
            "grace_period",
            "duration",
            "Unreferenced blobs younger than this are never collected (a concurrent apply may "
            "reference them). Default '24h'.",
            expected=DURATION_EXPECTED,
        ),
        Key(
            "max_delete_fraction",
            "fraction",
            "Refuse to delete more than this fraction of a category in one run (unless "
            "--allow-mass-delete).",
        ),
    ),
)
SIGNING = Table(
    "Sign each build's SHA256SUMS with ssh-keygen -Y sign. The private key comes from an "
    "environment variable or a file, never from this file.",
    (
        Key(
            "key_env",
            "string",
            "Name of the environment variable holding the OpenSSH private key text (unencrypted).",
            expected="the NAME of an environment variable holding the private key (like "
            "'ARTREG_SIGNING_KEY'), never the key itself",
            valid=v.env_name,
            schema={"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
        ),
        Key(
            "key_file",
            "string",
            "Path of the OpenSSH private key file (unencrypted), relative to this file.",
            expected="the path of an OpenSSH private key file, never the key itself",
            valid=v.key_file,
            schema={
                "type": "string",
                "minLength": 1,
                "pattern": "^[^\\u0000-\\u001f\\u007f]+$",
                "not": {"pattern": "PRIVATE KEY"},
                "maxLength": 4096,
            },
        ),
    ),
    at_most_one=True,
)
LATEST = Table(
    "Stable URLs: latest/ always serves the highest release.",
    (
        Key(
            "extras",
            "string",
            "Also mirror the extra build of highest semver precedence into this directory, "
            "'latest-<suffix>' (e.g. 'latest-rc').",
            expected="a directory name 'latest-<suffix>' like 'latest-rc' (letters, digits, "
            "'.', '_', '-'; not a tag)",
            valid=v.latest_directory,
            schema={
                "type": "string",
                "pattern": "^latest-[A-Za-z0-9._-]{1,56}$",
                "not": {"pattern": "[.][.]"},
            },
        ),
    ),
)

# --- [[artifacts]] ----------------------------------------------------------------------------

_FILE_ENTRIES = '{ platform = "linux/amd64", path = "..." } tables'
FILE = Table(
    "",
    (
        Key(
            "platform",
            "string",
            expected=f"a platform: {PLATFORM_RULE}",
            valid=lambda text: platform_problem(text) is None,
            schema={"$ref": "#/$defs/platform"},
            missing='each file needs platform = "linux/amd64" (or similar)',
        ),
        Key(
            "path",
            "string",
            "The file (or glob) to publish, relative to artreg.toml; its file name becomes the "
            "key <tag>/<platform>/<name>.",
            expected="a file path or glob whose file name has no whitespace, '+', '%', '#' or '?' "
            "(they break download URLs)",
            valid=v.publishable_path,
            schema={"type": "string", "minLength": 1, "pattern": "[^/]$"},
            missing="each file needs path = (the file to publish, relative to the config file)",
        ),
    ),
    required=("platform", "path"),
)
OCI_GRAMMAR = "lowercase letters and digits, separated by '.', '_', '__', '-' or '/'"
ARTIFACT = Table(
    "",
    (
        Key(
            "name",
            "string",
            "Unique artifact name.",
            expected="a name of letters, digits, '.', '_' and '-' (not starting with '.', no '..')",
            valid=v.safe(v.ARTIFACT_NAME),
            schema={"$ref": "#/$defs/safeName"},
            missing='every artifact needs name = "..."',
        ),
        Key(
            "type",
            "other",
            "'files' (default): files per platform; 'oci': an OCI image.",
            expected="'files' (the default) or 'oci'",
            schema={"enum": ["files", "oci"]},
            default="files",
        ),
        Key(
            "files",
            "other",
            "files artifacts: one { platform, path } per published file.",
            expected=f"a non-empty array of {_FILE_ENTRIES}",
            missing=f"a files artifact needs files = [...], an array of {_FILE_ENTRIES}",
            schema={"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/file"}},
        ),
        Key(
            "path",
            "string",
            "oci artifacts: an OCI image layout directory, oci-archive or docker-archive.",
            schema={"type": "string", "minLength": 1},
            missing="an oci artifact needs path = (an OCI image layout directory, oci-archive "
            "or docker-archive)",
        ),
        Key(
            "repository",
            "string",
            "oci artifacts: pulled as <host>/<repository>:<tag>. Default: the artifact name.",
            expected=f"an OCI repository name ({OCI_GRAMMAR})",
            valid=OCI_REPOSITORY.fullmatch,
            schema={"type": "string", "pattern": f"^{OCI_REPOSITORY.pattern}$"},
        ),
        Key(
            "aliases",
            "boolean",
            "oci artifacts: also tag `latest` and <prefix>MAJOR.MINOR, each pointing at the "
            "highest release (moved by apply). Default: false.",
        ),
    ),
    required=("name",),
    variants=Variants(
        "type",
        (
            Case(
                "oci",
                ("path", "repository", "aliases"),
                ("path",),
                "applies only to oci artifacts (type = 'oci'); a files artifact lists "
                "files = [{ platform = ..., path = ... }]",
            ),
            Case(
                "files",
                ("files",),
                ("files",),
                "applies only to files artifacts; an oci artifact has path = (an image layout "
                "directory, oci-archive or docker-archive)",
            ),
        ),
        defaulted=True,
    ),
)

# --- [targets.NAME] ---------------------------------------------------------------------------

_PREFIX_EXPECTED = (
    "'' or a key prefix like '_releases/' (ending with '/', no leading '/', "
    "segments of letters, digits, '.', '_' and '-')"
)
TARGET = Table(
    "A publishing target.",
    (
        Key(
            "type",
            "other",
            "'dir' (a local directory) or 's3' (a bucket).",
            expected="'dir' or 's3'",
            schema={"enum": ["dir", "s3"]},
        ),
        Key(
            "prefix",
            "string",
            "Key prefix inside the bucket/directory: '' or like '_releases/' (ends with '/', no "
            "leading '/').",
            expected=_PREFIX_EXPECTED,
            valid=v.safe(v.KEY_PREFIX),
            schema={"type": "string", "pattern": f"^{v.KEY_PREFIX.pattern}$"},
            default="",
        ),
        Key("tags", "other", table=TARGET_TAGS),
        Key(
            "default",
            "boolean",
            "Use this target when neither --target nor ARTREG_TARGET chooses one (at most one "
            "target may say true).",
            default=False,
        ),
        Key(
            "path",
            "string",
            "dir: the directory to publish into.",
            schema={"type": "string", "minLength": 1},
            missing='a dir target needs path = "public" (the directory)',
        ),
        Key(
            "bucket",
            "string",
            "s3: the bucket name.",
            expected="a bucket name (letters, digits, '.', '_' and '-')",
            valid=v.BUCKET.fullmatch,
            schema={"type": "string", "pattern": f"^{v.BUCKET.pattern}$"},
            missing='an s3 target needs bucket = "..." (the bucket name)',
        ),
        Key(
            "endpoint",
            "other",
            "s3: endpoint URL for non-AWS stores (Garage, MinIO); omit for AWS. http(s), a host, "
            "an optional port (1-65535) and path; no user:password@, query string or fragment.",
            expected="an http(s) URL like 'https://s3.example.org'",
            schema={"type": "string", "pattern": ENDPOINT_PATTERN},
        ),
        Key(
            "region",
            "string",
            "s3: the region, like 'us-east-1' (Garage: usually 'garage').",
            expected="a region name like 'us-east-1'",
            valid=v.printable_name,
            schema={"type": "string", "pattern": PRINTABLE},
        ),
        Key(
            "profile",
            "string",
            "s3: an AWS profile NAME from ~/.aws/config (never a credential).",
            expected="an AWS profile name (from ~/.aws/config), without whitespace",
            valid=v.no_whitespace,
            schema={"type": "string", "pattern": "^\\S+$"},
        ),
        Key(
            "ca_bundle",
            "string",
            "s3: a PEM file of the CA certificates that signed an https endpoint's certificate "
            "(relative to the directory of artreg.toml); overrides AWS_CA_BUNDLE.",
            expected="the path of a PEM file of CA certificates, like 'certs/ca.pem'",
            valid=v.printable_name,
            schema={"type": "string", "pattern": PRINTABLE},
        ),
    ),
    required=("type",),
    variants=Variants(
        "type",
        (
            Case(
                "s3",
                ("bucket", "endpoint", "region", "profile", "ca_bundle"),
                ("bucket",),
                "applies only to s3 targets (type = 's3')",
            ),
            Case(
                "dir",
                ("path",),
                ("path",),
                "applies only to dir targets (type = 'dir'); an s3 target has bucket and prefix",
            ),
        ),
    ),
)

# --- the document -----------------------------------------------------------------------------

DOCUMENT = Table(
    "artreg configuration: artifacts, targets (buckets) and tag rules. Reference: "
    "`artreg docs config`. Credentials never go here: use the AWS chain.",
    (
        Key("project", "other", table=PROJECT),
        Key("tags", "other", table=TAGS),
        Key(
            "artifacts",
            "other",
            "What a build publishes: files per platform, or OCI images.",
            expected="an array of tables ([[artifacts]])",
            table=ARTIFACT,
            each="array",
            ref="artifact",
        ),
        Key(
            "targets",
            "other",
            "Where builds are published: [targets.NAME]. Default: one dir target 'local' at "
            "'public'.",
            expected="a table of [targets.NAME] tables",
            table=TARGET,
            each="named",
            ref="target",
            schema={"pattern": f"^{v.TARGET_NAME.pattern}$"},
        ),
        Key("index", "other", table=INDEX),
        Key("gc", "other", table=GC),
        Key("signing", "other", table=SIGNING),
        Key("latest", "other", table=LATEST),
    ),
)
