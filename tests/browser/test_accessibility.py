"""Every role's pages on a 360-px-wide phone screen, checked in the browser: nothing wider than
the screen (no sideways scrolling), every form control named by a label, every link and
button with a name, images with alt text, text contrast at least WCAG AA (4.5:1; 3:1 for
large text), headings that start at h1 and skip no level, and a keyboard that reaches the
main content first (the skip link) and sees where its focus is."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import PHONE, People

# The checks, run in the page; each returns the offending elements, described.
AUDIT = """() => {
  const visible = (el) => {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return style.visibility !== "hidden" && style.display !== "none" && box.width > 0 && box.height > 0;
  };
  const describe = (el) => {
    const text = (el.innerText || el.value || el.getAttribute("name") || "").trim().slice(0, 40);
    return `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} "${text}"`;
  };
  const problems = {overflow: [], unlabelled: [], unnamed: [], alt: [], contrast: [], headings: []};

  const width = document.documentElement.clientWidth;
  if (document.scrollingElement.scrollWidth > width + 1) {
    problems.overflow.push(`page ${document.scrollingElement.scrollWidth}px wide on a ${width}px screen`);
  }
  for (const el of document.querySelectorAll("body *")) {
    if (!visible(el)) continue;
    const box = el.getBoundingClientRect();
    // Wide tables and the chart may scroll inside their own box; the page itself may not.
    if (box.right > width + 1 && !el.closest(".table-wrap, svg, pre")) {
      problems.overflow.push(`${describe(el)} reaches ${Math.round(box.right)}px`);
    }
  }

  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || !visible(el)) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute("aria-label")
      || el.getAttribute("aria-labelledby");
    if (!named) problems.unlabelled.push(describe(el));
  }
  for (const el of document.querySelectorAll("a[href], button, [role=button]")) {
    if (!visible(el)) continue;
    const name = (el.innerText || el.getAttribute("aria-label") || el.getAttribute("title") || el.value || "").trim();
    if (!name) problems.unnamed.push(describe(el));
  }
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt")) problems.alt.push(el.src);
  }

  const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const rgba = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const [r, g, b, a = 1] = rgba(getComputedStyle(node).backgroundColor);
      if (a > 0.5 && getComputedStyle(node).backgroundColor !== "transparent") return [r, g, b];
    }
    return [255, 255, 255];
  };
  for (const el of document.querySelectorAll("body *")) {
    if (!visible(el)) continue;
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!ownText) continue;
    const style = getComputedStyle(el);
    const fg = rgba(style.color);
    const bg = background(el);
    const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.contrast.push(`${describe(el)}: ${ratio.toFixed(2)}:1`);
  }

  let previous = 0;
  for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    const level = Number(h.tagName[1]);
    if (previous === 0 && level !== 1) problems.headings.push(`first heading is ${h.tagName}`);
    if (previous && level > previous + 1) problems.headings.push(`${h.tagName} after h${previous}: ${describe(h)}`);
    previous = level;
  }
  if (document.querySelectorAll("h1").length !== 1) problems.headings.push("not exactly one h1");
  return problems;
}"""

PAGES = [
    ("region_admin", "62.10", None, ["/daerah/62.10", "/pengaturan", "/wilayah/62.10", "/akun"]),
    ("viewer", "62.10", None, ["/daerah/62.10"]),
    ("operator", "62.10", "dinkes", ["/inovasi", "/inovasi/baru"]),
    ("verifier", "62.10", None, ["/verifikasi"]),
    ("national", None, None, ["/peringkat"]),
]


async def audit(page: Any) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = await page.evaluate(AUDIT)
    return {kind: found for kind, found in problems.items() if found}


@pytest.mark.parametrize(("role", "region", "agency", "paths"), PAGES, ids=[p[0] for p in PAGES])
async def test_the_pages_of_each_role_work_on_a_phone_and_for_everyone(
        people: People, role: str, region: str | None, agency: str | None, paths: list[str]) -> None:
    person = await people.signed_in(role, region, agency, viewport=PHONE)
    page = person.page
    for path in paths:
        response = await page.goto(path)
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        problems = await audit(page)
        assert not problems, f"{role} {path}: {problems}"
        # The keyboard: the first Tab reaches the skip link to the main content, and focus shows.
        await page.keyboard.press("Tab")
        focused = await page.evaluate("""() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {href: el.getAttribute("href") || "", text: el.innerText.trim(),
                    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
                    shadow: style.boxShadow !== "none"};
        }""")
        assert focused["href"].startswith("#"), f"{path}: the first Tab reaches {focused}, not a skip link"
        assert focused["outline"] or focused["shadow"], f"{path}: focus is not visible on {focused}"
        target = await page.locator(focused["href"]).count()
        assert target == 1, f"{path}: the skip link's target {focused['href']} is missing"
    assert not [line for line in person.console if line.startswith(("error", "pageerror"))], person.console
