"""The domains' floors (docs/architecture.md): a domain imports only the domains below it.
What must go up goes through the signals of campaign/signatures/events.py."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "campaign"

# From the bottom up; a domain may import any domain before it in this list.
FLOORS = [
    "accounts",
    "petitions",
    "signatures",
    "officials",
    "verification",
    "publication",
    "mailings",
    "objections",
    "privacy",
    "site",
]

# Imports that still run back up: none left (issue 19 moved the petition page to site/).
KNOWN_DEBTS: set[tuple[str, str]] = set()


def _imported_domains(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "campaign" and len(parts) > 1 and parts[1] in FLOORS:
                found.add(parts[1])
    return found


def test_no_domain_imports_a_domain_above_it():
    upward = set()
    for domain in FLOORS:
        floor = FLOORS.index(domain)
        for path in sorted((PACKAGE / domain).rglob("*.py")):
            for other in _imported_domains(path):
                if FLOORS.index(other) > floor and (domain, other) not in KNOWN_DEBTS:
                    upward.add(f"{path.relative_to(PACKAGE.parent)} imports campaign.{other}")
    assert not upward, sorted(upward)


def test_the_shared_modules_import_no_domain():
    """The platform modules (mail, web, text rules, levels...) sit below every domain."""
    shared = [PACKAGE / "mail", PACKAGE / "web"] + [
        PACKAGE / f"{name}.py"
        for name in ("levels", "text_rules", "abuse", "tokens", "transitions", "personal_data")
    ]
    imports = {
        str(path.relative_to(PACKAGE.parent)): _imported_domains(path)
        for place in shared
        for path in ([place] if place.is_file() else sorted(place.rglob("*.py")))
    }
    assert {path: domains for path, domains in imports.items() if domains} == {}
