"""``artreg lint [TAG...]``: validate artreg.toml and check tags; list every problem."""

from __future__ import annotations

import argparse
import sys

from artreg.commands import config_dir, config_path, load_optional
from artreg.config import Config
from artreg.core.tags import Convention, classify
from artreg.errors import ArtregError, ConfigError
from artreg.publish.artifacts import empty_file_warnings
from artreg.render.terminal import counted


def _publishing_warnings(config: Config) -> list[str]:
    """What would make ``apply`` publish nothing, or publish a broken build."""
    if config.path is None:
        return []
    if not config.artifacts:
        return [
            f"{config.path}: no [[artifacts]] declared, so `artreg apply` has nothing to "
            "publish; declare files or images (see `artreg docs config`)"
        ]
    return empty_file_warnings(config_dir(config), config.artifacts)


def run(args: argparse.Namespace) -> int:
    problems: list[str] = []
    config: Config | None = None
    try:
        config = load_optional(args.config)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if config is None and not problems and not args.tags:
        raise ArtregError(
            f"{config_path(args.config)}: no such configuration file; create one with "
            "`artreg init`, or pass tags to check them against the default convention"
        )
    if config is not None:
        for warning in [*config.warnings, *_publishing_warnings(config)]:
            print(f"artreg: warning: {warning}", file=sys.stderr)

    if problems and args.tags:
        problems.append("tags not checked: fix artreg.toml first (its rules decide what is valid)")
    else:
        convention = config.convention() if config is not None else Convention()
        for tag in args.tags:
            result = classify(tag, convention)
            if result.valid:
                print(f"{tag}: {result.category}")
            else:
                problems.append(result.describe())

    target = getattr(args, "target", None)  # the git hooks call lint with tags only
    if config is not None and not problems and target is not None:
        problems += _target_problems(config, target)

    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"artreg lint: {counted(len(problems), 'problem')} found", file=sys.stderr)
        return 1
    if config is not None and config.path is not None:
        print(f"{config.path}: ok")
    return 0


def _target_problems(config: Config, name: str) -> list[str]:
    """What the configuration says about the builds a target already holds (reads them all)."""
    # Imported here: plain `lint` runs in git hooks and must not load the store stack.
    from artreg.commands import config_dir
    from artreg.config import resolve_target
    from artreg.publish.state import describe_reclassified, find_reclassified, read_state
    from artreg.stores import open_store

    store = open_store(resolve_target(config, name), config_dir(config))
    convention = config.convention()
    state = read_state(store, convention)
    problems = [
        f"{store.description}: {key}: under _artreg/builds/ but names no valid tag"
        for key in state.unreadable
    ]
    problems += [
        f"{store.description}: {describe_reclassified(tag, category, convention)}"
        for tag, category in sorted(find_reclassified(store, state).items())
    ]
    return problems
