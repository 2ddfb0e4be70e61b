"""The station's two screens in a real headless Chromium (Debian's ``chromium``, driven by
Playwright): the officer keys seed-xue's transfer in, the victim's screen shows it as it is typed,
the victim confirms it, the officer submits, and the victim's screen shows the case as the banks
answer: ¥350,000 held at ICBC, ¥210,000 at ABC, ¥20,000 gone at an ATM. The screenshots are written
to STOPAY_SCREENSHOTS when set (docs/images is where the README's comes from), else to a temporary
directory. Without a Chromium the tests are skipped, unless STOPAY_REQUIRE_BROWSER=1 (as in CI)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, timedelta, timezone
from pathlib import Path

import grpc
import pytest
from aiohttp import web

from stopay.api.validation import shown_digest_of_request
from stopay.station import app as pages
from stopay.station.desk import Desk
from tests.conftest import EXAMPLES
from tests.entries import scenario_requests

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = os.environ.get("STOPAY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    if os.environ.get("STOPAY_REQUIRE_BROWSER") == "1":
        raise RuntimeError("STOPAY_REQUIRE_BROWSER=1 but no chromium is installed (apt-get install chromium)")
    pytest.skip("no chromium on this machine (apt-get install chromium)", allow_module_level=True)

expect = playwright_api.expect
CST = timezone(timedelta(hours=8))
OFFICER, TABLET = {"width": 1280, "height": 800}, {"width": 800, "height": 1280}


def screenshots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("STOPAY_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as p:
        # --no-sandbox: Chromium's sandbox refuses to start as root, as tests in containers run.
        b = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


async def start_station(port: int) -> tuple[Desk, web.AppRunner, str]:
    desk = Desk(grpc.aio.insecure_channel(f"127.0.0.1:{port}"), "CQ-YUZHONG-01", "50010231", CST)
    await desk.load_banks()
    runner = web.AppRunner(pages.build(desk))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return desk, runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def key_in(officer, request, transfer_index: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Types the request's entry and its first transfer into the officer's form, as an officer would."""
    await officer.fill('[name="report_no"]', request.report_no)
    await officer.fill('[name="victim.name"]', request.victim.name)
    await officer.select_option('[name="fraud_type"]', "FRAUD_TYPE_IMPERSONATION")
    t = request.transfers[transfer_index]
    field = f"transfers[{transfer_index}]"
    await officer.fill(f'[name="{field}.payer.bank_code"]', t.payer.bank_code)
    await officer.fill(f'[name="{field}.payer.number"]', t.payer.number)
    await officer.fill(f'[name="{field}.payer.holder_name"]', t.payer.holder_name)
    await officer.select_option(f'[name="{field}.payee.bank_code"]', t.payee.bank_code)
    await officer.fill(f'[name="{field}.payee.number"]', t.payee.number)
    await officer.fill(f'[name="{field}.payee.holder_name"]', t.payee.holder_name)
    await officer.fill(f'[name="{field}.amount_minor"]', f"{t.amount_minor // 100:,}")
    at = t.transferred_at.ToDatetime().replace(tzinfo=UTC).astimezone(CST)
    await officer.fill(f'[name="{field}.transferred_at"]', at.strftime("%Y-%m-%dT%H:%M:%S"))
    await officer.fill(f'[name="{field}.txn_id"]', t.txn_id)


async def test_the_officer_keys_in_the_victim_confirms_and_watches_the_money_stop(
    make_app, browser, pool, tmp_path: Path
) -> None:
    app = await make_app(EXAMPLES / "seed-xue.json")
    (request,) = scenario_requests(app, EXAMPLES / "seed-xue.json")
    desk, runner, base = await start_station(app.port)
    shots = screenshots(tmp_path)
    try:
        officer = await (await browser.new_context(viewport=OFFICER, locale="zh-CN")).new_page()
        victim = await (await browser.new_context(viewport=OFFICER, locale="zh-CN")).new_page()
        tablet = await (await browser.new_context(viewport=TABLET, locale="zh-CN")).new_page()
        await officer.goto(f"{base}/officer")
        await victim.goto(f"{base}/victim")
        await tablet.goto(f"{base}/victim?lang=en")
        # The banks offered are those stopay serves: seed-xue's four.
        assert desk.banks == ["ABC", "CCB", "CQRCB", "ICBC"]
        await key_in(officer, request)
        # Within a second of the officer typing it, the victim sees the amount, in yuan.
        card = victim.locator('article.transfer[data-index="0"]')
        await expect(card.locator('[data-field="amount_minor"]')).to_have_text("¥580,000.00", timeout=1000)
        await expect(card.locator('[data-field="payee.number"]')).to_have_text(
            request.transfers[0].payee.number, timeout=1000
        )
        await expect(card.locator('[data-field="payee.bank_code"]')).to_have_text("中国工商银行")
        await expect(tablet.locator('[data-field="payee.bank_code"]')).to_have_text(
            "Industrial and Commercial Bank of China", timeout=1000
        )
        # Not before the victim confirmed every transfer.
        await expect(officer.locator("#submit")).to_be_disabled()
        await victim.screenshot(path=str(shots / "victim-checking-1280x800.png"))
        await card.locator("button.confirm").click()
        await expect(officer.locator("#submit")).to_be_enabled(timeout=2000)
        await expect(officer.locator("fieldset.transfer .check")).to_have_text("受害人已确认")
        await officer.screenshot(path=str(shots / "officer-1280x800.png"), full_page=True)
        await officer.click("#submit")
        # The case on the victim's screen, as the banks answer.
        case = victim.locator("#case")
        await expect(case.locator('.banks [data-bank="ICBC"] .held')).to_have_text("¥350,000.00", timeout=30_000)
        await expect(case.locator('.banks [data-bank="ABC"] .held')).to_have_text("¥210,000.00", timeout=30_000)
        await expect(case.locator('.exits [data-exit="atm"]')).to_contain_text("¥20,000.00", timeout=30_000)
        await expect(case.locator('[data-total="held"]')).to_have_text("¥560,000.00")
        await expect(case.locator('.levels [data-level="1"] .held')).to_have_text("¥350,000.00")
        await expect(case.locator('.levels [data-level="2"] .held')).to_have_text("¥210,000.00")
        await expect(case.locator(".progress")).to_have_text("各银行均已答复", timeout=30_000)
        # Mule accounts are masked on the victim's screen once the entry is submitted.
        shown = await victim.locator("body").inner_text()
        assert request.transfers[0].payee.number not in shown
        payee = request.transfers[0].payee.number
        assert re.search(rf"{payee[:4]}\*+{payee[-4:]}", shown), shown  # masked: first and last four
        await expect(tablet.locator('.banks [data-bank="ABC"] .held')).to_have_text("¥210,000.00", timeout=5000)
        await victim.screenshot(path=str(shots / "victim-1280x800.png"), full_page=True)
        await tablet.screenshot(path=str(shots / "victim-tablet-800x1280.png"), full_page=True)
        await officer.screenshot(path=str(shots / "officer-submitted-1280x800.png"), full_page=True)
        for name in ("officer-1280x800.png", "victim-1280x800.png", "victim-tablet-800x1280.png"):
            assert (shots / name).stat().st_size > 10_000, name
        # The case's first event, in its hash chain, says the victim confirmed on the second
        # screen what the officer submitted, by the digest of the text the victim was shown.
        detail = await pool.fetchval(
            "SELECT detail FROM case_events WHERE case_id = $1::uuid AND kind = 'case.accepted'", desk.draft.case_id
        )
        confirmation = detail["confirmation"]
        assert confirmation["method"] == "dual_screen"
        stored = await pool.fetchrow(
            "SELECT report_no, victim_name FROM cases WHERE case_id = $1::uuid", desk.draft.case_id
        )
        assert stored["report_no"] == request.report_no
        assert confirmation["shown_sha256"] == shown_digest_of_request(request).hex()
    finally:
        await desk.close()
        await runner.cleanup()


async def test_a_reload_keeps_the_draft_and_the_server_s_errors_show_beside_their_fields(
    make_app, browser, tmp_path: Path
) -> None:
    app = await make_app(EXAMPLES / "seed-xue.json")
    (request,) = scenario_requests(app, EXAMPLES / "seed-xue.json")
    desk, runner, base = await start_station(app.port)
    try:
        officer = await (await browser.new_context(viewport=OFFICER)).new_page()
        victim = await (await browser.new_context(viewport=OFFICER)).new_page()
        await officer.goto(f"{base}/officer")
        await victim.goto(f"{base}/victim")
        await key_in(officer, request)
        # A transfer "made" next year: stopay refuses it, and says so beside the field.
        await officer.fill('[name="transfers[0].transferred_at"]', "2099-01-01T10:00:05")
        await expect(victim.locator('[data-field="transferred_at"]')).to_have_text("2099-01-01 10:00:05", timeout=1000)
        await officer.reload()
        # The draft survived the reload, whole.
        await expect(officer.locator('[name="report_no"]')).to_have_value(request.report_no)
        await expect(officer.locator('[name="transfers[0].payee.number"]')).to_have_value(
            request.transfers[0].payee.number
        )
        await expect(officer.locator('[name="transfers[0].transferred_at"]')).to_have_value("2099-01-01T10:00:05")
        await victim.locator("button.confirm").click()
        await expect(officer.locator("#submit")).to_be_enabled(timeout=2000)
        await officer.click("#submit")
        error = officer.locator('.field-error[data-field="transfers[0].transferred_at"]')
        await expect(error).to_contain_text("future", timeout=5000)
        await expect(officer.locator('[name="transfers[0].transferred_at"]')).to_have_attribute("aria-invalid", "true")
        assert desk.draft.case_id == ""  # nothing was submitted
        # Changing a confirmed transfer sends it back to the victim.
        await officer.fill('[name="transfers[0].amount_minor"]', "1,000")
        await expect(victim.locator('article.transfer[data-index="0"]')).to_have_class("transfer waiting", timeout=1000)
        await expect(officer.locator("#submit")).to_be_disabled()
    finally:
        await desk.close()
        await runner.cleanup()


async def test_another_site_cannot_drive_the_station(make_app) -> None:
    # A page of another site open in the station's browser could post a form to the loopback
    # address: the station takes only JSON from its own origin.
    import aiohttp

    app = await make_app(EXAMPLES / "seed-xue.json")
    desk, runner, base = await start_station(app.port)
    try:
        async with aiohttp.ClientSession() as http:
            form = await http.post(f"{base}/api/submit", data='{"x": 1}', headers={"Content-Type": "text/plain"})
            assert form.status == 403
            cross = await http.post(f"{base}/api/new", json={}, headers={"Origin": "http://evil.example"})
            assert cross.status == 403
            own = await http.post(
                f"{base}/api/check", json={"index": 0, "rev": 1, "check": "confirmed"}, headers={"Origin": base}
            )
            assert own.status == 200 and desk.draft.transfers[0].check.value == "confirmed"
    finally:
        await desk.close()
        await runner.cleanup()


async def test_the_victim_sees_every_confirmed_value_as_sent_and_runs_nothing_typed(browser) -> None:
    # No stopay needed: the draft alone, between the two screens.
    desk = Desk(grpc.aio.insecure_channel("127.0.0.1:9"), "CQ-YUZHONG-01", "1", CST)
    runner = web.AppRunner(pages.build(desk))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        victim = await (await browser.new_context(viewport=OFFICER)).new_page()
        ran: list[str] = []
        victim.on("dialog", lambda d: ran.append(d.message))
        await victim.goto(f"http://127.0.0.1:{runner.addresses[0][1]}/victim")
        xss = '<img src=x onerror="alert(1)">'
        desk.edit(
            {
                "report_no": xss,
                "victim.name": "</script><script>alert(2)</script>",
                "transfers": [{"payee.holder_name": "王  某某", "txn_id": "XUE-T1", "payee.number": xss}],
            }
        )
        card = victim.locator('article.transfer[data-index="0"]')
        await expect(card.locator('[data-field="txn_id"]')).to_have_text("XUE-T1", timeout=2000)  # in the digest
        assert await card.locator('[data-field="payee.holder_name"]').inner_text() == "王  某某"
        await expect(card.locator('[data-field="payee.number"]')).to_have_text(xss)
        assert await victim.locator("img").count() == 0 and ran == []
    finally:
        await desk.close()
        await runner.cleanup()


async def test_the_victim_sees_freezes_awaiting_review_then_held_once_approved(make_app, browser, holds_to) -> None:
    # A deployment that reviews past one account: seed-xue's second level (ABC) waits for review.
    from stopay.domain.holds import HoldPolicy
    from stopay.domain.review import Thresholds
    from stopay.v1 import holds_pb2

    app = await make_app(EXAMPLES / "seed-xue.json", holds=HoldPolicy(review=Thresholds(max_accounts=1)))
    (request,) = scenario_requests(app, EXAMPLES / "seed-xue.json")
    desk, runner, base = await start_station(app.port)
    try:
        officer = await (await browser.new_context(viewport=OFFICER, locale="zh-CN")).new_page()
        victim = await (await browser.new_context(viewport=OFFICER, locale="zh-CN")).new_page()
        await officer.goto(f"{base}/officer")
        await victim.goto(f"{base}/victim")
        await key_in(officer, request)
        card = victim.locator('article.transfer[data-index="0"]')
        await expect(card.locator('[data-field="txn_id"]')).to_have_text(request.transfers[0].txn_id, timeout=2000)
        await card.locator("button.confirm").click()
        await expect(officer.locator("#submit")).to_be_enabled(timeout=2000)
        await officer.click("#submit")
        case = victim.locator("#case")
        await expect(case.locator('.banks [data-bank="ICBC"] .held')).to_have_text("¥350,000.00", timeout=30_000)
        banner = case.locator('[data-review="awaiting"]')
        await expect(banner).to_contain_text("等待上级审批", timeout=30_000)
        await expect(banner).to_contain_text("¥")
        waiting = case.locator('.orders tr[data-bank="ABC"][data-status="awaiting_review"] .status')
        await expect(waiting.first).to_have_text("待审批")
        case_id = desk.draft.case_id
        assert case_id
        await holds_to(app).DecideReview(
            holds_pb2.DecideReviewRequest(
                case_id=case_id,
                decision=holds_pb2.REVIEW_DECISION_APPROVE,
                by=holds_pb2.StepBy(officer_id="sup-7", reason="approved by phone", request_id="rv-1"),
            )
        )
        await expect(case.locator('.banks [data-bank="ABC"] .held')).to_have_text("¥210,000.00", timeout=30_000)
        await expect(banner).to_have_count(0)
        await expect(case.locator(".progress")).to_have_text("各银行均已答复", timeout=30_000)
    finally:
        await desk.close()
        await runner.cleanup()
