"""What the page tests measure in the browser: the bars a chart drew (read back from its
canvas), the layout (horizontal overflow, words broken in the middle). Each probe is one
function that Playwright evaluates (``page.evaluate`` calls a function through the
DevTools protocol, which the page's Content-Security-Policy allows; a string to
``wait_for_function`` would be an eval, which it refuses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.async_api import Page

# The bars drawn in one colour inside a chart's plot area (uPlot's .u-over box), in device
# pixels from the plot's top-left corner: a bar is a run of columns holding that colour,
# `top` its highest pixel and `bottom` its lowest (the baseline).
_BARS = """([selector, rgb]) => {
  const root = document.querySelector(selector);
  const canvas = root && root.querySelector("canvas");
  if (!canvas) return null;
  const over = root.querySelector(".u-over").getBoundingClientRect();
  const box = canvas.getBoundingClientRect();
  const ratio = canvas.width / box.width;
  const x0 = Math.round((over.left - box.left) * ratio), y0 = Math.round((over.top - box.top) * ratio);
  const w = Math.round(over.width * ratio), h = Math.round(over.height * ratio);
  const data = canvas.getContext("2d").getImageData(x0, y0, w, h).data;
  const near = (i) => [0, 1, 2].every((c) => Math.abs(data[i + c] - rgb[c]) < 40) && data[i + 3] > 0;
  const bars = [];
  let current = null;
  for (let x = 0; x < w; x++) {
    let top = -1, bottom = -1;
    for (let y = 0; y < h; y++) {
      if (near((y * w + x) * 4)) { if (top < 0) top = y; bottom = y; }
    }
    if (top < 0) { current = null; continue; }
    if (!current) { current = { x0: x, x1: x, top, bottom }; bars.push(current); continue; }
    current.x1 = x;
    current.top = Math.min(current.top, top);
    current.bottom = Math.max(current.bottom, bottom);
  }
  return { width: w, height: h, bars };
}"""

# The colour of every pixel of one row of a chart's plot area, at `fraction` of its height,
# as seen on the page: the canvas is transparent, so composited over the white panel.
_ROW = """([selector, fraction]) => {
  const root = document.querySelector(selector);
  const canvas = root.querySelector("canvas");
  const over = root.querySelector(".u-over").getBoundingClientRect();
  const box = canvas.getBoundingClientRect();
  const ratio = canvas.width / box.width;
  const x0 = Math.round((over.left - box.left) * ratio);
  const y = Math.round((over.top - box.top + over.height * fraction) * ratio);
  const w = Math.round(over.width * ratio);
  const data = canvas.getContext("2d").getImageData(x0, y, w, 1).data;
  const row = [];
  const over_white = (x, c) => Math.round((data[4 * x + c] * data[4 * x + 3]) / 255 + 255 - data[4 * x + 3]);
  for (let x = 0; x < w; x++) row.push([0, 1, 2].map((c) => over_white(x, c)));
  return row;
}"""

_PLOT_BOX = """(selector) => {
  const r = document.querySelector(selector + " .u-over").getBoundingClientRect();
  return [r.left, r.width];
}"""

# Every visible word (a run of non-space characters inside one text node, up to and with a
# hyphen, where lines may break as in any text) that the browser laid out on more than one
# line: a word broken in the middle. The page puts a <wbr> between the pieces of a name
# ("demo/" and "hello"), so those are separate text nodes. Times, numbers and badges must
# keep to one line whole.
_BROKEN_WORDS = """() => {
  const broken = [];
  const tops = (range) => [...range.getClientRects()].filter((r) => r.width).map((r) => Math.round(r.top));
  const lines = (range) => new Set(tops(range)).size;
  const textLines = (el) => {
    const found = new Set();
    const texts = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = texts.nextNode(); node; node = texts.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      tops(range).forEach((top) => found.add(top));
    }
    return found.size;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest("[hidden], select, script, style") || !el.getClientRects().length) continue;
    const words = /[^\\s-]+-?|-/g;
    let m;
    while ((m = words.exec(node.data))) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const where = el.closest("[id]") ? el.closest("[id]").id : el.tagName;
      if (lines(range) > 1) broken.push(`${m[0]} (in ${where})`);
    }
  }
  for (const el of document.querySelectorAll("td.when, td.num, .action, .tile .value")) {
    if (!el.getClientRects().length || !el.textContent.trim()) continue;
    if (textLines(el) > 1) broken.push(`${el.textContent} (a time, number or badge on several lines)`);
  }
  return broken;
}"""

# What sticks out sideways: the document's own scroll width past the viewport, and every
# visible element (a table in a panel, say) whose content is wider than its box.
_OVERFLOW = """() => {
  const found = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) found.push(`document: ${root.scrollWidth} > ${root.clientWidth}`);
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length || el.closest("select")) continue;
    const r = el.getBoundingClientRect();
    const name = `${el.tagName}#${el.id}.${el.className}`;
    if (r.right > root.clientWidth + 0.5) found.push(`${name}: right ${r.right}`);
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== "visible") {
      found.push(`${name} scrolls: ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  return found;
}"""


@dataclass(frozen=True)
class Bar:
    x0: int
    x1: int
    top: int
    bottom: int

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class Bars:
    width: int  # of the plot area, device pixels
    height: int
    bars: list[Bar]

    def tall(self, least: int = 4) -> list[Bar]:
        """The bars of a non-zero value (a zero is drawn as a line on the baseline)."""
        return [b for b in self.bars if b.height >= least]


async def bars(page: Page, selector: str, rgb: tuple[int, int, int]) -> Bars:
    found: dict[str, Any] | None = await page.evaluate(_BARS, [selector, list(rgb)])
    assert found is not None, f"{selector} has no canvas"
    return Bars(found["width"], found["height"], [Bar(**b) for b in found["bars"]])


async def plot_row(page: Page, selector: str, fraction: float) -> list[tuple[int, int, int]]:
    return [tuple(p) for p in await page.evaluate(_ROW, [selector, fraction])]


async def plot_box(page: Page, selector: str) -> tuple[float, float]:
    left, width = await page.evaluate(_PLOT_BOX, selector)
    return float(left), float(width)


async def broken_words(page: Page) -> list[str]:
    return list(await page.evaluate(_BROKEN_WORDS))


async def sideways_overflow(page: Page) -> list[str]:
    return list(await page.evaluate(_OVERFLOW))
