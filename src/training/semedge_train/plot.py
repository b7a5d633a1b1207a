"""Training-curve PNG drawn with PIL (no plotting library on the target machines)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

_W, _H, _PAD = 440, 300, 44
_COLOURS = {"train loss": (31, 119, 180), "val loss": (255, 127, 14), "val accuracy": (44, 160, 44)}


def _panel(draw: ImageDraw.ImageDraw, font, x0: int, title: str, series: dict[str, Sequence[float]],
           y_range: tuple[float, float] | None) -> None:
    left, top, right, bottom = x0 + _PAD, _PAD, x0 + _W - 12, _H - _PAD
    draw.rectangle([left, top, right, bottom], outline=(0, 0, 0))
    draw.text((left, 12), title, fill=(0, 0, 0), font=font)
    values = [v for s in series.values() for v in s]
    if not values:
        return
    lo, hi = y_range if y_range else (min(values), max(values))
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    n = max(len(s) for s in series.values())

    def px(i: int, v: float) -> tuple[float, float]:
        x = left + (right - left) * (i / max(n - 1, 1))
        y = bottom - (bottom - top) * ((v - lo) / (hi - lo))
        return x, y

    for frac in (0.0, 0.5, 1.0):
        v = lo + (hi - lo) * frac
        y = bottom - (bottom - top) * frac
        draw.line([left - 4, y, left, y], fill=(0, 0, 0))
        draw.text((x0 + 2, y - 5), f"{v:.3g}", fill=(0, 0, 0), font=font)
    draw.text((left, bottom + 8), "epoch 1", fill=(0, 0, 0), font=font)
    draw.text((right - 50, bottom + 8), f"epoch {n}", fill=(0, 0, 0), font=font)
    for row, (name, s) in enumerate(series.items()):
        colour = _COLOURS.get(name, (0, 0, 0))
        points = [px(i, v) for i, v in enumerate(s)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
        draw.text((right - 110, top + 6 + 12 * row), name, fill=colour, font=font)


def draw_curves(path: Path, title: str, train_loss: Sequence[float], val_loss: Sequence[float],
                val_accuracy: Sequence[float]) -> None:
    image = Image.new("RGB", (2 * _W, _H + 16), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    _panel(draw, font, 0, f"{title}: loss", {"train loss": train_loss, "val loss": val_loss}, None)
    acc_lo = min([0.9] + list(val_accuracy))
    _panel(draw, font, _W, f"{title}: val accuracy", {"val accuracy": val_accuracy}, (acc_lo, 1.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
