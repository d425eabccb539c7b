"""The lineage section of the resource page: the SVG graph, its depth links, column lineage, impact, hidden hops."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect
from sqlalchemy import event

from datadesk.catalog.lineage_graph import Edge, Graph, Node
from datadesk.catalog.models import Resource
from datadesk.web import lineage_svg
from tests.catalog.helpers import add_integration, by_name, sync
from tests.catalog.sources import chain_ddl, execute
from tests.web.conftest import log_in, patch, shot, sign_in
from tests.world import World

# The chain of views, and one whose name and column are markup, to be shown as text.
DDL = chain_ddl(extra='CREATE VIEW "odd<i>&view" AS SELECT region AS "a<b>" FROM customers;')
ODD = "chain.main.odd<i>&view"


@pytest.fixture
def chain(client: TestClient, world: World, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """The views synced into workspace A on an integration everyone sees."""
    path = tmp_path / "chain.db"
    execute(path, DDL)
    integration = add_integration(client, world.a.admin, "chain", "sqlite", {"url": f"sqlite:///{path}"})
    run = sync(client, world.a.admin, integration["id"])
    assert run["status"] == "succeeded", run
    return by_name(client, world.a.admin, integration_id=integration["id"])


def rid(chain: dict[str, dict[str, Any]], name: str) -> str:
    return str(chain[f"chain.main.{name}"]["id"])


def svg_of(html: str) -> str:
    found = re.search(r'<svg class="lineage-graph".*?</svg>\s*</div>', html, re.S)
    assert found, "no lineage graph on the page"
    return found.group(0)


def drawn_edges(svg: str) -> set[tuple[str, str, str]]:
    """(from, to, kind) of every edge path in the SVG."""
    return {
        (m["f"], m["t"], m["k"])
        for m in re.finditer(
            r'<path class="lg-edge lg-edge-(?P<k>\w+)"[^>]*data-from="(?P<f>[^"]+)" data-to="(?P<t>[^"]+)"', svg
        )
    }


def curate_totals_to_finance(client: TestClient, world: World, chain: dict[str, dict[str, Any]]) -> list[str]:
    """The middle hop of the chain becomes Finance's; returns the ids the viewer (Marketing) must never see."""
    patch(client, world.a.admin, rid(chain, "totals"), {"team_ids": [world.a.teams["Finance"]]})
    return [r["id"] for name, r in chain.items() if name.startswith("chain.main.totals")]


def test_the_graph_draws_upstream_and_downstream_with_edges_and_links(
    client: TestClient, world: World, chain: dict[str, dict[str, Any]]
) -> None:
    sign_in(client, world.a.viewer)
    page = client.get(f"/resources/{rid(chain, 'paid_orders')}").text
    svg = svg_of(page)
    for name in ("customers", "orders", "totals", "paid_orders"):
        assert f">{name}</text>" in svg, name
    paid, orders, customers, totals = (rid(chain, n) for n in ("paid_orders", "orders", "customers", "totals"))
    assert drawn_edges(svg) == {(orders, paid, "value"), (customers, paid, "value"), (paid, totals, "value")}
    assert 'marker-end="url(#lineage-arrow-value)"' in svg
    for linked in (orders, customers, totals):
        assert f'href="/resources/{linked}"' in svg
    assert f'href="/resources/{paid}"' not in svg  # the resource itself is the centre, not a link
    assert "<title>table chain.main.orders</title>" in svg
    # the resource in the middle: upstream to its left, downstream to its right
    x = {
        m["k"]: float(m["x"])
        for m in re.finditer(r'data-key="(?P<k>\w+)"><title>[^<]*</title><svg x="(?P<x>[\d.]+)"', svg)
    }
    assert x[orders] == x[customers] < x[paid] < x[totals]
    assert "top" not in re.sub(r"<[^>]+>", " ", svg).split()  # two hops away: not at depth 1


def test_depth_links_reload_the_section_and_need_a_login(
    client: TestClient, world: World, chain: dict[str, dict[str, Any]]
) -> None:
    paid = rid(chain, "paid_orders")
    url = f"/resources/{paid}/lineage"
    client.cookies.clear()
    anonymous = client.get(url, params={"depth": 2}, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    htmx_anonymous = client.get(url, params={"depth": 2}, headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx_anonymous.headers.get("HX-Redirect", "").startswith("/login")
    assert "lineage-graph" not in anonymous.text + htmx_anonymous.text
    for other in (f"/resources/{paid}/lineage/columns", f"/resources/{paid}/impact"):
        refused = client.get(other, follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login?next="), other

    sign_in(client, world.a.viewer)
    page = client.get(f"/resources/{paid}").text
    assert f'hx-get="/resources/{paid}/lineage?depth=2"' in page
    section = client.get(url, params={"depth": 2}, headers={"HX-Request": "true"})
    assert section.status_code == 200
    assert "<html" not in section.text and section.text.lstrip().startswith(
        '<section class="block lineage-block" id="lineage">'
    )
    svg = svg_of(section.text)
    assert ">top</text>" in svg and "downstream · 2 hops" in svg
    assert (rid(chain, "totals"), rid(chain, "top"), "value") in drawn_edges(svg)
    assert 'class="active" aria-current="true">2<' in section.text
    # without htmx: the whole page, at that depth
    plain = client.get(url, params={"depth": 2}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == f"/resources/{paid}?lineage_depth=2#lineage"
    assert ">top</text>" in svg_of(client.get(f"/resources/{paid}", params={"lineage_depth": 2}).text)
    # depths are kept to what the links offer
    assert "downstream · 3 hops" not in client.get(url, params={"depth": 9}, headers={"HX-Request": "true"}).text
    # another workspace finds nothing
    sign_in(client, world.b.admin, workspace="beta")
    assert client.get(url, params={"depth": 2}, headers={"HX-Request": "true"}).status_code == 404


def test_a_hidden_middle_hop_is_a_grey_nameless_box(
    client: TestClient, world: World, chain: dict[str, dict[str, Any]]
) -> None:
    secret = curate_totals_to_finance(client, world, chain)
    sign_in(client, world.a.viewer)  # Marketing
    paid, top = rid(chain, "paid_orders"), rid(chain, "top")
    pages = {
        "page": client.get(f"/resources/{paid}", params={"lineage_depth": 2}).text,
        "section": client.get(f"/resources/{paid}/lineage?depth=3", headers={"HX-Request": "true"}).text,
        "column": client.get(f"/resources/{rid(chain, 'top.total')}", params={"lineage_depth": 3}).text,
        "impact": client.get(f"/resources/{paid}/impact").text,
        "columns": client.get(f"/resources/{paid}/lineage/columns", headers={"HX-Request": "true"}).text,
        "top": client.get(f"/resources/{top}/lineage/columns").text,
    }
    for where, html in pages.items():
        assert "totals" not in html, where
        assert not [i for i in secret if i in html], where
    totals = rid(chain, "totals")
    for door in ("/impact", "/lineage/columns", "/lineage?depth=2"):
        assert client.get(f"/resources/{totals}{door}", headers={"HX-Request": "true"}).status_code == 404, door
    svg = svg_of(pages["page"])
    assert 'class="lg-node lg-hidden"' in svg and ">hidden</text>" in svg
    assert "<title>An asset you cannot see</title>" in svg
    assert drawn_edges(svg) >= {(paid, "hidden-1", "value"), ("hidden-1", top, "value")}
    assert 'href="/resources/hidden' not in svg
    assert "1 of them you cannot see" in pages["page"]
    column_svg = svg_of(pages["column"])
    assert ">paid_orders.amount_usd</text>" in column_svg and ">hidden</text>" in column_svg
    assert "1 asset you cannot see" in pages["impact"]
    hop2 = pages["impact"].split('id="hop-2"')[1]
    assert f'href="/resources/{top}"' in hop2 and "from an asset you cannot see" in hop2
    # the admin sees the same hop by name
    sign_in(client, world.a.admin)
    assert ">totals</text>" in svg_of(client.get(f"/resources/{paid}").text)


def test_columns_open_into_where_each_value_comes_from(
    client: TestClient, world: World, chain: dict[str, dict[str, Any]]
) -> None:
    sign_in(client, world.a.viewer)
    paid = rid(chain, "paid_orders")
    page = client.get(f"/resources/{paid}").text
    assert f'hx-get="/resources/{paid}/lineage/columns"' in page and 'hx-trigger="toggle once"' in page
    assert "orders.amount</a>" not in page  # loaded only when opened
    fragment = client.get(f"/resources/{paid}/lineage/columns", headers={"HX-Request": "true"}).text
    assert "<html" not in fragment
    rows = {
        m["col"]: m["rest"]
        for m in re.finditer(
            r'<td class="nowrap"><a href="/resources/\w+">(?P<col>\w+)</a></td>(?P<rest>.*?)</tr>', fragment, re.S
        )
    }
    assert ">orders.amount</a>" in rows["amount_usd"] and ">customers.full_name</a>" in rows["customer"]
    assert ">totals.total</a>" in rows["amount_usd"]  # what it feeds
    filters = fragment.split('class="lineage-filters"')[1].split("</p>")[0]
    assert ">orders.status</a>" in filters and ">customers.id</a>" in filters
    assert ">orders.amount</a>" not in filters
    # a column that decides rows shows it on its table's list, as a filter into the view
    orders = client.get(f"/resources/{rid(chain, 'orders')}/lineage/columns", headers={"HX-Request": "true"}).text
    assert re.search(r">status</a></td>.*?>paid_orders</a> <span class=\"lg-kind lg-kind-filter\">filter", orders, re.S)
    whole = client.get(f"/resources/{paid}/lineage/columns")
    assert whole.status_code == 200 and "<html" in whole.text and "Column lineage of paid_orders" in whole.text


def test_column_lineage_costs_the_same_for_a_wide_table(client: TestClient, world: World, tmp_path: Path) -> None:
    names = [f"c{i}" for i in range(300)]
    path = tmp_path / "wide.db"
    execute(
        path,
        f"CREATE TABLE wide ({', '.join(f'{n} INTEGER' for n in names)});\n"
        f"CREATE VIEW wide_v AS SELECT {', '.join(f'{n} + 1 AS {n}' for n in names)} FROM wide;\n"
        "CREATE TABLE narrow (c0 INTEGER);\nCREATE VIEW narrow_v AS SELECT c0 + 1 AS c0 FROM narrow;\n",
    )
    integration = add_integration(client, world.a.admin, "wide", "sqlite", {"url": f"sqlite:///{path}"})
    assert sync(client, world.a.admin, integration["id"])["status"] == "succeeded"
    found = by_name(client, world.a.admin, integration_id=integration["id"])
    sign_in(client, world.a.viewer)
    counts = {}
    for view in ("narrow_v", "wide_v"):
        with counted(client) as statements:
            response = client.get(
                f"/resources/{found[f'wide.main.{view}']['id']}/lineage/columns", headers={"HX-Request": "true"}
            )
        assert response.status_code == 200
        counts[view] = len(statements)
    assert ">wide.c299</a>" in response.text
    assert counts["wide_v"] == counts["narrow_v"], counts


@contextmanager
def counted(client: TestClient) -> Iterator[list[str]]:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.search(r"\bFROM (resource|lineage)\b", statement):  # the catalog's; not a job queue's polling
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_impact_lists_what_depends_on_a_column_or_a_table_by_hop_with_kinds(
    client: TestClient, world: World, chain: dict[str, dict[str, Any]]
) -> None:
    sign_in(client, world.a.viewer)
    status = rid(chain, "orders.status")
    column_page = client.get(f"/resources/{status}").text
    assert f'href="/resources/{status}/impact"' in column_page
    assert f'href="/resources/{rid(chain, "orders")}/impact"' in client.get(f"/resources/{rid(chain, 'orders')}").text
    impact = client.get(f"/resources/{status}/impact").text
    hops = {int(m[1]): m[2] for m in re.finditer(r'id="hop-(\d)">(.*?)</section>', impact, re.S)}
    assert sorted(hops) == [1, 2, 3]
    assert f'href="/resources/{rid(chain, "paid_orders")}"' in hops[1]
    assert re.search(r'lg-kind-filter">filter</span> from this column', hops[1])
    assert f'href="/resources/{rid(chain, "totals")}"' in hops[2] and 'lg-kind-value">value</span> from' in hops[2]
    assert f'href="/resources/{rid(chain, "top")}"' in hops[3]
    assert "you cannot see" not in impact
    amount = client.get(f"/resources/{rid(chain, 'orders.amount')}/impact").text
    assert ">chain.main.paid_orders.amount_usd<" in amount and ">chain.main.top.total<" in amount
    table = client.get(f"/resources/{rid(chain, 'orders')}/impact").text
    assert 'lg-kind-value">value</span> from this table' in table


def test_a_column_page_draws_its_own_lineage(
    client: TestClient, world: World, chain: dict[str, dict[str, Any]]
) -> None:
    sign_in(client, world.a.viewer)
    amount = rid(chain, "paid_orders.amount_usd")
    svg = svg_of(client.get(f"/resources/{amount}").text)
    assert ">orders.amount</text>" in svg and ">totals.total</text>" in svg
    assert (rid(chain, "orders.amount"), amount, "value") in drawn_edges(svg)
    status = rid(chain, "orders.status")
    status_svg = svg_of(client.get(f"/resources/{status}").text)
    assert (status, rid(chain, "paid_orders"), "filter") in drawn_edges(status_svg)
    assert 'stroke-dasharray="5 4" marker-end="url(#lineage-arrow-filter)"' in status_svg


def test_markup_in_names_is_shown_as_text(client: TestClient, world: World, chain: dict[str, dict[str, Any]]) -> None:
    odd, customers = chain[ODD]["id"], rid(chain, "customers")
    sign_in(client, world.a.viewer)
    pages = [
        client.get(f"/resources/{customers}").text,
        client.get(f"/resources/{customers}/impact").text,
        client.get(f"/resources/{odd}/lineage/columns", headers={"HX-Request": "true"}).text,
        client.get(f"/resources/{chain[f'{ODD}.a<b>']['id']}").text,
    ]
    for html in pages:
        assert "odd<i>" not in html and "<b>" not in html
    assert all("odd&lt;i&gt;&amp;view" in html for html in (pages[0], pages[1], pages[3]))
    assert ">odd&lt;i&gt;&amp;view</text>" in svg_of(pages[0])
    assert "<title>view chain.main.odd&lt;i&gt;&amp;view</title>" in svg_of(pages[0])
    assert ">a&lt;b&gt;</a>" in pages[2]


# --- the layout on its own --------------------------------------------------------------------


def fake(i: int, type: str = "table", name: str = "") -> Resource:
    name = name or f"t{i:02d}"
    return Resource(id=f"{i:032d}", type=type, name=name, qualified_name=f"wh.main.{name}", workspace_id="w")


def test_forty_odd_nodes_are_stacked_without_overlap_and_long_names_clipped() -> None:
    start = fake(0, name="centre")
    long = "a_very_long_table_name_that_cannot_fit_in_a_box_" * 2
    ups = [Node(fake(i).id, fake(i), 1) for i in range(1, 31)]
    ups.append(Node(fake(31, name=long).id, fake(31, name=long), 1))
    downs = [Node(fake(i).id, fake(i), 1) for i in range(40, 52)]
    downs += [Node(f"hidden-{i}", None, 2) for i in range(1, 4)]
    downs += [Node(fake(i).id, fake(i), 3) for i in range(60, 66)]
    edges = [Edge(n.key, start.id, "value", 1) for n in ups]
    edges += [Edge(start.id, n.key, "value", 1) for n in downs if n.depth == 1]
    edges += [Edge(downs[i].key, f"hidden-{i + 1}", "value", 2) for i in range(3)]
    edges += [Edge(f"hidden-{1 + i % 3}", fake(60 + i).id, "filter", 3) for i in range(6)]
    found = Graph(start, ups, downs, edges)
    plan = lineage_svg.layout(found)
    assert len(plan.boxes) == 1 + len(ups) + len(downs)
    for a, b in itertools.combinations(plan.boxes, 2):
        apart_x = a.x + lineage_svg.NODE_W <= b.x or b.x + lineage_svg.NODE_W <= a.x
        apart_y = a.y + lineage_svg.NODE_H <= b.y or b.y + lineage_svg.NODE_H <= a.y
        assert apart_x or apart_y, (a.key, b.key)
    assert all(b.x >= 0 and b.x + lineage_svg.NODE_W <= plan.width for b in plan.boxes)
    assert all(b.y >= 0 and b.y + lineage_svg.NODE_H <= plan.height for b in plan.boxes)
    assert len(plan.lines) == len(edges)
    columns = sorted({b.x for b in plan.boxes})
    assert len(columns) == 5  # upstream 1, the resource, downstream 1, 2, 3
    svg = str(lineage_svg.render(found))
    assert svg.count('class="lg-node lg-hidden"') == 3 and svg.count("lg-edge-filter") == 6
    assert f"<title>table wh.main.{long}</title>" in svg
    shown = re.findall(r'class="lg-name"[^>]*>([^<]*)</text>', svg)
    assert max(len(s) for s in shown) <= lineage_svg.NAME_CHARS and any(s.endswith("…") for s in shown)


# --- in Chromium ------------------------------------------------------------------------------


@pytest.mark.browser
def test_the_graph_is_visible_at_1366_px(
    page: Any, client: TestClient, world: World, chain: dict[str, dict[str, Any]]
) -> None:
    log_in(page, world.a.viewer)
    page.goto(f"/resources/{rid(chain, 'paid_orders')}")
    graph = page.locator("#lineage svg.lineage-graph")
    expect(graph).to_be_visible()
    box = graph.bounding_box()
    assert box is not None and box["width"] > 500 and box["height"] > 60
    expect(page.locator("#lineage a.lg-node")).to_have_count(3)
    page.locator("#lineage").scroll_into_view_if_needed()
    shot(page, "lineage-graph")
    page.locator(".lineage-depth a", has_text="2").click()
    expect(page.locator("#lineage .lineage-depth a.active")).to_have_text("2")
    expect(page.locator("#lineage a.lg-node")).to_have_count(4)  # top, two hops downstream
    page.locator(".lineage-columns > summary").click()
    expect(page.locator("#lineage-columns")).to_contain_text("orders.amount")
    shot(page, "lineage-graph-depth-2-columns")
    page.goto(f"/resources/{rid(chain, 'orders.status')}/impact")
    expect(page.locator("#hop-1")).to_contain_text("chain.main.paid_orders")
    shot(page, "lineage-impact")
    curate_totals_to_finance(client, world, chain)
    page.goto(f"/resources/{rid(chain, 'paid_orders')}?lineage_depth=2")
    expect(page.locator("#lineage .lg-hidden")).to_have_count(1)
    expect(page.locator("#lineage")).not_to_contain_text("totals")
    page.locator("#lineage").scroll_into_view_if_needed()
    shot(page, "lineage-graph-hidden-hop")


@pytest.mark.browser
def test_a_graph_of_forty_odd_nodes_is_drawn_in_one_tall_column(
    page: Any, client: TestClient, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "hub.db"
    views = "\n".join(f"CREATE VIEW reader_{i:02d}_with_a_rather_long_name AS SELECT id FROM hub;" for i in range(42))
    execute(path, f"CREATE TABLE hub (id INTEGER);\n{views}")
    integration = add_integration(client, world.a.admin, "hub", "sqlite", {"url": f"sqlite:///{path}"})
    assert sync(client, world.a.admin, integration["id"])["status"] == "succeeded"
    hub = by_name(client, world.a.admin, integration_id=integration["id"])["hub.main.hub"]
    log_in(page, world.a.viewer)
    page.goto(f"/resources/{hub['id']}")
    nodes = page.locator("#lineage a.lg-node")
    expect(nodes).to_have_count(42)
    boxes = [nodes.nth(i).bounding_box() for i in range(42)]
    tops = sorted(b["y"] for b in boxes if b)
    assert len(tops) == 42 and all(b - a >= lineage_svg.NODE_H for a, b in itertools.pairwise(tops))
    page.locator("#lineage").scroll_into_view_if_needed()
    shot(page, "lineage-graph-42-nodes")
