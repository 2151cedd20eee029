"""Broken ``artreg.toml`` snippets and the exact problems the loader reports for each.

Shared by config/load_test (the loader's messages) and schema_test (the JSON Schema must
reject the snippets it can express, flagged ``schema=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

FILE = "artreg.toml"
DURATION = "expected a duration like '30d', '12h' or '90m', at most 36500d (100 years)"
CREDENTIALS = (
    "credentials never go in artreg.toml (it is committed); remove this and let the AWS chain "
    "provide them: the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) "
    "environment variables, AWS_PROFILE, or ~/.aws/credentials "
    '(choose a profile with profile = "NAME" in the s3 target)'
)
RELEASE_FOREVER = (
    "releases are kept forever: remove {key}, or add allow_expire = true to [tags.release] "
    "to let retention delete releases"
)
PLATFORM = (
    "expected a platform: one to three segments of letters, digits, '.', '_' and '-' "
    "separated by '/' (like 'linux/amd64', 'linux/arm/v7' or 'x86_64-unknown-linux-musl'), "
    "no '..'"
)
ARTIFACT_NAME = (
    "expected a name of letters, digits, '.', '_' and '-' (not starting with '.', no '..')"
)
KEY_PREFIX = (
    "expected '' or a key prefix like '_releases/' (ending with '/', no leading '/', "
    "segments of letters, digits, '.', '_' and '-')"
)
TAG_PREFIX = (
    "expected '' (bare semver) or a short prefix: up to 16 letters, '.', '_' or '-', "
    "starting with a letter or '_'"
)
OCI_GRAMMAR = "lowercase letters and digits, separated by '.', '_', '__', '-' or '/'"
OVERRIDE = (
    "not overridable per target (only keep_last, expire_after and protect are); "
    "set {key} in [tags.{category}], which applies to every target"
)
FILES_ENTRIES = '{ platform = "linux/amd64", path = "..." } tables'
PROTECT = (
    "expected a tag or glob pattern (letters, digits, '.', '_', '+', '-', and '*', '?', '[...]')"
)

ENDPOINT_QUERY = (
    "expected no query string or fragment ('?...', '#...'), got {!r}; the endpoint is the "
    "server's base URL, like 'https://s3.example.org:9000'"
)
ENDPOINT_PORT = "expected a port from 1 to 65535 after the host, got "
ENDPOINT_HOST = (
    "expected an http(s) URL like 'https://s3.example.org' (scheme, then a host name or IP "
    "address), got "
)
ENDPOINT_SPACE = (
    "expected an http(s) URL like 'https://s3.example.org' without spaces or control "
    "characters, got "
)

# A valid file to append snippets to, when a case needs a complete context.
VALID = """\
[project]
name = "demo"

[[artifacts]]
name = "hello"
files = [{ platform = "linux/amd64", path = "build/hello" }]

[targets.local]
type = "dir"
path = "public"
"""


@dataclass(frozen=True)
class Case:
    id: str
    toml: str
    problems: tuple[str, ...]
    schema: bool = True  # the JSON Schema can express (and must reject) this mistake

    def __str__(self) -> str:
        return self.id


def _case(id: str, toml: str, *problems: str, schema: bool = True) -> Case:
    return Case(id, toml, tuple(f"{FILE}:{p}" if p[0].isdigit() else p for p in problems), schema)


CASES: tuple[Case, ...] = (
    # --- TOML itself ---
    _case(
        "syntax-error",
        '[tags\nprefix = "v"\n',
        f"{FILE}: invalid TOML: Expected ']' at the end of a table declaration "
        "(at line 1, column 6)",
        schema=False,
    ),
    _case(
        "duplicate-target-table",
        '[targets.web]\ntype = "dir"\npath = "a"\n\n[targets.web]\ntype = "dir"\n',
        f"{FILE}: invalid TOML: Cannot declare ('targets', 'web') twice (at line 5, column 13): "
        "a key or table is defined twice; keep one definition (merge the two, or rename one)",
        schema=False,
    ),
    _case(
        "duplicate-key",
        '[project]\nname = "a"\nname = "b"\n',
        f"{FILE}: invalid TOML: Cannot overwrite a value (at line 3, column 11): "
        "a key or table is defined twice; keep one definition (merge the two, or rename one)",
        schema=False,
    ),
    # --- unknown keys ---
    _case(
        "unknown-table-suggestion",
        '[projet]\nname = "x"\n',
        "1: projet: unknown key; did you mean 'project'?",
    ),
    _case(
        "unknown-key-suggestion",
        "[tags.dev]\nkeep_lst = 5\n",
        "2: tags.dev.keep_lst: unknown key; did you mean 'keep_last'?",
    ),
    _case(
        "unknown-key-listed",
        "[index]\nfoo = 1\n",
        "2: index.foo: unknown key; expected one of: page_size, newest",
    ),
    _case(
        "unknown-quoted-key",
        '[gc]\n"grace period" = "1d"\n',
        "2: gc.\"grace period\": unknown key; did you mean 'grace_period'?",
    ),
    _case(
        "allow-expire-outside-release",
        "[tags.extra]\nallow_expire = true\n",
        "2: tags.extra.allow_expire: unknown key; allow_expire applies only to [tags.release] "
        "(extra builds may always expire)",
    ),
    _case(
        "match-in-release",
        '[tags.release]\nmatch = "v.*"\n',
        "2: tags.release.match: unknown key; a release is plain semver behind tags.prefix: "
        "match applies only to [tags.extra] and [tags.dev]",
    ),
    # --- types and ranges ---
    _case(
        "keep-last-negative",
        '[project]\nname = "x"\n\n[tags.dev]\nkeep_last = -1\n',
        "5: tags.dev.keep_last: expected an integer >= 0, got -1",
    ),
    _case(
        "keep-last-bool",
        "[tags.extra]\nkeep_last = true\n",
        "2: tags.extra.keep_last: expected an integer >= 0, got true",
    ),
    _case(
        "keep-last-string",
        '[tags.extra]\nkeep_last = "5"\n',
        "2: tags.extra.keep_last: expected an integer >= 0, got '5'",
    ),
    _case(
        "keep-last-float",
        "[tags.extra]\nkeep_last = 5.0\n",
        "2: tags.extra.keep_last: expected an integer >= 0, got 5.0",
        schema=False,  # JSON Schema counts 5.0 as an integer
    ),
    _case(
        "tags-not-a-table",
        'tags = "v"\n',
        "1: tags: expected a table ([tags]), got 'v'",
    ),
    _case(
        "project-name-empty",
        '[project]\nname = ""\n',
        "2: project.name: expected a non-empty, single-line string, got ''",
    ),
    _case(
        "project-name-int",
        "[project]\nname = 3\n",
        "2: project.name: expected a non-empty, single-line string, got 3",
    ),
    _case(
        "allow-expire-not-bool",
        '[tags.release]\nallow_expire = "yes"\n',
        "2: tags.release.allow_expire: expected true or false, got 'yes'",
    ),
    _case(
        "project-name-multiline",
        '[project]\nname = """\nmy\nproject"""\n',
        "2: project.name: expected a non-empty, single-line string, got 'my\\nproject'",
    ),
    _case(
        "target-region-empty",
        '[targets.web]\ntype = "s3"\nbucket = "b"\nregion = " "\n',
        "4: targets.web.region: expected a region name like 'us-east-1', got ' '",
    ),
    # --- durations ---
    _case(
        "duration-with-words",
        '[tags.dev]\nexpire_after = "30 days"\n',
        f"2: tags.dev.expire_after: {DURATION}, got '30 days'",
    ),
    _case(
        "duration-int",
        "[tags.dev]\nexpire_after = 30\n",
        f"2: tags.dev.expire_after: {DURATION}, got 30",
    ),
    _case(
        "duration-unknown-unit",
        '[gc]\ngrace_period = "1y"\n',
        f"2: gc.grace_period: {DURATION}, got '1y'",
    ),
    _case(
        "duration-zero-expiry",
        '[tags.extra]\nexpire_after = "0d"\n',
        f"2: tags.extra.expire_after: expected a positive duration "
        f"({DURATION.removeprefix('expected ')}), got '0d'",
    ),
    # --- regular expressions ---
    _case(
        "match-does-not-compile",
        '[tags.dev]\nmatch = "[0-9"\n',
        "2: tags.dev.match: expected a regular expression, got '[0-9' (missing ]: [0-9); "
        "fix it (RE2 syntax, which matches in linear time: no lookaround or backreferences; "
        "the whole tag must match)",
        schema=False,
    ),
    _case(
        "match-not-a-string",
        "[tags.extra]\nmatch = 5\n",
        "2: tags.extra.match: expected a regular expression (string), got 5",
    ),
    # --- keep / release expiry ---
    _case(
        "release-keep-last-without-allow",
        "[tags.release]\nkeep_last = 5\n",
        "2: tags.release.keep_last: " + RELEASE_FOREVER.format(key="keep_last"),
    ),
    _case(
        "release-both-without-allow",
        '[tags.release]\nexpire_after = "365d"\nkeep_last = 5\n',
        "2: tags.release.expire_after: " + RELEASE_FOREVER.format(key="expire_after"),
        "3: tags.release.keep_last: " + RELEASE_FOREVER.format(key="keep_last"),
    ),
    _case(
        "release-allow-expire-false",
        "[tags.release]\nallow_expire = false\nkeep_last = 5\n",
        "3: tags.release.keep_last: " + RELEASE_FOREVER.format(key="keep_last"),
    ),
    _case(
        "keep-forever-contradicts",
        '[tags.extra]\nkeep = "forever"\nkeep_last = 10\nexpire_after = "180d"\n',
        "2: tags.extra.keep: 'forever' contradicts keep_last and expire_after: remove keep, "
        "or remove keep_last and expire_after",
    ),
    _case(
        "release-keep-forever-contradicts",
        '[tags.release]\nkeep = "forever"\nkeep_last = 3\n',
        "2: tags.release.keep: 'forever' contradicts keep_last: remove keep, or remove keep_last",
    ),
    _case(
        "keep-not-forever",
        '[tags.dev]\nkeep = "always"\n',
        "2: tags.dev.keep: expected 'forever' (or remove keep and set keep_last / expire_after "
        "to let builds expire), got 'always'",
    ),
    _case(
        "protect-bad-pattern",
        '[tags.extra]\nprotect = ["v1.*", "v1 2"]\n',
        f"2: tags.extra.protect[1]: {PROTECT}, got 'v1 2'",
    ),
    _case(
        "protect-not-a-list",
        '[tags.extra]\nprotect = "v1.*"\n',
        "2: tags.extra.protect: expected an array of tags or glob patterns, got 'v1.*'",
    ),
    # --- tags.prefix and examples ---
    _case(
        "prefix-with-digit",
        '[tags]\nprefix = "v1"\n',
        f"2: tags.prefix: {TAG_PREFIX}, got 'v1'",
    ),
    _case(
        "prefix-too-long",
        '[tags]\nprefix = "averyveryverylongprefix"\n',
        f"2: tags.prefix: {TAG_PREFIX}, got 'averyveryverylongprefix'",
    ),
    _case(
        "prefix-not-a-string",
        "[tags]\nprefix = 1\n",
        f"2: tags.prefix: {TAG_PREFIX}, got 1",
    ),
    _case(
        "dev-example-is-a-release",
        '[tags.dev]\nexamples = [\n  "0123456789abcdef0123456789abcdef01234567",\n  "v1.2.3",\n]\n',
        "4: tags.dev.examples[1]: expected a dev tag, got 'v1.2.3' (a release tag); "
        "fix the example or tags.dev.match",
        schema=False,
    ),
    _case(
        "extra-example-invalid",
        '[tags.extra]\nexamples = ["v1.2-rc1"]\n',
        "2: tags.extra.examples[0]: expected an extra tag, got 'v1.2-rc1' (invalid: not semver "
        "(v<MAJOR>.<MINOR>.<PATCH>[-<PRERELEASE>][+<BUILD>])); fix the example or tags.prefix",
        schema=False,
    ),
    # --- artifacts ---
    _case(
        "artifacts-not-an-array",
        '[artifacts]\nname = "x"\n',
        "1: artifacts: expected an array of tables ([[artifacts]]), got a table",
    ),
    _case(
        "artifact-without-name",
        '[[artifacts]]\nfiles = [{ platform = "linux/amd64", path = "a" }]\n',
        '1: artifacts[0].name: missing; every artifact needs name = "..."',
    ),
    _case(
        "artifact-name-unsafe",
        '[[artifacts]]\nname = "../x"\nfiles = [{ platform = "linux/amd64", path = "a" }]\n',
        f"2: artifacts[0].name: {ARTIFACT_NAME}, got '../x'",
    ),
    _case(
        "artifact-name-space",
        '[[artifacts]]\nname = "my tool"\nfiles = [{ platform = "linux/amd64", path = "a" }]\n',
        f"2: artifacts[0].name: {ARTIFACT_NAME}, got 'my tool'",
    ),
    _case(
        "artifact-names-duplicate",
        '[[artifacts]]\nname = "a"\nfiles = [{ platform = "linux/amd64", path = "x/a" }]\n\n'
        '[[artifacts]]\nname = "a"\nfiles = [{ platform = "linux/arm64", path = "y/a" }]\n',
        "6: artifacts[1].name: duplicate artifact name 'a' (also artifacts[0]); "
        "give each artifact its own name",
        schema=False,
    ),
    _case(
        "artifact-type-unknown",
        '[[artifacts]]\nname = "a"\ntype = "tar"\n',
        "3: artifacts[0].type: expected 'files' (the default) or 'oci', got 'tar'",
    ),
    _case(
        "files-missing",
        '[project]\nname = "x"\n\n[[artifacts]]\nname = "a"\n',
        "4: artifacts[0].files: missing; a files artifact needs files = [...], an array of "
        + FILES_ENTRIES,
    ),
    _case(
        "files-empty",
        '[[artifacts]]\nname = "a"\nfiles = []\n',
        f"3: artifacts[0].files: expected a non-empty array of {FILES_ENTRIES}, got an array",
    ),
    _case(
        "files-artifact-with-path",
        '[[artifacts]]\nname = "a"\npath = "x"\n'
        'files = [{ platform = "linux/amd64", path = "a" }]\n',
        "3: artifacts[0].path: applies only to oci artifacts (type = 'oci'); a files artifact "
        "lists files = [{ platform = ..., path = ... }]",
    ),
    _case(
        "file-entry-unknown-key-and-missing-platform",
        '[[artifacts]]\nname = "a"\nfiles = [\n  { arch = "amd64", path = "a" },\n]\n',
        "4: artifacts[0].files[0].arch: unknown key; expected one of: platform, path",
        '4: artifacts[0].files[0].platform: missing; each file needs platform = "linux/amd64" '
        "(or similar)",
    ),
    _case(
        "platform-dotdot",
        '[[artifacts]]\nname = "a"\nfiles = [\n  { platform = "linux/amd64", path = "a" },\n'
        '  { platform = "linux/../x", path = "b" },\n]\n',
        f"5: artifacts[0].files[1].platform: {PLATFORM}, got 'linux/../x'",
    ),
    _case(
        "platform-empty-segment",
        '[[artifacts]]\nname = "a"\nfiles = [{ platform = "linux//amd64", path = "a" }]\n',
        f"3: artifacts[0].files[0].platform: {PLATFORM}, got 'linux//amd64'",
    ),
    _case(
        "platform-four-segments",
        '[[artifacts]]\nname = "a"\nfiles = [{ platform = "linux/arm/v7/x", path = "a" }]\n',
        f"3: artifacts[0].files[0].platform: {PLATFORM}, got 'linux/arm/v7/x'",
    ),
    _case(
        "platform-space",
        '[[artifacts]]\nname = "a"\nfiles = [{ platform = "linux amd64", path = "a" }]\n',
        f"3: artifacts[0].files[0].platform: {PLATFORM}, got 'linux amd64'",
    ),
    _case(
        "file-name-breaks-urls",
        '[[artifacts]]\nname = "a"\nfiles = [{ platform = "linux/amd64", path = "dir/" }]\n',
        "3: artifacts[0].files[0].path: expected a file path or glob whose file name has no "
        "whitespace, '+', '%', '#' or '?' (they break download URLs), got 'dir/'",
    ),
    _case(
        "files-publish-same-key",
        '[[artifacts]]\nname = "a"\nfiles = [{ platform = "linux/amd64", path = "x/tool" }]\n\n'
        "[[artifacts]]\n"
        'name = "b"\nfiles = [{ platform = "linux/amd64", path = "y/tool" }]\n',
        "7: artifacts[1].files[0]: publishes 'linux/amd64/tool', like artifacts[0].files[0]; "
        "change the platform or rename the file",
        schema=False,
    ),
    _case(
        "oci-without-path",
        '[[artifacts]]\nname = "img"\ntype = "oci"\n',
        "1: artifacts[0].path: missing; an oci artifact needs path = (an OCI image layout "
        "directory, oci-archive or docker-archive)",
    ),
    _case(
        "oci-with-files",
        '[[artifacts]]\nname = "img"\ntype = "oci"\npath = "result"\n'
        'files = [{ platform = "linux/amd64", path = "a" }]\n',
        "5: artifacts[0].files: applies only to files artifacts; an oci artifact has path = "
        "(an image layout directory, oci-archive or docker-archive)",
    ),
    _case(
        "files-artifact-with-aliases",
        '[[artifacts]]\nname = "a"\naliases = true\n'
        'files = [{ platform = "linux/amd64", path = "a" }]\n',
        "3: artifacts[0].aliases: applies only to oci artifacts (type = 'oci'); a files "
        "artifact lists files = [{ platform = ..., path = ... }]",
    ),
    _case(
        "oci-aliases-not-a-boolean",
        '[[artifacts]]\nname = "img"\ntype = "oci"\npath = "result"\naliases = "yes"\n',
        "5: artifacts[0].aliases: expected true or false, got 'yes'",
    ),
    _case(
        "oci-repository-grammar",
        '[[artifacts]]\nname = "img"\ntype = "oci"\npath = "result"\nrepository = "Garage"\n',
        f"5: artifacts[0].repository: expected an OCI repository name ({OCI_GRAMMAR}), "
        "got 'Garage'",
    ),
    _case(
        "oci-repository-double-dot",
        '[[artifacts]]\nname = "img"\ntype = "oci"\npath = "r"\nrepository = "a..b/c"\n',
        f"5: artifacts[0].repository: expected an OCI repository name ({OCI_GRAMMAR}), "
        "got 'a..b/c'",
    ),
    _case(
        "oci-name-not-a-repository",
        '[[artifacts]]\nname = "Garage"\ntype = "oci"\npath = "result"\n',
        "2: artifacts[0].repository: defaults to the artifact name 'Garage', which is not an OCI "
        f'repository name ({OCI_GRAMMAR}); set repository = "..."',
        schema=False,
    ),
    _case(
        "oci-repository-duplicate",
        '[[artifacts]]\nname = "a"\ntype = "oci"\npath = "r1"\nrepository = "garage"\n\n'
        '[[artifacts]]\nname = "garage"\ntype = "oci"\npath = "r2"\n',
        "8: artifacts[1].name: duplicate OCI repository 'garage' (also artifacts[0]); "
        "give each image its own repository",
        schema=False,
    ),
    # --- targets ---
    _case(
        "targets-empty",
        "[targets]\n",
        "1: targets: no target declared; add a [targets.NAME] table, or remove [targets] to "
        "publish to the default directory 'public'",
    ),
    _case(
        "target-dir-without-path",
        '[targets.preview]\ntype = "dir"\n',
        '1: targets.preview.path: missing; a dir target needs path = "public" (the directory)',
    ),
    _case(
        "target-s3-without-bucket",
        '[project]\nname = "x"\n\n[targets.web]\ntype = "s3"\nregion = "garage"\n',
        '4: targets.web.bucket: missing; an s3 target needs bucket = "..." (the bucket name)',
    ),
    _case(
        "target-type-unknown",
        '[targets.web]\ntype = "gcs"\nbucket = "b"\n',
        "2: targets.web.type: expected 'dir' or 's3', got 'gcs'",
    ),
    _case(
        "target-type-missing",
        '[targets.web]\nbucket = "b"\n',
        "1: targets.web.type: missing; expected type = 'dir' or type = 's3'",
    ),
    _case(
        "target-name-unsafe",
        '[targets."my.web"]\ntype = "dir"\npath = "p"\n',
        "1: targets.\"my.web\": expected a target name of letters, digits, '_' and '-', "
        "got 'my.web'",
    ),
    _case(
        "dir-target-with-bucket",
        '[targets.local]\ntype = "dir"\npath = "public"\nbucket = "b"\n',
        "4: targets.local.bucket: applies only to s3 targets (type = 's3')",
    ),
    _case(
        "s3-target-with-path",
        '[targets.web]\ntype = "s3"\nbucket = "b"\npath = "public"\n',
        "4: targets.web.path: applies only to dir targets (type = 'dir'); an s3 target has "
        "bucket and prefix",
    ),
    _case(
        "target-prefix-leading-slash",
        '[targets.web]\ntype = "s3"\nbucket = "b"\nprefix = "/releases/"\n',
        f"4: targets.web.prefix: {KEY_PREFIX}, got '/releases/'",
    ),
    _case(
        "target-prefix-no-trailing-slash",
        '[targets.web]\ntype = "s3"\nbucket = "b"\nprefix = "_releases"\n',
        f"4: targets.web.prefix: {KEY_PREFIX}, got '_releases'",
    ),
    _case(
        "target-endpoint-not-http",
        '[targets.web]\ntype = "s3"\nbucket = "b"\nendpoint = "s3.example.org"\n',
        f"4: targets.web.endpoint: {ENDPOINT_HOST}'s3.example.org'",
    ),
    *(
        _case(
            f"target-endpoint-{name}",
            f'[targets.web]\ntype = "s3"\nbucket = "b"\nendpoint = "{url}"\n',
            f"4: targets.web.endpoint: {message}",
        )
        for name, url, message in (
            (
                "query",
                "http://127.0.0.1:9000/?x=1",
                ENDPOINT_QUERY.format("http://127.0.0.1:9000/?x=1"),
            ),
            (
                "empty-query",
                "http://127.0.0.1:9000?",
                ENDPOINT_QUERY.format("http://127.0.0.1:9000?"),
            ),
            (
                "fragment",
                "https://s3.example.org/#top",
                ENDPOINT_QUERY.format("https://s3.example.org/#top"),
            ),
            ("port-too-big", "http://127.0.0.1:99999", f"{ENDPOINT_PORT}'http://127.0.0.1:99999'"),
            ("port-zero", "http://127.0.0.1:0", f"{ENDPOINT_PORT}'http://127.0.0.1:0'"),
            ("port-empty", "http://127.0.0.1:", f"{ENDPOINT_PORT}'http://127.0.0.1:'"),
            ("port-not-a-number", "http://host:http", f"{ENDPOINT_PORT}'http://host:http'"),
            ("no-host", "http://:9000", f"{ENDPOINT_HOST}'http://:9000'"),
            ("host-with-space", "http://s3 example.org", f"{ENDPOINT_HOST}'http://s3 example.org'"),
            ("ftp", "ftp://s3.example.org", f"{ENDPOINT_HOST}'ftp://s3.example.org'"),
            ("user-only", "https://key@s3.example.org", f"contains user:password@; {CREDENTIALS}"),
            (
                "path-space",
                "https://s3.example.org/a b",
                f"{ENDPOINT_SPACE}'https://s3.example.org/a b'",
            ),
        )
    ),
    _case(
        "target-ca-bundle-empty",
        '[targets.web]\ntype = "s3"\nbucket = "b"\nca_bundle = ""\n',
        "4: targets.web.ca_bundle: expected the path of a PEM file of CA certificates, like "
        "'certs/ca.pem', got ''",
    ),
    _case(
        "target-ca-bundle-on-dir",
        '[targets.web]\ntype = "dir"\npath = "p"\nca_bundle = "ca.pem"\n',
        "4: targets.web.ca_bundle: applies only to s3 targets (type = 's3')",
    ),
    _case(
        "target-profile-whitespace",
        '[targets.web]\ntype = "s3"\nbucket = "b"\nprofile = "my profile"\n',
        "4: targets.web.profile: expected an AWS profile name (from ~/.aws/config), without "
        "whitespace, got 'my profile'",
    ),
    _case(
        "target-override-match",
        '[targets.web]\ntype = "dir"\npath = "p"\n\n[targets.web.tags.dev]\nmatch = "x"\n',
        "6: targets.web.tags.dev.match: " + OVERRIDE.format(key="match", category="dev"),
    ),
    _case(
        "target-override-prefix",
        '[targets.web]\ntype = "dir"\npath = "p"\ntags = { prefix = "" }\n',
        "4: targets.web.tags.prefix: the tag convention is the same for every target; set it "
        "in [tags] (a target overrides only [tags.release|extra|dev] keep_last, expire_after, "
        "protect)",
    ),
    _case(
        "target-override-release-expiry",
        '[targets.web]\ntype = "dir"\npath = "p"\ntags.release.keep_last = 3\n',
        "4: targets.web.tags.release.keep_last: " + RELEASE_FOREVER.format(key="keep_last"),
        schema=False,
    ),
    # --- credentials ---
    _case(
        "credential-in-target",
        '[targets.web]\ntype = "s3"\nbucket = "b"\naws_secret_access_key = "abc"\n',
        f"4: targets.web.aws_secret_access_key: {CREDENTIALS}",
    ),
    _case(
        "credential-top-level-token",
        'token = "abc"\n',
        f"1: token: {CREDENTIALS}",
    ),
    _case(
        "credential-nested-in-unknown-table",
        '[aws]\naccess_key_id = "x"\n',
        "1: aws: unknown key; expected one of: "
        "project, tags, artifacts, targets, index, gc, signing, latest",
        f"2: aws.access_key_id: {CREDENTIALS}",
    ),
    _case(
        "credential-in-inline-table",
        '[[artifacts]]\nname = "a"\nfiles = [{ platform = "linux/amd64", path = "a", '
        'password = "x" }]\n',
        f"3: artifacts[0].files[0].password: {CREDENTIALS}",
    ),
    _case(
        "credential-endpoint-userinfo",
        '[targets.web]\ntype = "s3"\nbucket = "b"\nendpoint = "https://key:secret@s3.example.org"\n',
        f"4: targets.web.endpoint: contains user:password@; {CREDENTIALS}",
    ),
    _case(
        "credential-access-key-id-value",
        '[project]\nname = "AKIAIOSFODNN7EXAMPLE"\n',
        f"2: project.name: looks like an AWS access key id; {CREDENTIALS}",
        schema=False,
    ),
    # --- index and gc ---
    _case(
        "index-page-size-zero",
        "[index]\npage_size = 0\n",
        "2: index.page_size: expected an integer from 1 to 10000, got 0",
    ),
    _case(
        "index-page-size-too-big",
        "[index]\npage_size = 10001\n",
        "2: index.page_size: expected an integer from 1 to 10000, got 10001",
    ),
    _case(
        "index-newest-negative",
        "[index]\nnewest = -1\n",
        "2: index.newest: expected an integer from 0 to 1000, got -1",
    ),
    _case(
        "index-newest-too-big",
        "[index]\nnewest = 1001\n",
        "2: index.newest: expected an integer from 0 to 1000, got 1001",
    ),
    _case(
        "gc-fraction-zero",
        "[gc]\nmax_delete_fraction = 0\n",
        "2: gc.max_delete_fraction: expected a number > 0 and <= 1, got 0",
    ),
    _case(
        "gc-fraction-above-one",
        "[gc]\nmax_delete_fraction = 1.5\n",
        "2: gc.max_delete_fraction: expected a number > 0 and <= 1, got 1.5",
    ),
    _case(
        "gc-fraction-string",
        '[gc]\nmax_delete_fraction = "0.5"\n',
        "2: gc.max_delete_fraction: expected a number > 0 and <= 1, got '0.5'",
    ),
    # --- where the line is found ---
    _case(
        "dotted-key-at-top-level",
        'name = "x"\ntags.dev.keep_last = -1\n',
        "1: name: unknown key; expected one of: "
        "project, tags, artifacts, targets, index, gc, signing, latest",
        "2: tags.dev.keep_last: expected an integer >= 0, got -1",
    ),
    _case(
        "inline-table",
        "[tags]\ndev = { keep_last = 5, expire_after = 3 }\n",
        f"2: tags.dev.expire_after: {DURATION}, got 3",
    ),
    _case(
        "third-artifact",
        '[[artifacts]]\nname = "a"\nfiles = [{ platform = "linux/amd64", path = "a" }]\n'
        '[[artifacts]]\nname = "b"\nfiles = [{ platform = "linux/amd64", path = "b" }]\n'
        '[[artifacts]]\nname = "c"\nfiles = [{ platform = "linux/amd64", path = "c" }]\n'
        "bogus = 1\n",
        "10: artifacts[2].bogus: unknown key; expected one of: name, type, files",
    ),
    _case(
        "multiline-string-before",
        "[project]\nname = '''\nx [y] = z'''\n\n[index]\nnewest = -1\n",
        "6: index.newest: expected an integer from 0 to 1000, got -1",
    ),
)
