"""Start-up cost of the commands git hooks run, against a bare interpreter.

Prints the median wall time of `artreg classify v1.2.3` and `artreg lint`
(on the repository's own artreg.toml) next to `python -c pass` from the same
interpreter, measured in this run, as ratios. Target: <= 2.0x.

    python benchmarks/lint_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0


def median_seconds(command: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    runs = parser.parse_args().runs
    python = sys.executable
    cases = {
        "python -c pass": [python, "-c", "pass"],
        "artreg classify v1.2.3": [python, "-m", "artreg", "classify", "v1.2.3"],
        "artreg lint": [python, "-m", "artreg", "lint"],
        # What any start-up must pay for the libraries artreg is built on (semver,
        # tomllib, argparse, dataclasses, pathlib): the floor below which no
        # amount of lazy importing in artreg itself can go.
        "dependency floor": [
            python,
            "-c",
            "import argparse, dataclasses, pathlib, semver, tomllib",
        ],
        "import boto3 (for scale)": [python, "-c", "import boto3"],
    }
    # One warm-up each so the page cache and .pyc files are in place.
    for command in cases.values():
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    results = {name: median_seconds(command, runs) for name, command in cases.items()}
    base = results["python -c pass"]
    print(f"median of {runs} runs, {python}")
    floor = results["dependency floor"]
    worst = 0.0
    for name, seconds in results.items():
        ratio = seconds / base
        mark = ""
        if name.startswith("artreg"):
            worst = max(worst, ratio)
            mark = "  ok" if ratio <= TARGET_RATIO else f"  OVER TARGET {TARGET_RATIO}x"
        print(f"{name:28s} {seconds * 1000:7.1f} ms  {ratio:5.2f}x{mark}")
    classify_over = results["artreg classify v1.2.3"] / floor
    lint_over = results["artreg lint"] / floor
    print(f"over the dependency floor: classify {classify_over:.2f}x, lint {lint_over:.2f}x")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
