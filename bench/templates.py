"""How long hostile organisers' templates hold a worker (issue 15.6).

Each case renders one letter through `render_letter`, in a child process limited to 1 GiB of
memory and `--timeout` seconds of wall time, and prints the time it took and how it ended.

    .venv/bin/python bench/templates.py [--timeout 90] [case ...]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

# bench/campaign.py would shadow the package: the repository's root comes first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = {
    "plain": "Madame, Monsieur {{ official.name }},\n{{ petition.confirmed }} signatures.",
    "nested_range": (
        "{% for a in range(100) %}{% for b in range(100) %}{% for c in range(100) %}"
        "{{ official.name }}{% endfor %}{% endfor %}{% endfor %}"
    ),
    "silent_nested_range": (
        "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(100) %}"
        "{% endfor %}{% endfor %}{% endfor %}x"
    ),
    "power": "{{ 7**(7**9) }}",
    "repetition": "{{ 'ab'*10**9 }}",
    "division": "{{ 1/0 }}",
    "mutation": "{{ petition.update(title='changed') }}{{ petition.title }}",
}

CONTEXT = {
    "official": {
        "name": "Claire Dumont",
        "first_name": "Claire",
        "last_name": "Dumont",
        "salutation": "Madame la députée",
        "civility": "Madame",
        "role": "Députée",
        "chamber": "Assemblée nationale",
        "departement": "75",
        "constituency": "",
    },
    "petition": {
        "title": "Nos données",
        "url": "https://x.example/p/1",
        "confirmed": 1200,
        "goal": 5000,
    },
    "categories": [],
    "counts": {},
    "publication": None,
}


def run_case(name: str) -> None:
    """Render one case in this process and print how it ended."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from campaign.mailings.templates import render_letter

    started = time.perf_counter()
    try:
        letter = render_letter("Lettre", CASES[name], CONTEXT)
    except Exception as error:
        outcome = f"{type(error).__name__}: {str(error)[:90]}"
    else:
        outcome = f"rendered, {len(letter.text)} characters"
    print(f"{time.perf_counter() - started:8.3f} s  {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--case")
    parser.add_argument("cases", nargs="*")
    args = parser.parse_args()
    if args.case:
        run_case(args.case)
        return
    for name in args.cases or CASES:
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--case", name],
                capture_output=True,
                text=True,
                timeout=args.timeout,
            )
            line = (done.stdout.strip() or done.stderr.strip().splitlines()[-1])[:120]
        except subprocess.TimeoutExpired:
            line = f"{time.perf_counter() - started:8.3f} s  still running: killed"
        print(f"{name:20} {line}", flush=True)


if __name__ == "__main__":
    main()
