from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from config_cases import CASES, CREDENTIALS, FILE, Case
from fuzzing import fuzz
from hypothesis import given
from hypothesis import strategies as st

from artreg.config import (
    DEFAULT_RULES,
    DEFAULT_TARGET,
    MAX_DURATION,
    Artifact,
    Config,
    FileSpec,
    GcSettings,
    IndexSettings,
    Rule,
    TagRules,
    Target,
    _Locator,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
    resolve_target,
)
from artreg.core.tags import DEFAULT_DEV_MATCH, Category, classify
from artreg.errors import ArtregError, ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def parse(text: str) -> Config:
    return parse_config(text, Path(FILE))


def problems_of(text: str) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return caught.value.problems


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_mistake_has_its_exact_message(case: Case) -> None:
    assert problems_of(case.toml) == case.problems


def test_case_ids_are_unique() -> None:
    assert len({case.id for case in CASES}) == len(CASES)


def test_the_briefs_example_message() -> None:
    text = "\n" * 10 + "[tags.dev]\nkeep_last = -1\n"
    assert problems_of(text) == (
        "artreg.toml:12: tags.dev.keep_last: expected an integer >= 0, got -1",
    )


def test_credential_message_points_at_the_aws_chain() -> None:
    (problem,) = problems_of('[targets.web]\ntype = "s3"\nbucket = "b"\nsecret_key = "x"\n')
    assert problem == (
        "artreg.toml:4: targets.web.secret_key: credentials never go in artreg.toml (it is "
        "committed); remove this and let the AWS chain provide them: the AWS_ACCESS_KEY_ID / "
        "AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) environment variables, AWS_PROFILE, or "
        '~/.aws/credentials (choose a profile with profile = "NAME" in the s3 target)'
    )


@pytest.mark.parametrize(
    "key",
    [
        "aws_access_key_id",
        "AWS_SECRET_ACCESS_KEY",
        "aws_session_token",
        "access_key",
        "secret",
        "secret-access-key",
        "password",
        "token",
        "credentials",
        "github_token",
    ],
)
def test_every_credential_key_is_refused(key: str) -> None:
    text = f'[targets.web]\ntype = "s3"\nbucket = "b"\n{key} = "x"\n'
    assert problems_of(text) == (f"{FILE}:4: targets.web.{key}: {CREDENTIALS}",)


def test_every_problem_is_reported_in_file_order() -> None:
    text = """\
[project]
name = "demo"

[tags]
prefix = "v"

[tags.dev]
keep_lst = 30
expire_after = "30 days"

[[artifacts]]
name = "demo"
files = [
  { platform = "linux/amd64", path = "a/demo" },
  { platform = "linux/../arm64", path = "b/demo" },
]

[targets.web]
type = "s3"
aws_access_key_id = "x"

[gc]
max_delete_fraction = 2
"""
    assert problems_of(text) == (
        "artreg.toml:8: tags.dev.keep_lst: unknown key; did you mean 'keep_last'?",
        "artreg.toml:9: tags.dev.expire_after: expected a duration like '30d', '12h' or '90m', "
        "at most 36500d (100 years), "
        "got '30 days'",
        "artreg.toml:15: artifacts[0].files[1].platform: expected a platform: one to three "
        "segments of letters, digits, '.', '_' and '-' separated by '/' (like 'linux/amd64', "
        "'linux/arm/v7' or 'x86_64-unknown-linux-musl'), no '..', got 'linux/../arm64'",
        'artreg.toml:18: targets.web.bucket: missing; an s3 target needs bucket = "..." '
        "(the bucket name)",
        f"artreg.toml:20: targets.web.aws_access_key_id: {CREDENTIALS}",
        "artreg.toml:23: gc.max_delete_fraction: expected a number > 0 and <= 1, got 2",
    )


def test_config_error_message_is_every_problem_on_its_own_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse("[index]\npage_size = 0\nnewest = -1\n")
    assert caught.value.message == (
        "artreg.toml:2: index.page_size: expected an integer from 1 to 10000, got 0\n"
        "artreg.toml:3: index.newest: expected an integer from 0 to 1000, got -1"
    )


def test_the_file_name_in_messages_is_the_path_given() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[index]\nnewest = -1\n", Path("ci/artreg.toml"))
    assert caught.value.problems[0].startswith("ci/artreg.toml:2: index.newest: ")


# --- what a valid file gives ---


def test_an_empty_file_is_all_defaults() -> None:
    config = parse_config("", Path("/src/garage/artreg.toml"))
    assert config == Config(
        project="garage",
        tags=TagRules(),
        artifacts=(),
        targets=(DEFAULT_TARGET,),
        index=IndexSettings(page_size=1000, newest=10),
        gc=GcSettings(grace_period=dt.timedelta(hours=24), max_delete_fraction=0.5),
        path=Path("/src/garage/artreg.toml"),
        warnings=(),
    )
    assert config.tags.release == Rule(keep_forever=True)
    assert config.tags.extra == Rule(keep_last=10, expire_after=dt.timedelta(days=180))
    assert config.tags.dev.match == DEFAULT_DEV_MATCH


def test_project_name_defaults_to_the_directory(tmp_path: Path) -> None:
    project = tmp_path / "my-project"
    project.mkdir()
    (project / "artreg.toml").write_text("[tags]\nprefix = ''\n")
    assert load_config(project / "artreg.toml").project == "my-project"


def test_the_repository_config_loads() -> None:
    config = load_config(REPO / "artreg.toml")
    assert config.project == "artreg-demo"
    assert config.warnings == ()
    assert config.artifacts == (
        Artifact(
            name="hello",
            files=(
                FileSpec("linux/amd64", "demo-build/amd64/hello"),
                FileSpec("linux/arm64", "demo-build/arm64/hello"),
            ),
        ),
    )
    assert config.targets == (Target(name="local", type="dir", path="public"),)


def test_the_anchored_default_dev_match_classifies_commit_ids() -> None:
    config = parse('[tags.dev]\nmatch = "^[0-9a-f]{40}$"\n')
    assert config.tags.dev.match == "^[0-9a-f]{40}$"
    assert classify(COMMIT, config.convention()).category is Category.DEV
    assert not classify(COMMIT + "0", config.convention()).valid


def test_extra_match_narrows_extra_tags() -> None:
    config = parse('[tags.extra]\nmatch = "v.*-rc\\\\.[0-9]+"\nexamples = ["v1.0.0-rc.1"]\n')
    assert classify("v1.0.0-rc.1", config.convention()).category is Category.EXTRA
    assert not classify("v1.0.0-beta", config.convention()).valid


def test_examples_are_kept_when_they_classify() -> None:
    config = parse(f'[tags.dev]\nexamples = ["{COMMIT}"]\n[tags.extra]\nexamples = ["v1.0.0-rc.1"]')
    assert config.tags.dev.examples == (COMMIT,)
    assert config.tags.extra.examples == ("v1.0.0-rc.1",)


def test_bare_semver_prefix() -> None:
    config = parse('[tags]\nprefix = ""\n[tags.extra]\nexamples = ["1.0.0-rc.1"]\n')
    assert config.tags.prefix == ""
    assert classify("1.2.3", config.convention()).category is Category.RELEASE


def test_a_category_table_overrides_only_the_keys_it_sets() -> None:
    config = parse('[tags.extra]\nkeep_last = 5\nprotect = ["v1.*"]\n')
    assert config.tags.extra == Rule(
        keep_last=5, expire_after=dt.timedelta(days=180), protect=("v1.*",)
    )
    assert config.tags.dev == DEFAULT_RULES[Category.DEV]


def test_keep_forever_clears_the_default_expiry() -> None:
    config = parse('[tags.dev]\nkeep = "forever"\n')
    assert config.tags.dev == Rule(keep_forever=True, match=DEFAULT_DEV_MATCH)


def test_releases_may_expire_when_allowed_with_a_warning() -> None:
    config = parse("[tags.release]\nallow_expire = true\nkeep_last = 50\n")
    assert config.tags.release == Rule(keep_forever=False, keep_last=50, allow_expire=True)
    assert config.warnings == (
        "artreg.toml:1: tags.release: allow_expire = true: retention may delete releases "
        "(keep_last = 50)",
    )


def test_allow_expire_alone_changes_nothing() -> None:
    config = parse("[tags.release]\nallow_expire = true\n")
    assert config.tags.release == Rule(keep_forever=True, allow_expire=True)
    assert config.warnings == ()


GARAGE_TARGETS = """\
[tags.dev]
keep_last = 30
protect = ["feedface*"]

[targets.web]
type = "s3"
bucket = "garagehq.deuxfleurs.fr"
endpoint = "https://garage.deuxfleurs.fr"
region = "garage"
prefix = "_releases/"
profile = "garage-ci"

[targets.web.tags.dev]
keep_last = 5
protect = ["cafe*"]

[targets.web.tags.extra]
expire_after = "7d"

[targets.preview]
type = "dir"
path = "public"
"""


def test_targets_in_declaration_order_with_every_field() -> None:
    config = parse(GARAGE_TARGETS)
    web, preview = config.targets
    assert (web.name, web.type, web.bucket, web.endpoint, web.region, web.prefix, web.profile) == (
        "web",
        "s3",
        "garagehq.deuxfleurs.fr",
        "https://garage.deuxfleurs.fr",
        "garage",
        "_releases/",
        "garage-ci",
    )
    assert preview == Target(name="preview", type="dir", path="public")


def test_target_overrides_are_merged_over_tags() -> None:
    config = parse(GARAGE_TARGETS)
    web, preview = config.targets
    assert web.tags is not None
    assert web.tags.prefix == config.tags.prefix
    assert web.tags.release == config.tags.release
    assert web.tags.dev == Rule(
        keep_last=5,
        expire_after=dt.timedelta(days=30),
        protect=("feedface*", "cafe*"),
        match=DEFAULT_DEV_MATCH,
    )
    assert web.tags.extra == Rule(keep_last=10, expire_after=dt.timedelta(days=7))
    assert config.tags.dev.keep_last == 30
    assert config.rules_for(web) is web.tags
    assert preview.tags is None
    assert config.rules_for(preview) is config.tags


def test_target_may_expire_releases_when_tags_release_allows() -> None:
    config = parse(
        "[tags.release]\nallow_expire = true\n\n"
        '[targets.web]\ntype = "dir"\npath = "p"\n\n[targets.web.tags.release]\nkeep_last = 3\n'
    )
    (web,) = config.targets
    assert web.tags is not None
    assert web.tags.release == Rule(keep_forever=False, keep_last=3, allow_expire=True)
    assert config.tags.release == Rule(keep_forever=True, allow_expire=True)
    assert config.warnings == (
        "artreg.toml:8: targets.web.tags.release: allow_expire = true: retention may delete "
        "releases (keep_last = 3)",
    )


def test_a_target_may_be_named_like_a_credential() -> None:
    config = parse('[targets.token]\ntype = "dir"\npath = "p"\n')
    assert config.targets[0].name == "token"


def test_oci_repository_defaults_to_the_artifact_name() -> None:
    config = parse(
        '[[artifacts]]\nname = "garage-image"\ntype = "oci"\npath = "result-image"\n\n'
        '[[artifacts]]\nname = "img"\ntype = "oci"\npath = "x.tar"\nrepository = "dxflrs/garage"\n'
    )
    assert config.artifacts == (
        Artifact(name="garage-image", type="oci", path="result-image", repository="garage-image"),
        Artifact(name="img", type="oci", path="x.tar", repository="dxflrs/garage"),
    )
    assert not any(a.aliases for a in config.artifacts)


def test_oci_aliases_are_opt_in() -> None:
    config = parse('[[artifacts]]\nname = "img"\ntype = "oci"\npath = "r"\naliases = true\n')
    assert config.artifacts == (
        Artifact(name="img", type="oci", path="r", repository="img", aliases=True),
    )


def test_globs_are_left_to_publish_time() -> None:
    config = parse(
        '[[artifacts]]\nname = "a"\nfiles = [\n'
        '  { platform = "x86_64-unknown-linux-musl", path = "dist/*.tar.gz" },\n'
        '  { platform = "x86_64-unknown-linux-musl", path = "more/*.tar.gz" },\n]\n'
    )
    assert [spec.path for spec in config.artifacts[0].files] == ["dist/*.tar.gz", "more/*.tar.gz"]


def test_index_and_gc_settings() -> None:
    config = parse(
        '[index]\npage_size = 1\nnewest = 0\n[gc]\ngrace_period = "0s"\nmax_delete_fraction = 1\n'
    )
    assert config.index == IndexSettings(page_size=1, newest=0)
    assert config.gc == GcSettings(grace_period=dt.timedelta(0), max_delete_fraction=1.0)
    assert isinstance(config.gc.max_delete_fraction, float)


@pytest.mark.parametrize("name", sorted((REPO / "docs" / "examples").glob("*.toml")), ids=str)
def test_documented_examples_load(name: Path) -> None:
    assert load_config(name).targets


# --- durations ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", dt.timedelta(days=30)),
        ("12h", dt.timedelta(hours=12)),
        ("90m", dt.timedelta(minutes=90)),
        ("45s", dt.timedelta(seconds=45)),
        ("2w", dt.timedelta(weeks=2)),
        ("0d", dt.timedelta(0)),
        ("007d", dt.timedelta(days=7)),
    ],
)
def test_parse_duration(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["30 days", "30", "d", "1y", "-1d", "1.5h", " 1d", "1d ", "1D", "1d2h", "", "٣d"]
)
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration like '30d', '12h' or '90m'"):
        parse_duration(text)


@pytest.mark.parametrize(
    "text", ["99999999999999w", "999999999d", "36501d", "5215w", "3153600001s", "9" * 5000 + "d"]
)
def test_parse_duration_refuses_more_than_a_century(text: str) -> None:
    # 999999999d once passed lint and overflowed later, subtracted from "now".
    with pytest.raises(ValueError, match=r"at most 36500d \(100 years\)"):
        parse_duration(text)


def test_parse_duration_accepts_a_century() -> None:
    assert parse_duration("36500d") == MAX_DURATION == parse_duration("876000h")


@given(st.integers(min_value=0, max_value=36500 * 86400), st.sampled_from("smhdw"))
def test_format_duration_round_trips(amount: int, unit: str) -> None:
    amount //= {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    delta = parse_duration(f"{amount}{unit}")
    assert parse_duration(format_duration(delta)) == delta


# --- reading the file ---


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "artreg.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == (
        f"{path}: no such file; create one with `artreg init` or pass --config PATH",
    )


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.problems == (f"{tmp_path}: is a directory; expected an artreg.toml file",)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "artreg.toml"
    path.write_bytes(b'[project]\nname = "\xff"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == (
        f"{path}: invalid TOML: not UTF-8 (invalid start byte at byte 18)",
    )


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "artreg.toml"
    path.write_bytes(b'\xef\xbb\xbf[project]\nname = "bom"\n')
    config = load_config(path)
    assert (config.project, config.path) == ("bom", path)


# --- choosing a target ---


def test_resolve_target_by_name() -> None:
    config = parse(GARAGE_TARGETS)
    assert resolve_target(config, "web").name == "web"
    assert resolve_target(config, "preview").name == "preview"


def test_resolve_unknown_target_lists_the_declared_ones() -> None:
    config = parse(GARAGE_TARGETS)
    with pytest.raises(ArtregError) as caught:
        resolve_target(config, "prod")
    assert caught.value.message == (
        "unknown target 'prod' (from --target or ARTREG_TARGET); artreg.toml declares: web, preview"
    )


def test_resolve_default_target() -> None:
    assert resolve_target(parse(""), None) is DEFAULT_TARGET
    only = parse('[targets.web]\ntype = "s3"\nbucket = "b"\n')
    assert resolve_target(only, None).name == "web"
    marked = parse(GARAGE_TARGETS.replace("[targets.web]\n", "[targets.web]\ndefault = true\n"))
    assert resolve_target(marked, None).name == "web"
    assert resolve_target(marked, "preview").name == "preview"


@pytest.mark.parametrize(
    "text",
    [
        GARAGE_TARGETS,  # an s3 and a dir target: the dir one is not guessed any more
        '[targets.web]\ntype = "s3"\nbucket = "b"\n[targets.backup]\ntype = "s3"\nbucket = "c"\n',
        '[targets.a]\ntype = "dir"\npath = "a"\n[targets.b]\ntype = "dir"\npath = "b"\n'
        "default = false\n",
    ],
)
def test_resolve_refuses_to_guess_among_several_targets(text: str) -> None:
    config = parse(text)
    names = ", ".join(t.name for t in config.targets)
    with pytest.raises(ArtregError) as caught:
        resolve_target(config, None)
    assert caught.value.message == (
        f"several targets are declared ({names}) and none is chosen; choose one with "
        "--target NAME or the ARTREG_TARGET environment variable, or mark one with "
        "default = true in artreg.toml"
    )


def test_two_default_targets_are_a_config_error() -> None:
    text = (
        '[targets.a]\ntype = "dir"\npath = "a"\ndefault = true\n'
        '[targets.b]\ntype = "s3"\nbucket = "b"\ndefault = true\n'
        '[targets.c]\ntype = "dir"\npath = "c"\ndefault = "yes"\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert list(caught.value.problems) == [
        "artreg.toml:8: targets.b.default: only one target may be the default, and "
        "targets.a already is; keep default = true on one of them",
        "artreg.toml:12: targets.c.default: expected true or false, got 'yes'",
    ]


# --- where keys are found ---

TRICKY = """\
# [tags] in a comment is not a header
"top level" = 1
[ tags ]  # spaces around the name
prefix = "v#not-a-comment"
"dev" . keep_last = 3
extra = { keep_last = 1, "expire_after" = "1d", protect = [
  "a[]", # a comment inside an array
  'b{}=',
] }

[[artifacts]]
name = '''
multi [x] = "line"
'''
files = [
  { platform = "linux/amd64", path = "a" },

  { platform = "linux/arm64", path = "b" }, # trailing comma
]

[[ artifacts ]]
name = "second"
nested = [[1, 2], [3, [4, 5]], { a = "]" }]
after = true

[[artifacts.files]]
platform = "x"
"""


def test_every_key_and_element_is_located() -> None:
    located = _Locator(TRICKY).lines
    assert {path: located[path] for path in located if path[0] != "top level"} == {
        ("tags",): 3,
        ("tags", "prefix"): 4,
        ("tags", "dev"): 5,
        ("tags", "dev", "keep_last"): 5,
        ("tags", "extra"): 6,
        ("tags", "extra", "keep_last"): 6,
        ("tags", "extra", "expire_after"): 6,
        ("tags", "extra", "protect"): 6,
        ("tags", "extra", "protect", 0): 7,
        ("tags", "extra", "protect", 1): 8,
        ("artifacts",): 11,
        ("artifacts", 0): 11,
        ("artifacts", 0, "name"): 12,
        ("artifacts", 0, "files"): 15,
        ("artifacts", 0, "files", 0): 16,
        ("artifacts", 0, "files", 0, "platform"): 16,
        ("artifacts", 0, "files", 0, "path"): 16,
        ("artifacts", 0, "files", 1): 18,
        ("artifacts", 0, "files", 1, "platform"): 18,
        ("artifacts", 0, "files", 1, "path"): 18,
        ("artifacts", 1): 21,
        ("artifacts", 1, "name"): 22,
        ("artifacts", 1, "nested"): 23,
        ("artifacts", 1, "nested", 0): 23,
        ("artifacts", 1, "nested", 0, 0): 23,
        ("artifacts", 1, "nested", 0, 1): 23,
        ("artifacts", 1, "nested", 1): 23,
        ("artifacts", 1, "nested", 1, 0): 23,
        ("artifacts", 1, "nested", 1, 1): 23,
        ("artifacts", 1, "nested", 1, 1, 0): 23,
        ("artifacts", 1, "nested", 1, 1, 1): 23,
        ("artifacts", 1, "nested", 2): 23,
        ("artifacts", 1, "nested", 2, "a"): 23,
        ("artifacts", 1, "after"): 24,
        ("artifacts", 1, "files"): 26,
        ("artifacts", 1, "files", 0): 26,
        ("artifacts", 1, "files", 0, "platform"): 27,
    }
    assert located[("top level",)] == 2


@pytest.mark.parametrize(
    "path", [REPO / "artreg.toml", *sorted((REPO / "docs" / "examples").glob("*.toml"))], ids=str
)
def test_every_key_of_a_real_file_is_on_a_line_naming_it(path: Path) -> None:
    text = path.read_text()
    lines = text.splitlines()
    located = _Locator(text).lines
    keys = list(_key_paths(tomllib.loads(text), ()))
    assert keys
    for key_path in keys:
        assert key_path[-1] in lines[located[key_path] - 1], key_path


def _key_paths(value: object, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _key_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _key_paths(item, (*path, index))


# --- hostile configuration: bounded work, one clear error ---

_DEEP = 3000


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * _DEEP + "]" * _DEEP,
        "x = " + "{a = " * _DEEP + "1" + "}" * _DEEP,
        "x = " + "[{a = " * _DEEP + "1" + "}]" * _DEEP,
        "[tags.dev]\nx." + ".".join(["a"] * _DEEP) + " = 1\n",
        "[" + ".".join(["a"] * _DEEP) + "]\n",
        "[[" + ".".join(["a"] * _DEEP) + "]]\n",
        "x = " + "[" * 40 + "]" * 40,
        "[" + ".".join(["a"] * 40) + "]\nb = 1\n",
    ],
    ids=[
        "arrays",
        "inline-tables",
        "mixed",
        "dotted-keys",
        "header",
        "array-header",
        "arrays-40",
        "header-40",
    ],
)
def test_deeply_nested_config_is_one_clear_error(text: str) -> None:
    # An artreg.toml nested 3,000 deep once raised RecursionError (exit 3).
    with pytest.raises(ConfigError) as caught:
        parse(text)
    (problem,) = caught.value.problems
    assert "nested more than 32 levels deep" in problem
    assert problem.startswith("artreg.toml: ")


@pytest.mark.parametrize("literal", ["9" * 5000, "-" + "1" * 4301, "+" + "7" * 10_000])
def test_an_integer_too_long_for_python_is_one_clear_error(literal: str) -> None:
    # tomllib raised int()'s ValueError (exit 3) on a 5,000-digit integer.
    assert problems_of(f"[tags.dev]\nkeep_last = {literal}\n") == (
        "artreg.toml: invalid TOML: an integer too long to read (over 4300 digits); shorten it",
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('[tags]\nprefix = "' + "v" * 100_000 + '"\n', "'" + "v" * 60 + "'... (100000 characters)"),
        ("[index]\npage_size = 0x" + "f" * 5000 + "\n", "an integer of 20000 bits"),
    ],
)
def test_huge_values_are_shown_short(text: str, shown: str) -> None:
    (problem,) = problems_of(text)
    assert problem.endswith(f"got {shown}")


def test_nesting_up_to_the_limit_is_judged_normally() -> None:
    problems = problems_of("x = " + "[" * 31 + "]" * 31)
    assert problems == (
        "artreg.toml:1: x: unknown key; expected one of: project, tags, artifacts, targets, "
        "index, gc, signing, latest",
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("tags.dev.expire_after", "999999999d"),
        ("tags.extra.expire_after", "99999999999999999999w"),
        ("gc.grace_period", "999999999999s"),
        ("tags.dev.expire_after", "9" * 5000 + "d"),
    ],
)
def test_huge_durations_are_refused_at_lint(
    key: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # expire_after = "999999999d" once passed lint and overflowed in retention (exit 3).
    from artreg.cli import main

    table, _, name = key.rpartition(".")
    (tmp_path / "artreg.toml").write_text(f'[{table}]\n{name} = "{value}"\n')
    assert main(["lint", "--config", str(tmp_path / "artreg.toml")]) == 1
    err = capsys.readouterr().err
    assert f"{key}: expected a duration like" in err
    assert "at most 36500d (100 years)" in err
    assert "Traceback" not in err and "internal error" not in err


_TOML_ATOMS = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        "=",
        ",",
        ".",
        '"',
        "'",
        "\n",
        " ",
        "#",
        "a",
        "1",
        "x",
        "tags",
        "dev",
        "match",
        "expire_after",
        '"9999999999d"',
        "true",
        "[[artifacts]]",
        "[tags.dev]",
        '"(a+)+$"',
        "1e999",
        "0x",
        "1979-05-27T07:32:00Z",
    ]
)


@fuzz()
@given(
    st.text(max_size=400)
    | st.lists(_TOML_ATOMS, max_size=200).map("".join)
    | st.integers(min_value=4000, max_value=6000).map(lambda n: "[gc]\ngrace_period = " + "9" * n)
    | st.integers(min_value=1, max_value=4000)
    .flatmap(lambda n: st.sampled_from(["[" * n, "{a=" * n, "a." * n, "[[a" + ".a" * n + "]]"]))
    .map(lambda s: "x = " + s)
)
def test_fuzz_config_text_raises_only_config_errors(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_config(text, Path("artreg.toml"))


@fuzz()
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "project",
                        "name",
                        "tags",
                        "dev",
                        "extra",
                        "release",
                        "match",
                        "keep_last",
                        "expire_after",
                        "protect",
                        "examples",
                        "artifacts",
                        "files",
                        "path",
                        "platform",
                        "targets",
                        "type",
                        "index",
                        "gc",
                    ]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=30,
    )
)
def test_fuzz_structured_config_raises_only_config_errors(value: object) -> None:
    text = _to_toml(value)
    if text is None:
        return
    with contextlib.suppress(ConfigError):
        parse_config(text, Path("artreg.toml"))


def _to_toml(value: object) -> str | None:
    """A document whose top level is ``value`` (a table), as TOML; None if not expressible."""
    import json

    if not isinstance(value, dict):
        return None

    def inline(item: object) -> str | None:
        if item is None:
            return None
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, float):
            return None if item != item or item in (float("inf"), float("-inf")) else repr(item)
        if isinstance(item, (int, str)):
            return json.dumps(item)
        if isinstance(item, list):
            parts = [inline(x) for x in item]
            return None if None in parts else "[" + ", ".join(p for p in parts if p) + "]"
        if isinstance(item, dict):
            parts = [f"{json.dumps(k)} = {inline(v)}" for k, v in item.items()]
            return None if any(p.endswith("None") for p in parts) else "{" + ", ".join(parts) + "}"
        return None

    lines = []
    for key, item in value.items():
        shown = inline(item)
        if shown is None:
            return None
        lines.append(f"{json.dumps(key)} = {shown}")
    return "\n".join(lines) + "\n"
