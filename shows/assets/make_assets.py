"""Generate the Digital Night pictures in shows/assets/ (run from anywhere).

    .venv/bin/python shows/assets/make_assets.py

digital-night.png (160 x 40): "DIGITAL NIGHT" in a 5x7 pixel font, gold fading to cyan,
on near-black blue, with a heartbeat trace in the bottom band. It is drawn on a grid of
8 bands x 5 px so each band lines up with one of the 8 pixel runs of the Beijing media
facade (rows at z = 4..32 m, mapped with min z = 2, max z = 34): every run samples the
middle of one band, so the letters stay crisp on the building. Two picture pixels per
font column: 13 glyphs x 6 columns x 2 px = 156 px, centred.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 160, 40
BAND = 5  # picture rows per facade run
COL = 2  # picture columns per font column

# 5x7 glyphs, one string per row, '#' lit.
FONT = {
    "D": ["####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."],
    "I": ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "#####"],
    "G": [".####", "#....", "#....", "#.###", "#...#", "#...#", ".####"],
    "T": ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."],
    "A": [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
    "L": ["#....", "#....", "#....", "#....", "#....", "#....", "#####"],
    "N": ["#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#", "#...#"],
    "H": ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
    " ": ["....."] * 7,
}
BACKGROUND = (0, 8, 20)
GOLD = (255, 192, 64)
CYAN = (64, 192, 255)
TRACE = (255, 40, 60)


def mix(a: tuple[int, int, int], b: tuple[int, int, int], u: float) -> tuple[int, int, int]:
    r, g, bl = (round(x + (y - x) * u) for x, y in zip(a, b, strict=True))
    return (r, g, bl)


def digital_night() -> Image.Image:
    img = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    px = img.load()
    assert px is not None
    text = "DIGITAL NIGHT"
    cols = len(text) * 6 - 1
    left = (WIDTH - cols * COL) // 2
    for i, ch in enumerate(text):
        for row, bits in enumerate(FONT[ch]):
            for c, bit in enumerate(bits):
                if bit != "#":
                    continue
                x0 = left + (i * 6 + c) * COL
                color = mix(GOLD, CYAN, (x0 - left) / (cols * COL))
                for y in range(row * BAND, (row + 1) * BAND):
                    for x in range(x0, x0 + COL):
                        px[x, y] = color
    # Bottom band: a heartbeat trace, flat with one lub-dub blip in the middle.
    y0 = 7 * BAND
    for x in range(left, left + cols * COL):
        u = (x - left) / (cols * COL)
        blip = 0.46 < u < 0.50 or 0.53 < u < 0.55
        for y in range(y0, y0 + BAND):
            px[x, y] = TRACE if blip else mix(BACKGROUND, TRACE, 0.45)
    return img


def main() -> None:
    out = HERE / "digital-night.png"
    digital_night().save(out, optimize=True)
    print(f"wrote {out} ({WIDTH}x{HEIGHT})")


if __name__ == "__main__":
    main()
