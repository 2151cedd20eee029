"""Command-line wiring: argparse and dispatch only.

Each verb lives in ``artreg.commands.<verb>`` and is imported only when run, so
``artreg lint`` and ``artreg classify`` (run by git hooks) start fast and never
import boto3.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from artreg import __version__
from artreg.errors import (
    EXIT_BUG,
    EXIT_CHANGES,
    EXIT_INTERRUPTED,
    EXIT_PROBLEM,
    EXIT_USAGE,
    ArtregError,
)

# Every exit code artreg uses (documented in docs/ci.md, "Exit codes", and in --help).

_EXIT_CODES = f"""\
exit codes:
  0    success (plan --detailed-exitcode: nothing to change)
  {EXIT_PROBLEM}    a problem you can fix (the message says what, where and how), or failed checks
  {EXIT_USAGE}    wrong command-line usage
  {EXIT_BUG}    a bug in artreg (please report it, with the traceback)
  {EXIT_CHANGES}    plan --detailed-exitcode: changes are pending
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C, SIGTERM)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


if TYPE_CHECKING:
    from artreg.commands import StoreOpener

    _Sub = argparse._SubParsersAction[_Parser]


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="the configuration file (default: the nearest artreg.toml, from the working "
        "directory up to the repository root)",
    )


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        metavar="NAME",
        # An empty ARTREG_TARGET= (a CI variable set to nothing) chooses nothing.
        default=os.environ.get("ARTREG_TARGET") or None,
        help="the target to use (default: $ARTREG_TARGET, else the only target, else the "
        "one with default = true; see [targets])",
    )


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def _add_now(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--now",
        metavar="ISO-8601",
        help="act as of this instant (publish time, retention): previews and tests",
    )


def _add_publish_options(parser: argparse.ArgumentParser) -> None:
    _add_config(parser)
    _add_target(parser)
    _add_json(parser)
    _add_now(parser)
    parser.add_argument(
        "--tag",
        metavar="TAG",
        help="the build's tag (default: CI variables, git describe, else the commit id)",
    )
    parser.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="let retention delete more than gc.max_delete_fraction of a category",
    )
    parser.add_argument("--no-gc", action="store_true", help="publish without applying retention")


def _lint(sub: _Sub) -> None:
    lint = sub.add_parser("lint", help="validate artreg.toml and check tags against the convention")
    _add_config(lint)
    lint.add_argument(
        "--target",
        metavar="NAME",
        help="also check the builds this target holds against the configuration (reads them)",
    )
    lint.add_argument("tags", nargs="*", metavar="TAG", help="tags to check")


def _classify(sub: _Sub) -> None:
    classify = sub.add_parser("classify", help="print each tag's category, or why it is invalid")
    _add_config(classify)
    _add_json(classify)
    classify.add_argument("tags", nargs="+", metavar="TAG")


def _docs(sub: _Sub) -> None:
    docs = sub.add_parser(
        "docs",
        help="render the tagging convention as Markdown, or print a manual page",
        description="Without TOPIC (or with 'tagging'): the tagging convention of artreg.toml, "
        "as Markdown. With TOPIC: that page of artreg's manual.",
    )
    _add_config(docs)
    docs.add_argument(
        "topic",
        nargs="?",
        metavar="TOPIC",
        help="tagging (default), config, ci, hooks, oci, stores, spec",
    )
    docs.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    docs.add_argument(
        "--check", action="store_true", help="fail when --output FILE is not up to date"
    )


def _hooks(sub: _Sub) -> None:
    hooks = sub.add_parser("hooks", help="git hooks that enforce the tag convention")
    hooks_sub = hooks.add_subparsers(dest="hooks_command", metavar="ACTION", parser_class=_Parser)
    hooks_sub.required = True
    install = hooks_sub.add_parser("install", help="install the pre-push and tag hooks")
    install.add_argument("--repo", metavar="DIR", default=".", help="the git repository")
    pre_commit = hooks_sub.add_parser(
        "pre-commit-push", help="check the ref pre-commit's pre-push stage is pushing"
    )
    _add_config(pre_commit)


def _plan(sub: _Sub) -> None:
    plan = sub.add_parser("plan", help="show what apply would upload, rewrite and delete")
    _add_publish_options(plan)
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help=f"exit {EXIT_CHANGES} when there are changes to apply (0 when up to date)",
    )


def _apply(sub: _Sub) -> None:
    apply = sub.add_parser("apply", help="publish the build and update the index")
    _add_publish_options(apply)
    apply.add_argument(
        "--quiet", "-q", action="store_true", help="no progress output (warnings still shown)"
    )


def _gc(sub: _Sub) -> None:
    gc = sub.add_parser("gc", help="apply retention and remove orphans (no publishing)")
    _add_config(gc)
    _add_target(gc)
    _add_json(gc)
    _add_now(gc)
    gc.add_argument("--dry-run", action="store_true", help="show what would go; write nothing")
    gc.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="let retention delete more than gc.max_delete_fraction of a category",
    )


def _verify(sub: _Sub) -> None:
    verify = sub.add_parser("verify", help="check that every indexed file exists, intact")
    _add_config(verify)
    _add_target(verify)
    _add_json(verify)
    verify.add_argument("--deep", action="store_true", help="re-hash every file (reads it all)")
    verify.add_argument(
        "--repair", action="store_true", help="rewrite the index documents from the manifests"
    )


def _import(sub: _Sub) -> None:
    adopt = sub.add_parser(
        "import", help="write manifests for an existing <version>/<platform>/<file> tree"
    )
    _add_config(adopt)
    _add_target(adopt)
    _add_json(adopt)
    adopt.add_argument("--dry-run", action="store_true", help="show what would be imported")


def _ls(sub: _Sub) -> None:
    ls = sub.add_parser("ls", help="list published builds by category")
    _add_config(ls)
    _add_target(ls)
    _add_json(ls)
    ls.add_argument("--category", choices=["release", "extra", "dev"], help="only this category")


def _serve(sub: _Sub) -> None:
    serve = sub.add_parser("serve", help="serve a dir target as a bucket website would")
    _add_config(serve)
    _add_target(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any)")


def _yank(sub: _Sub) -> None:
    yank = sub.add_parser("yank", help="withdraw a build: files stay, pages strike it out")
    _add_config(yank)
    _add_target(yank)
    _add_now(yank)
    yank.add_argument("tag", help="the build's tag")
    yank.add_argument("--reason", required=True, help="why (shown on its pages)")


def _unyank(sub: _Sub) -> None:
    unyank = sub.add_parser("unyank", help="undo artreg yank")
    _add_config(unyank)
    _add_target(unyank)
    _add_now(unyank)
    unyank.add_argument("tag", help="the build's tag")


def _rm(sub: _Sub) -> None:
    rm = sub.add_parser("rm", help="delete a build now (a release needs --release)")
    _add_config(rm)
    _add_target(rm)
    _add_now(rm)
    rm.add_argument("tag", help="the build's tag")
    rm.add_argument("--release", action="store_true", help="allow removing a release")
    rm.add_argument("--dry-run", action="store_true", help="print what would go; delete nothing")


def _init(sub: _Sub) -> None:
    init = sub.add_parser("init", help="write a commented artreg.toml")
    init.add_argument("--output", "-o", metavar="FILE", default="artreg.toml")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")


# command name -> (module under artreg.commands with run(args) -> int, its subparser).
_COMMANDS: dict[str, tuple[str, Callable[[_Sub], None]]] = {
    "lint": ("lint", _lint),
    "classify": ("classify", _classify),
    "docs": ("docs", _docs),
    "hooks": ("hooks", _hooks),
    "plan": ("plan", _plan),
    "apply": ("apply", _apply),
    "gc": ("gc", _gc),
    "verify": ("verify", _verify),
    "import": ("import_", _import),
    "ls": ("ls", _ls),
    "serve": ("serve", _serve),
    "init": ("init", _init),
    "yank": ("yank", _yank),
    "unyank": ("yank", _unyank),
    "rm": ("rm", _rm),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's subparser.

    Building all twelve subparsers costs several milliseconds (argparse looks up
    translations for every help string), and git hooks run ``lint`` on every tag.
    """
    parser = _Parser(
        prog="artreg",
        description="Publish build artifacts and OCI images to a static S3 bucket.",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"artreg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (_, define) in _COMMANDS.items():
        if only is None or name == only:
            define(sub)
    return parser


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so cleanup (temporary files, the lease) runs as for Ctrl-C


def main(argv: Sequence[str] | None = None, *, open_store: StoreOpener | None = None) -> int:
    """Entry point: parse, dispatch, and turn errors into exit codes.

    ``open_store``: how commands open the target's store (tests pass their own);
    by default :func:`artreg.stores.open_store`.
    """
    if argv is None:  # the real command line (not a test calling main in-process)
        signal.signal(signal.SIGTERM, _terminated)
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(first if first in _COMMANDS else None).parse_args(argv)
    args.open_store = open_store
    try:
        module = importlib.import_module(f"artreg.commands.{_COMMANDS[args.command][0]}")
        code: int = module.run(args)
        return code
    except ArtregError as exc:
        print(f"artreg: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("artreg: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_PROBLEM
    except Exception:
        import traceback  # only on the way out: it costs start-up time

        traceback.print_exc()
        print(
            "artreg: internal error (a bug in artreg, not in your input); please report it",
            file=sys.stderr,
        )
        return EXIT_BUG
