"""The console in a real browser (Chromium driven by Playwright) against `c2m serve` on real
PostgreSQL and Redis: a KOC signs in by approval from the mini-program, creates a community and
a poll, members vote through the API and the chart moves without a reload; the KOC turns the
advanced style into a drop, publishes it, members pre-order and pay, the progress moves, the KOC
closes and settles; the factory accepts, reports, ships and downloads its CSV; the operator
makes a factory key. Every main screen passes an automated accessibility check (axe-core) and
is photographed at phone and desktop width into docs/console/."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from infra.config import Settings
from tests.drops.test_uploads import png
from tests.server.test_cli import _free_port

ROOT = Path(__file__).resolve().parents[2]
# axe-core 4.14.1 (MPL-2.0), the accessibility checker, used by these tests only.
AXE = Path(__file__).with_name("axe.min.js")
# The committed screenshots are refreshed with C2M_UPDATE_SCREENSHOTS=1; otherwise they are
# taken all the same (the screens render at both widths) into the test's own directory.
SHOTS = ROOT / "docs" / "console"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SCRATCH: list[Path] = [Path("/tmp")]
ADDRESS = {"name": "Li Lei", "phone": "13800000000", "region": "上海市", "detail": "1 Road"}


@pytest.fixture
def live(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """`c2m serve` (API and worker) on the test's databases, on a free port."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("C2M_")}
    env.update(
        {
            "C2M_DATABASE_URL": settings.database_url or "",
            "C2M_REDIS_URL": settings.redis_url or "",
            "C2M_DATA_DIR": str(tmp_path / "data"),
            "C2M_SECRET_KEY": settings.secret_key or "",
            "C2M_PORT": str(port),
            "C2M_ENV": "dev",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read() if proc.stdout else "c2m serve exited")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        # CI installs Chromium and requires these tests; elsewhere they say what is missing.
        message = "the browser tests need Chromium (`apt-get install chromium`; .ci/run does)"
        if os.environ.get("C2M_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


class Api:
    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        ).json()
        assert "errors" not in body, body
        return body["data"]

    def login(self, code: str) -> dict[str, Any]:
        out = self(
            "mutation($c: String!) { loginWithWechat(code: $c) { session { accessToken "
            "user { id } } } }",
            {"c": code},
        )
        session: dict[str, Any] = out["loginWithWechat"]["session"]
        return session


async def _check_accessibility(page: Page, name: str) -> None:
    # The contexts bypass the console's CSP only so that the checker can be injected.
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "async () => (await axe.run(document, { resultTypes: ['violations'] })).violations"
        ".map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }))"
    )
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{name}: {serious}"


async def _shoot(page: Page, name: str) -> None:
    """The screen at phone and desktop width (committed under docs/console/)."""
    folder = SHOTS if os.environ.get("C2M_UPDATE_SCREENSHOTS") else SCRATCH[0]
    folder.mkdir(parents=True, exist_ok=True)
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(size)
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)


async def _sign_in_by_approval(page: Page, url: str, api: Api, approver_token: str) -> None:
    await page.goto(f"{url}/console/")
    challenge = await page.get_by_test_id("challenge").inner_text()
    out = api(
        "mutation($c: String!) { approveConsoleLogin(challenge: $c) { approved errors { code } } }",
        {"c": challenge},
        approver_token,
    )
    assert out["approveConsoleLogin"]["approved"] is True
    await expect(page.get_by_role("navigation", name="main")).to_be_visible(timeout=10_000)


@pytest.mark.slow
async def test_the_console_end_to_end(
    browser: Browser, live: str, settings: Settings, tmp_path: Path
) -> None:
    from server.cli import _create_operator

    SCRATCH[0] = tmp_path / "screens"
    api = Api(live)
    assert settings.database_url
    operator, _ = await _create_operator(settings, settings.database_url, "op-console", "Ops")
    koc = api.login("koc-console")
    api(
        "mutation($u: ID!) { grantKocRole(userId: $u) { errors { code } } }",
        {"u": koc["user"]["id"]},
        operator,
    )

    # The KOC signs in: the QR code's challenge approved from the mini-program (here, the API).
    context = await browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = await context.new_page()
    await page.goto(f"{live}/console/")
    await _check_accessibility(page, "sign-in")
    await _shoot(page, "signin")
    await _sign_in_by_approval(page, live, api, koc["accessToken"])

    # A community, from the console.
    await page.get_by_role("link", name="社群").click()
    await page.get_by_role("button", name="新建社群").click()
    await page.get_by_label("名称").fill("Petite 155")
    await page.get_by_label("简介").fill("小个子穿搭")
    await page.get_by_role("button", name="创建").click()
    invite = await page.locator(".invite code").first.inner_text()
    members = [api.login(f"fan-{i}") for i in range(3)]
    for m in members:
        api(
            "mutation($c: String!) { joinCommunity(inviteCode: $c) { errors { code } } }",
            {"c": invite},
            m["accessToken"],
        )
    await page.reload()
    await expect(page.locator(".card strong").first).to_have_text("3")
    await _check_accessibility(page, "communities")
    await _shoot(page, "communities")

    # A poll with two styles; an empty title is refused next to its field.
    await page.get_by_role("link", name="投票").click()
    await page.get_by_role("button", name="新建投票").click()
    await page.get_by_role("button", name="创建").click()
    await expect(page.locator(".field .error").first).to_be_visible()
    await page.get_by_label("标题").fill("夏季连衣裙")
    await page.get_by_label("社群").select_option(label="Petite 155")
    await page.get_by_label("选项 1", exact=True).fill("碎花")
    await page.get_by_label("选项 2", exact=True).fill("纯色")
    await page.get_by_label("选项图片 URL 1").fill("https://img.example/floral.jpg")
    await page.get_by_label("选项图片 URL 2").fill("https://img.example/plain.jpg")
    await page.get_by_role("button", name="创建").click()
    await page.get_by_role("button", name="发布").click()
    await expect(page.get_by_test_id("poll-status")).to_have_attribute("data-status", "OPEN")
    poll_id = page.url.split("#/polls/")[1]

    # Members vote through the API: the chart moves without a reload.
    poll = api(
        "query($p: ID!) { node(id: $p) { ... on Poll { options { id title } } } }",
        {"p": _unquote(poll_id)},
        koc["accessToken"],
    )["node"]
    floral = next(o["id"] for o in poll["options"] if o["title"] == "碎花")
    for m in members:
        api(
            "mutation($p: ID!, $o: [ID!]!) { castVote(pollId: $p, optionIds: $o) "
            "{ errors { code } } }",
            {"p": _unquote(poll_id), "o": [floral]},
            m["accessToken"],
        )
    await expect(page.get_by_test_id("votes-碎花")).to_have_text("3", timeout=10_000)
    await expect(page.get_by_test_id("total-voters")).to_have_text("3")
    await _check_accessibility(page, "poll")
    await _shoot(page, "poll")

    # A factory and its key, made by the operator in the console.
    op_context = await browser.new_context(viewport=DESKTOP, bypass_csp=True)
    op_page = await op_context.new_page()
    await _sign_in_by_approval(op_page, live, api, operator)
    await op_page.get_by_role("link", name="运营").click()
    await op_page.get_by_label("工厂名称").fill("东莞一厂")
    await op_page.get_by_label("联系方式").fill("0769-1234")
    await op_page.get_by_role("button", name="创建").click()
    factory_card = op_page.get_by_test_id("factory").first
    await expect(factory_card).to_be_visible()
    factory_id = await factory_card.get_by_test_id("factory-id").inner_text()
    await factory_card.get_by_label("Key 名称").fill("planner")
    await factory_card.get_by_role("button", name="新建 API Key").click()
    secret = await factory_card.get_by_test_id("new-secret").inner_text()
    assert secret
    await _check_accessibility(op_page, "operator")
    await _shoot(op_page, "operator")

    # The factory signs in with its key (kept for the tab).
    f_context = await browser.new_context(viewport=DESKTOP, bypass_csp=True)
    f_page = await f_context.new_page()
    await f_page.goto(f"{live}/console/")
    await f_page.get_by_role("tab", name="工厂 API Key").click()
    await f_page.get_by_label("API Key").fill(secret)
    await f_page.get_by_role("button", name="登录").click()

    # Closing advances the winner; its draft drop opens in the drop form.
    await page.get_by_role("button", name="结束投票").click()
    await expect(page.get_by_test_id("poll-status")).to_have_attribute("data-status", "CLOSED")
    draft = page.get_by_test_id("draft-link")
    for _ in range(20):
        if await draft.count():
            break
        await page.wait_for_timeout(500)
        await page.reload()
    await draft.first.click()
    await page.get_by_label("社群").select_option(label="Petite 155")
    await page.get_by_label("价格（元）").fill("abc")
    await page.get_by_role("button", name="保存").click()
    await expect(page.locator(".field .error").first).to_be_visible()
    await page.get_by_label("价格（元）").fill("199.00")
    await page.get_by_label("尺码（逗号分隔）").fill("S, M")
    await page.get_by_label("颜色（逗号分隔）").fill("黑, 白")
    await page.get_by_label("起订量").fill("2")
    await page.get_by_label("上限").fill("50")
    # On sale now (the draft starts tomorrow); the browser shows local time, like this process.
    await page.get_by_label("开售时间").fill(datetime.now().strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="保存").click()

    # Try-on photos: a page posing as a photo is refused by its bytes; a real one is shown.
    await expect(page.get_by_test_id("drop-status")).to_have_attribute("data-status", "DRAFT")
    await page.get_by_label("照片或视频文件").set_input_files(
        {"name": "front.png", "mimeType": "image/png", "buffer": b"<html><script>x</script></html>"}
    )
    await page.get_by_role("button", name="上传").click()
    await expect(page.locator(".field .error[data-code='MEDIA_TYPE_NOT_ALLOWED']")).to_be_visible()
    await page.get_by_label("照片或视频文件").set_input_files(
        {"name": "front.png", "mimeType": "image/png", "buffer": png(8, 8)}
    )
    await page.get_by_label("说明").fill("155 cm 穿 S")
    await page.get_by_role("button", name="上传").click()
    await expect(page.get_by_alt_text("155 cm 穿 S")).to_be_visible()
    # A sample from the factory: requested here, accepted and shipped there, received here.
    await page.get_by_label("打样工厂 ID").fill(factory_id)
    await page.get_by_label("打样要求").fill("M 码，亚麻")
    await page.get_by_role("button", name="申请打样").click()
    await expect(page.get_by_test_id("sample-status")).to_have_attribute("data-status", "REQUESTED")
    await f_page.reload()
    sample = f_page.get_by_test_id("sample").first
    await sample.get_by_role("button", name="接单").click()
    await expect(sample.get_by_test_id("factory-sample-status")).to_have_attribute(
        "data-status", "SAMPLING"
    )
    await sample.get_by_label("快递公司").fill("SF")
    await sample.get_by_label("运单号").fill("SF-SAMPLE-1")
    await sample.get_by_role("button", name="发货").click()
    await expect(sample.get_by_test_id("factory-sample-status")).to_have_attribute(
        "data-status", "SAMPLE_SHIPPED"
    )
    await page.reload()
    await page.get_by_role("button", name="确认收到样衣").click()
    await expect(page.get_by_test_id("sample-status")).to_have_attribute("data-status", "RECEIVED")

    await page.get_by_role("button", name="发布").click()
    await expect(page.get_by_test_id("drop-status")).to_have_attribute("data-status", "OPEN")
    drop_id = _unquote(page.url.split("#/drops/")[1])

    # Members pre-order and pay; the progress view moves by itself.
    drop = api(
        "query($d: ID!) { node(id: $d) { ... on Drop { variants { id } } } }",
        {"d": drop_id},
        koc["accessToken"],
    )["node"]
    placed_orders: list[tuple[str, str]] = []
    for i, m in enumerate(members):
        placed = api(
            "mutation($d: ID!, $l: [OrderLineInput!]!, $k: String!, $a: ShippingAddressInput!) "
            "{ placePreorder(dropId: $d, lines: $l, idempotencyKey: $k, shippingAddress: $a) "
            "{ order { id } errors { code } } }",
            {
                "d": drop_id,
                "l": [{"variantId": drop["variants"][i % 2]["id"], "quantity": 1}],
                "k": f"console-{i}",
                "a": ADDRESS,
            },
            m["accessToken"],
        )["placePreorder"]
        assert placed["errors"] == [], placed
        paid = api(
            "mutation($o: ID!) { payOrder(orderId: $o) { errors { code } } }",
            {"o": placed["order"]["id"]},
            m["accessToken"],
        )["payOrder"]
        assert paid["errors"] == [], paid
        placed_orders.append((placed["order"]["id"], m["accessToken"]))
    await expect(page.get_by_test_id("units")).to_have_text("3", timeout=10_000)
    await expect(page.get_by_test_id("buyers")).to_have_text("3")
    # The figures count paid buyers, and a payment lands when its (sandbox) notification does:
    # the page is read once those have, or it would show the figures of a moment before.
    deadline = time.monotonic() + 15
    while True:
        statuses = [
            api("query($o: ID!) { node(id: $o) { ... on Order { status } } }", {"o": o}, t)["node"][
                "status"
            ]
            for o, t in placed_orders
        ]
        if "PENDING_PAYMENT" not in statuses or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    # The figures: all three buyers had voted for this style.
    await page.reload()
    voted = page.get_by_role("table", name="买家的投票")
    await expect(voted.locator("tr").first).to_contain_text("3")
    await _check_accessibility(page, "drop")
    await _shoot(page, "drop")

    await page.get_by_label("指派工厂（ID，逗号分隔）").fill(factory_id)
    await page.get_by_role("button", name="保存").click()
    await page.get_by_role("button", name="截单").click()
    await expect(page.get_by_test_id("drop-status")).to_have_attribute("data-status", "CLOSED")
    await page.get_by_role("button", name="结算").click()
    await expect(page.get_by_test_id("drop-status")).to_have_attribute(
        "data-status", "SUCCEEDED", timeout=20_000
    )
    await expect(page.get_by_test_id("batch")).to_have_count(1, timeout=30_000)

    # The factory works the batch.
    await f_page.reload()
    batch = f_page.get_by_test_id("batch").first
    await expect(batch.get_by_test_id("batch-status")).to_have_attribute("data-status", "CREATED")
    await batch.get_by_role("button", name="接单").click()
    await expect(batch.get_by_test_id("batch-status")).to_have_attribute("data-status", "ACCEPTED")
    await batch.get_by_label("备注").fill("开裁")
    await batch.get_by_role("button", name="报告进度").click()
    await expect(batch.get_by_test_id("batch-status")).to_have_attribute(
        "data-status", "IN_PRODUCTION"
    )
    await _check_accessibility(f_page, "batches")
    await _shoot(f_page, "batches")
    await batch.get_by_label("快递公司").fill("SF")
    await batch.get_by_label("运单号").fill("SF123456")
    for field in await batch.locator("input[name^='q-']").all():
        await field.fill(await field.get_attribute("max") or "0")
    await batch.get_by_role("button", name="发货").click()
    await expect(batch.get_by_test_id("batch-status")).to_have_attribute("data-status", "SHIPPED")
    sheet = await f_page.request.get(
        await batch.get_by_test_id("lines-link").get_attribute("href") or ""
    )
    assert sheet.status == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert "sku_id" in (await sheet.body()).decode("utf-8-sig")

    for ctx in (context, op_context, f_context):
        await ctx.close()


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)
