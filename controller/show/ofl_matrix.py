"""L1 the `matrix` of an Open Fixture Library fixture for `ofl`: its pixel and group keys.

Pixel keys follow OFL's lib/model/Matrix.js: default keys are "1".."n" on one axis,
"(x, y)" on two, "(x, y, z)" on three; `pixelKeys` lists them as planes (z) of rows (y) of
keys (x), null for no pixel. A malformed matrix is reported with the path of the first bad
node below `matrix`.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.show.source import Plain

__all__ = ["MAX_PIXELS", "Matrix", "read_matrix"]

Where = tuple[str | int, ...]

MAX_PIXELS = 65536


@dataclass(frozen=True, slots=True, kw_only=True)
class Matrix:
    """Pixel keys and pixel group keys in JSON order; `axes`: dimensions with > 1 pixel.

    Cells need only how many pixels or groups an insert block repeats over and the keys that
    `$pixelKey` resolves to, so group members and pixel positions are not kept.
    """

    pixels: list[str]
    groups: list[str]
    axes: int

    def keys(self) -> list[str]:
        return [*self.pixels, *self.groups]

    def repeat(self, spec: object) -> tuple[list[str], str | int | None]:
        """What an insert block's `repeatFor` covers, or ([], problem or bad item index)."""
        axes = spec.removeprefix("eachPixel") if isinstance(spec, str) else ""
        if spec == "eachPixelABC" or sorted(axes) == ["X", "Y", "Z"]:
            return self.pixels, None
        if spec == "eachPixelGroup" and self.groups:
            return self.groups, None
        if isinstance(spec, list) and spec:
            bad = next((k for k, item in enumerate(spec) if item not in self.keys()), None)
            return ([], bad) if bad is not None else ([str(item) for item in spec], None)
        return [], (
            f"repeatFor={spec!r} must be eachPixelABC, eachPixelXYZ (any axis order), "
            "eachPixelGroup (with pixelGroups) or a list of pixel keys"
        )


def _default_keys(nx: int, ny: int, nz: int) -> list[str]:
    defined = [axis for axis, n in zip("XYZ", (nx, ny, nz), strict=True) if n > 1]
    keys: list[str] = []
    for z in range(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                if len(defined) <= 1:
                    keys.append(str(max(x, y, z)))
                elif len(defined) == 2:
                    first, last = (x if "X" in defined else y), (y if "Y" in defined else z)
                    keys.append(f"({first}, {last})")
                else:
                    keys.append(f"({x}, {y}, {z})")
    return keys


def read_matrix(raw: object) -> tuple[Matrix | None, str, Where]:
    """The fixture's `matrix` (None without one), or None, why it is malformed and where
    (a path below `matrix`)."""
    if raw is None:
        return None, "", ()
    counts = raw.get("pixelCount") if isinstance(raw, dict) else None
    planes = raw.get("pixelKeys") if isinstance(raw, dict) else None
    groups = raw.get("pixelGroups", {}) if isinstance(raw, dict) else None
    if not isinstance(groups, dict):
        return None, "pixelGroups must be an object of groups", ("pixelGroups",)
    if (
        isinstance(counts, list)
        and len(counts) == 3
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in counts)
    ):
        if counts[0] * counts[1] * counts[2] > MAX_PIXELS:
            return None, f"pixelCount={counts} has more than {MAX_PIXELS} pixels", ("pixelCount",)
        axes = sum(n > 1 for n in counts)
        return Matrix(pixels=_default_keys(*counts), groups=list(groups), axes=axes), "", ()
    if not isinstance(planes, list) or not planes:
        bad = "matrix needs 'pixelCount' [x, y, z] or 'pixelKeys' (z, y, x nested lists)"
        return None, bad, ()
    problem, where = _pixel_keys_problem(planes)
    if problem:
        return None, problem, ("pixelKeys", *where)
    cells = [c for plane in planes for row in plane for c in row]
    pixels = [c for c in cells if isinstance(c, str)]
    if not pixels or len(pixels) > MAX_PIXELS:
        return None, f"pixelKeys must name 1..{MAX_PIXELS} pixels", ("pixelKeys",)
    sizes = (max(len(r) for p in planes for r in p), max(len(p) for p in planes), len(planes))
    return Matrix(pixels=pixels, groups=list(groups), axes=sum(n > 1 for n in sizes)), "", ()


def _pixel_keys_problem(planes: list[Plain]) -> tuple[str, Where]:
    """Why `pixelKeys` is not planes of rows of keys (z, y, x), and where; ("", ()) if it is."""
    for i, plane in enumerate(planes):
        if not isinstance(plane, list) or not plane:
            return f"pixelKeys[{i}] must be a plane: a list of rows, got {plane!r:.40}", (i,)
        for j, row in enumerate(plane):
            if not isinstance(row, list):
                msg = f"pixelKeys[{i}][{j}] must be a row: a list of pixel keys, got {row!r:.40}"
                return msg, (i, j)
            for k, cell in enumerate(row):
                if cell is not None and not isinstance(cell, str):
                    msg = f"pixelKeys[{i}][{j}][{k}]={cell!r:.40} must be a pixel key or null"
                    return msg, (i, j, k)
    return "", ()
