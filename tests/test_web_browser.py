"""`crawler web` in a real browser: Debian's Chromium driven by Selenium through chromedriver, against
the demo's inventory while the crawler crawls it. A reviewer reviews by keyboard, an analyst opens
the inventory, an account and the report and downloads a CSV, an admin adds a user, a viewer is
refused a page above her role; every page, in Swedish and in English, is checked by axe-core
(injected, WCAG 2.1 A and AA: zero violations) and photographed (CRAWLER_SCREENSHOTS=DIR keeps them).
"""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from crawler.demo.world import cycle_time
from crawler.store import Store
from crawler.web import auth, users
from crawler.web.app import Config, create_app

from .webworld import LiveDemo, Served

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
AXE = Path(__file__).parent / "fixtures" / "axe" / "axe.min.js"
PASSWORD = "ett långt lösenord"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                       reason="Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The demo world on loopback with an inventory of 100 accounts crawled 21 weeks, users of each role, and
    `crawler web` served on 127.0.0.1."""
    params = dict(auth.HASH_PARAMS)
    auth.HASH_PARAMS.update(time_cost=1, memory_cost=8, parallelism=1)
    out = tmp_path_factory.mktemp("browser")
    with LiveDemo(out, accounts=100, seed=2) as demo:
        demo.crawl(range(0, 21))
        found = demo.discover(cycle_time(20) + timedelta(days=1))
        assert found.proposed, "discovery should find the accounts the demo registry lacks"
        with Store.open(demo.db) as store:
            now = store.snapshots()[-1].taken_at
            pw = auth.Passwords()
            for name, role in (("anna", "reviewer"), ("vera", "viewer"), ("boss", "admin")):
                users.add(store, name, role, PASSWORD, by="test", now=now, passwords=pw)
        config = Config(db_path=str(demo.db), settings=demo.registry.settings, key=os.urandom(32),
                        sources_path=str(demo.sources), passwords=pw)
        with Served(create_app(config)) as served:
            yield demo, served
    auth.HASH_PARAMS.clear()
    auth.HASH_PARAMS.update(params)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1024",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver
    driver.quit()


SHOTS = Path(os.environ["CRAWLER_SCREENSHOTS"]) if os.environ.get("CRAWLER_SCREENSHOTS") else None


def check_page(driver, name: str) -> None:
    """axe-core on the page as shown: no WCAG 2.1 A/AA violation; and a screenshot."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    violations = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' ' + (n.failureSummary || ''))}))))"
        ".catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));", WCAG)
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return Math.min(document.body.scrollHeight + 40, 6000)")
        driver.set_window_size(1280, max(600, height))
        driver.save_screenshot(str(SHOTS / f"{name}.png"))
        driver.set_window_size(1280, 1024)
    assert violations == [], f"{name} ({driver.current_url}): {violations}"


def wait_for(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def sign_in(driver, url: str, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.delete_all_cookies()
    driver.get(url + "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    wait_for(lambda: "/login" not in driver.current_url, f"{name} to be signed in")


def set_language(driver, url: str, lang: str) -> None:
    driver.get(f"{url}/lang/{lang}?next=/")


def test_people_do_their_work_in_chromium_while_a_crawl_runs(live, browser, downloads):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    demo, served = live
    url = served.url
    driver = browser
    crawling = demo.crawl_in_background(range(21, 26))  # the crawler keeps writing meanwhile

    # ---- the reviewer: the queue, one notice, decided by keyboard, then the next one
    sign_in(driver, url, "anna")
    with Store.open(demo.db, readonly=True) as store:
        pending = sorted(store.notices("pending"), key=lambda n: (n.detected_at, n.id))
    assert len(pending) >= 2, "the demo world should leave notices to review"
    first, second = pending[0], pending[1]
    driver.get(url + "/review")
    driver.find_element(By.CSS_SELECTOR, f'a[href="/review/{first.id}"]').click()
    wait_for(lambda: driver.current_url.endswith(f"/review/{first.id}"), "the notice page")
    assert first.unit in driver.find_element(By.TAG_NAME, "h1").text
    ActionChains(driver).send_keys("j").perform()  # next and previous by keyboard
    wait_for(lambda: driver.current_url.endswith(f"/review/{second.id}"), "the next notice by keyboard")
    ActionChains(driver).send_keys("k").perform()
    wait_for(lambda: driver.current_url.endswith(f"/review/{first.id}"), "the previous notice by keyboard")
    ActionChains(driver).send_keys("c").perform()  # choose confirm; focus goes to the comment
    assert driver.find_element(By.ID, "decision-confirm").is_selected()
    assert driver.switch_to.active_element.get_attribute("id") == "comment"
    ActionChains(driver).send_keys("Läst på bloggen").perform()
    ActionChains(driver).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
    wait_for(lambda: f"/review/{second.id}?saved={first.id}" in driver.current_url, "save and next")
    with Store.open(demo.db, readonly=True) as store:
        decided = store.notice(first.id)
    assert (decided.state, decided.reviewer, decided.comment) == ("confirmed", "anna", "Läst på bloggen")
    ActionChains(driver).send_keys("r").perform()  # reject the second, without a comment: s saves and goes on
    ActionChains(driver).send_keys(Keys.TAB).perform()  # out of the comment field, where keys are text
    driver.find_element(By.TAG_NAME, "h1").click()
    ActionChains(driver).send_keys("s").perform()
    wait_for(lambda: f"/review?saved={second.id}" in driver.current_url, "the empty queue after the last one")
    with Store.open(demo.db, readonly=True) as store:
        assert (store.notice(second.id).state, store.notice(second.id).reviewer) == ("rejected", "anna")

    # ---- the reviewer again: discovery's new accounts; accepts one, then finds it in the registry
    with Store.open(demo.db, readonly=True) as store:
        chosen = next(c for c in store.candidates("proposed") if c.unit and c.area)
    driver.get(url + "/")
    driver.find_element(By.CSS_SELECTOR, 'header.site nav a[href="/candidates"]').click()
    wait_for(lambda: driver.current_url.endswith("/candidates"), "the new accounts")
    driver.find_element(By.CSS_SELECTOR, f'a[href="/candidates/{chosen.id}"]').click()
    wait_for(lambda: driver.current_url.endswith(f"/candidates/{chosen.id}"), "the candidate page")
    assert chosen.url in driver.find_element(By.TAG_NAME, "main").text  # its address and evidence
    driver.find_element(By.ID, "decision-accept").click()
    assert driver.find_element(By.ID, "unit").get_attribute("value") == chosen.unit  # the guess, editable
    driver.find_element(By.ID, "comment").send_keys("Profilen är förskolans egen")
    driver.find_element(By.ID, "save-decision").click()
    wait_for(lambda: "saved=accepted" in driver.current_url, "the accepted candidate")
    driver.find_element(By.CSS_SELECTOR, 'div.message a[href^="/accounts/"]').click()
    wait_for(lambda: "/accounts/" in driver.current_url, "the new account in the inventory")
    assert chosen.unit in driver.find_element(By.TAG_NAME, "h1").text
    with Store.open(demo.db, readonly=True) as store:
        accepted = store.candidate(chosen.id)
    assert (accepted.candidate.state, accepted.candidate.decided_by) == ("accepted", "anna")
    assert accepted.decisions[-1].comment == "Profilen är förskolans egen"
    from crawler import sources

    registered = {a.id: a for a in sources.load(demo.sources).accounts}  # a valid registry, one more entry
    assert registered[accepted.candidate.account_id].url == chosen.url

    # ---- the viewer (an analyst): inventory, one account, the report, a CSV; refused the users page
    sign_in(driver, url, "vera")
    driver.get(url + "/inventory")
    driver.find_element(By.CSS_SELECTOR, 'input[name="status"][value="active"]').click()
    driver.find_element(By.CSS_SELECTOR, "form[action='/inventory'] button[type=submit]").click()
    wait_for(lambda: "status=active" in driver.current_url, "the filtered inventory")
    link = driver.find_element(By.CSS_SELECTOR, "main table tbody a")
    unit = link.text
    link.click()
    wait_for(lambda: "/accounts/" in driver.current_url, "the account page")
    assert unit in driver.find_element(By.TAG_NAME, "h1").text
    assert driver.find_elements(By.CSS_SELECTOR, "svg.timeline")
    driver.get(url + "/report?baseline=2023-03-01&as_of=2023-04-15")
    assert driver.find_elements(By.CSS_SELECTOR, "section.part-figures, section[class^=part-]")
    driver.get(url + "/inventory")
    driver.find_element(By.CSS_SELECTOR, 'a[href^="/inventory.csv"]').click()
    csv_file = wait_for(lambda: next((p for p in downloads.glob("*.csv")), None), "the CSV download")
    wait_for(lambda: not list(downloads.glob("*.crdownload")), "the download to finish")
    text = csv_file.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert rows and {"id", "unit", "status"} <= set(rows[0])
    driver.get(url + "/users")
    assert "Inte tillåtet" in driver.find_element(By.TAG_NAME, "h1").text

    # ---- the admin: adds a reviewer through the form
    sign_in(driver, url, "boss")
    driver.get(url + "/users")
    driver.find_element(By.ID, "new-name").send_keys("nils")
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "new-role")).select_by_value("reviewer")
    driver.find_element(By.ID, "new-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "new-password2").send_keys(PASSWORD + Keys.ENTER)
    wait_for(lambda: "done=added" in driver.current_url, "the user to be added")
    with Store.open(demo.db, readonly=True) as store:
        assert store.user("nils").role == "reviewer"
        assert [c.by for c in store.user_changes("nils")] == ["boss"]

    crawling.join(300)
    assert not crawling.is_alive() and not crawling.errors, crawling.errors
    assert demo.cycles_done[-1] == 25  # the crawl ran to its end beside the people


PAGES = ["/", "/review", "/review/{notice}", "/reviewers", "/reviewers/anna", "/candidates", "/candidates/{candidate}",
         "/inventory", "/accounts/{account}", "/report", "/status", "/users", "/no-such-page"]


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_page_meets_wcag_21_aa_in_both_languages(live, browser, lang):
    from selenium.webdriver.common.by import By

    demo, served = live
    url, driver = served.url, browser
    with Store.open(demo.db, readonly=True) as store:
        notice = store.notices(None)[0].id
        account = store.account_detail(store.notices(None)[0].account_id).account.id
        # a look-alike: its warnings, the evidence table and the decision form with the "accept anyway" box
        candidate = next(c for c in store.candidates("excluded") if "lund" in c.url).id
    driver.delete_all_cookies()
    set_language(driver, url, lang)
    driver.get(url + "/login")
    check_page(driver, f"{lang}-login")
    sign_in(driver, url, "boss")
    set_language(driver, url, lang)
    for page in PAGES:
        driver.get(url + page.format(notice=notice, account=account, candidate=candidate))
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
        check_page(driver, f"{lang}-{page.strip('/').replace('/', '-').split('{')[0] or 'home'}")
    sign_in(driver, url, "vera")
    set_language(driver, url, lang)
    driver.get(url + "/users")
    check_page(driver, f"{lang}-refused")
