"""Tenancy is the server's: a viewer who types another region's dashboard address gets the
error page (403 or 404) and none of its figures — not just a menu without the link."""

from __future__ import annotations

import pytest

from tests.browser.conftest import People

REFUSED = (403, 404)


async def figures_on(page) -> int:
    return await page.locator("[data-figure]").count()


async def test_a_viewer_cannot_reach_another_regions_dashboard(people: People) -> None:
    viewer = await people.signed_in("viewer", "62.10")
    page = viewer.page
    assert await figures_on(page) == 3  # its own dashboard
    for other in ("62.01", "63.01", "62"):
        response = await page.goto(f"/daerah/{other}")
        assert response is not None and response.status in REFUSED, (other, response and response.status)
        assert await figures_on(page) == 0, other
        assert viewer.path() == f"/daerah/{other}"  # refused in place, not sent to some other page
    # Nor its live feed (what the dashboard's script follows), asked for with the viewer's cookies.
    for other in ("62.01", "63.01"):
        feed = await page.request.get(f"/daerah/{other}/langsung", timeout=10_000, fail_on_status_code=False)
        assert feed.status in REFUSED, (other, feed.status)
        assert not feed.headers.get("content-type", "").startswith("text/event-stream")
    # Nobody signed in gets no feed at all.
    stranger = await people.person("stranger")
    feed = await stranger.page.request.get("/daerah/62.10/langsung", timeout=10_000, max_redirects=0)
    assert feed.status in (303, 401, 403), feed.status
    assert not feed.headers.get("content-type", "").startswith("text/event-stream")
    # The menu offers no other region either.
    await page.goto("/daerah/62.10")
    links = await page.locator("nav a[href^='/daerah/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    assert set(links) <= {"/daerah/62.10"}


@pytest.mark.parametrize(("role", "region", "allowed", "refused"), [
    ("province_admin", "62", "62.10", "63.01"),
    ("region_admin", "62.10", "62.10", "62.01"),
])
async def test_oversight_reaches_only_its_own_regions(people: People, role: str, region: str, allowed: str,
                                                      refused: str) -> None:
    person = await people.signed_in(role, region)
    ok = await person.page.goto(f"/daerah/{allowed}")
    assert ok is not None and ok.status == 200
    assert await figures_on(person.page) == 3
    no = await person.page.goto(f"/daerah/{refused}")
    assert no is not None and no.status in REFUSED
    assert await figures_on(person.page) == 0
