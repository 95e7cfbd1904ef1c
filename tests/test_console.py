"""The account console at /account/console/, in headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium) against a real gunicorn serving the demo data.

Screenshots are taken on the way; with CONSOLE_SCREENSHOTS=<dir> they are kept there
(the README's pictures come from `CONSOLE_SCREENSHOTS=docs`)."""

import io
import json
import os
import re
import shutil
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from app.console import CONTENT_SECURITY_POLICY
from app.demo import PASSWORD
from schemas.common import CALCULATION_STATUSES, PROCESS_TYPES, SERVICES
from tests import chromium, servers
from tests.conftest import process_record

WAIT = 30
DEMO_TIMEZONE = 3


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    """gunicorn on the backend of `database_url`, with the demo data loaded by the CLI."""
    workdir = tmp_path_factory.mktemp("console")
    with servers.gunicorn(database_url, workdir, BCRYPT_ROUNDS="4", LOGIN_MAX_FAILURES="3") as running:
        servers.cli(running, "load-demo")
        yield running


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    """Chromium with a fresh profile and download folder for each server (each backend)."""
    downloads = tmp_path_factory.mktemp("downloads")
    driver = chromium.driver(tmp_path_factory.mktemp("chromium-profile"), downloads, "--window-size=1280,1000")
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shots(tmp_path):
    """shots(driver, name): a PNG of the window, kept in CONSOLE_SCREENSHOTS when set."""
    keep = os.environ.get("CONSOLE_SCREENSHOTS")

    def take(driver, name):
        path = tmp_path / f"console-{name}.png"
        driver.execute_script("window.scrollTo(0, 0)")
        assert driver.save_screenshot(str(path))
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)

    return take


# ---------------------------------------------------------------- helpers


def api(server, token, path, method="GET", body=None):
    """(status, parsed JSON or bytes) of a plain call to the server."""
    request = urllib.request.Request(f"{server.host}{path}", method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            content = response.read()
            kind = response.headers.get("Content-Type", "")
            return response.status, json.loads(content) if kind.startswith("application/json") else content
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def token_for(server, username):
    status, token = api(server, None, "/account/token/generation", "POST", {"username": username, "password": PASSWORD})
    assert status == 200
    return token


def wait(driver, condition, message=""):
    try:
        return WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda _: condition()
        )
    except TimeoutException:
        pytest.fail(f"timed out waiting: {message}\nlog: {driver.get_log('browser')}", pytrace=False)


def visible(driver, element_id):
    return driver.find_element(By.ID, element_id).is_displayed()


def text(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def open_console(driver, server, hash_=""):
    driver.get(f"{server.host}/account/console/{hash_}")
    wait(driver, lambda: driver.execute_script("return document.readyState") == "complete", "page load")


def sign_in(driver, username, password):
    wait(driver, lambda: visible(driver, "view-signin"), "the sign-in form")
    for field, value in (("signin-username", username), ("signin-password", password)):
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    driver.find_element(By.ID, "signin-password").send_keys(Keys.ENTER)  # the keyboard submits


def bars(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#usage-chart svg g.bar")


def downloaded(driver, suffix, before):
    """The file a download just wrote (not the one before it, not a partial one)."""

    def done():
        found = [path for path in driver.downloads.iterdir() if path.name.endswith(suffix) and path not in before]
        return found[0] if found else None

    return wait(driver, done, f"a download ending {suffix}")


def local_today():
    return (datetime.now(UTC) + timedelta(hours=DEMO_TIMEZONE)).date()


def audit_rows(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#audit-table tbody tr.action")


def column(driver, index):
    """The texts of one audit column, read in one script (the table may be redrawn meanwhile)."""
    rows = "document.querySelectorAll('#audit-table tbody tr.action')"
    script = f"return [...{rows}].map(row => row.cells[arguments[0]].innerText)"
    return driver.execute_script(script, index)


# ---------------------------------------------------------------- the files and their headers


def test_console_files_are_served_with_a_strict_policy(server):
    files = (
        ("/", "text/html"),
        ("/app.js", "text/javascript"),
        ("/enums.js", "text/javascript"),
        ("/console.css", "text/css"),
    )
    for path, kind in files:
        with urllib.request.urlopen(f"{server.host}/account/console{path}", timeout=30) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith(kind)
            assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            body = response.read().decode()
        if path == "/":
            # No inline script or style, nothing from another origin.
            assert not re.search(r"<script(?![^>]*\bsrc=)", body)
            assert (
                "<style" not in body and " style=" not in body and "http" not in body.replace("http://www.w3.org", "")
            )
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    with urllib.request.urlopen(f"{server.host}/account/console", timeout=30) as response:
        assert response.url.endswith("/account/console/")  # followed the redirect to the slash
    status, body = api(server, None, "/account/console/nothing.js")
    assert status == 404 and body["resource_key"] == "/account/console/nothing.js"
    # The application never writes user data as HTML.
    scripts = "".join(
        (Path(__file__).parent.parent / "app/console/static" / name).read_text()
        for name in ("app.js", "api.js", "chart.js", "i18n.js")
    )
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", scripts)


def test_the_console_takes_the_enums_from_the_schemas(server):
    """enums.js is made from schemas/common.py, and no script repeats a value of its own."""
    with urllib.request.urlopen(f"{server.host}/account/console/enums.js", timeout=30) as response:
        module = response.read().decode()
    exported = {name: json.loads(values) for name, values in re.findall(r"^export const (\w+) = (.+);$", module, re.M)}
    assert exported == {
        "SERVICES": list(SERVICES),
        "PROCESS_TYPES": list(PROCESS_TYPES),
        "STATUSES": list(CALCULATION_STATUSES),
    }
    static = Path(__file__).parent.parent / "app/console/static"
    scripts = "".join(path.read_text() for path in static.glob("*.js"))
    for value in (*SERVICES, *PROCESS_TYPES, *CALCULATION_STATUSES):
        assert f'"{value}"' not in scripts, value


# ---------------------------------------------------------------- sign-in failures


def test_wrong_password_then_a_locked_account(server, browser, shots):
    open_console(browser, server)
    browser.execute_script("localStorage.clear(); sessionStorage.clear();")
    open_console(browser, server)
    sign_in(browser, "demo_planner", "not the password")
    wait(browser, lambda: text(browser, "signin-message") == "Wrong username or password.", "wrong password")
    for _ in range(2):  # LOGIN_MAX_FAILURES is 3 on this server
        sign_in(browser, "demo_planner", "not the password either")
        wait(browser, lambda: browser.find_element(By.ID, "signin-submit").is_enabled(), "the answer")
    sign_in(browser, "demo_planner", PASSWORD)  # even the right password waits for the window
    message = wait(
        browser,
        lambda: "locked until" in text(browser, "signin-message") and text(browser, "signin-message"),
        "the locked message",
    )
    until = re.search(r"locked until (\d\d):(\d\d) \(in (\d+) min\)", message)
    assert until, message
    assert 1 <= int(until.group(3)) <= 15  # the 900-second window
    assert browser.execute_script("return sessionStorage.length") == 0
    shots(browser, "locked")


# ---------------------------------------------------------------- the demo user's visit


def test_demo_user_console(server, browser, shots):
    token = token_for(server, "demo_user")
    open_console(browser, server)
    browser.execute_script("localStorage.clear(); sessionStorage.clear();")
    open_console(browser, server)
    sign_in(browser, "demo_user", PASSWORD)

    # Usage: this month by default, one bar per day up to today.
    today = local_today()
    wait(browser, lambda: len(bars(browser)) == today.day, "this month's bars")
    assert browser.execute_script("return Object.keys(sessionStorage)") == ["account-console.token"]
    assert "token" not in browser.current_url and not browser.get_cookies()

    Select(browser.find_element(By.ID, "usage-period")).select_by_value("last_90")
    wait(browser, lambda: len(bars(browser)) == 90, "90 bars")
    first = (today - timedelta(days=89)).isoformat()
    days = [bar.get_attribute("data-day") for bar in bars(browser)]
    assert days == [(today - timedelta(days=89 - n)).isoformat() for n in range(90)]
    status, stats = api(server, token, f"/account/statistics?from={first}&to={today.isoformat()}")
    assert status == 200
    expected = {}
    for day in stats["dates"]:
        expected[day["date"]] = sum(p["points_per_day"] for s in day["services"] for p in s["processes"])
    shown = {bar.get_attribute("data-day"): int(bar.get_attribute("data-total")) for bar in bars(browser)}
    # Today holds only the sign-ins (ACCOUNT actions without points).
    assert {day: total for day, total in shown.items() if total} == {d: p for d, p in expected.items() if p}
    assert shown[today.isoformat()] == 0  # a day without usage keeps its place on the axis
    total_row = browser.find_element(By.CSS_SELECTOR, "#usage-totals tbody tr.total").find_elements(By.TAG_NAME, "td")
    assert total_row[3].text == f"{sum(expected.values()):,}"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#usage-days tbody tr")) == 90
    assert "local days of UTC+3" in text(browser, "usage-caption")
    shots(browser, "usage")

    # The report of the same period.
    before = set(browser.downloads.iterdir())
    browser.find_element(By.ID, "usage-report").click()
    report = downloaded(browser, ".xlsx", before)
    assert report.name == f"report_demo_user_{first}_{today.isoformat()}.xlsx"
    workbook = load_workbook(io.BytesIO(report.read_bytes()))
    assert workbook["Days"].max_row == 91

    # A custom period.
    Select(browser.find_element(By.ID, "usage-period")).select_by_value("custom")
    start, end = today - timedelta(days=9), today - timedelta(days=3)
    for field, value in (("usage-from", start), ("usage-to", end)):
        element = browser.find_element(By.ID, field)
        browser.execute_script("arguments[0].value = arguments[1]", element, value.isoformat())
    browser.find_element(By.CSS_SELECTOR, "#usage-custom button[type=submit]").click()
    wait(browser, lambda: len(bars(browser)) == 7, "7 bars of the custom period")

    # Audit: filters, sorting by a column, paging, a row's requests, a file.
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-view=audit]").click()
    wait(browser, lambda: visible(browser, "view-audit") and audit_rows(browser), "audit rows")
    since = (today - timedelta(days=60)).isoformat()
    browser.execute_script(
        "arguments[0].value = arguments[1]", browser.find_element(By.ID, "audit-from"), f"{since}T00:00"
    )
    for select, values in (
        ("audit-service", SERVICES),
        ("audit-process-type", PROCESS_TYPES),
        ("audit-status", CALCULATION_STATUSES),
    ):
        options = browser.execute_script(f"return [...document.querySelectorAll('#{select} option')].map(o => o.value)")
        assert options == ["", *values], select  # "any", then the schemas' values (enums.js)
    Select(browser.find_element(By.ID, "audit-service")).select_by_value("ROUTING")
    browser.find_element(By.ID, "audit-apply").click()
    query = f"from={since}T00:00:00%2B03:00&service=ROUTING&limit=20&sort_field=time&sort_direction=DESC"
    status, audit = api(server, token, f"/account/audit?{query}")
    filtered, overall = audit["counters"]["filter"]["total"], audit["counters"]["overall"]["total"]
    assert filtered > 20
    counters = f"Rows 1–20 of {filtered:,} matching; {overall:,} in the period"
    wait(browser, lambda: text(browser, "audit-counters") == counters, counters)
    assert set(column(browser, 2)) == {"ROUTING"}
    assert column(browser, 5) == [action["process_code"] for action in audit["actions"]]

    code_header = browser.find_element(By.CSS_SELECTOR, "#audit-table th[data-sort=process_code]")
    code_header.find_element(By.TAG_NAME, "button").click()
    wait(browser, lambda: code_header.get_attribute("aria-sort") == "ascending", "ascending by code")
    wait(browser, lambda: column(browser, 5) == sorted(column(browser, 5)), "codes in ascending order")
    code_header.find_element(By.TAG_NAME, "button").send_keys(Keys.ENTER)  # the keyboard sorts too
    wait(browser, lambda: code_header.get_attribute("aria-sort") == "descending", "descending by code")
    wait(browser, lambda: column(browser, 5) == sorted(column(browser, 5), reverse=True), "descending order")
    first_codes = column(browser, 5)
    browser.find_element(By.ID, "audit-next").click()
    wait(browser, lambda: text(browser, "audit-counters").startswith("Rows 21–"), "the second page")
    assert not set(column(browser, 5)) & set(first_codes)
    browser.find_element(By.ID, "audit-prev").click()
    wait(browser, lambda: column(browser, 5) == first_codes, "back to the first page")

    toggle = audit_rows(browser)[0].find_element(By.CSS_SELECTOR, "button.toggle")
    toggle.click()
    details = wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#audit-table tr.details"), "requests")
    by_code_query = (
        f"from={since}T00:00:00%2B03:00&service=ROUTING&limit=1000&sort_field=process_code&sort_direction=DESC"
    )
    status, listed = api(server, token, f"/account/audit?{by_code_query}")
    by_code = {action["process_code"]: action for action in listed["actions"]}
    requests = details[0].find_elements(By.CSS_SELECTOR, "table.inner > tbody > tr")
    operations = [row.find_elements(By.TAG_NAME, "td")[1].text for row in requests]
    assert operations == [request["operation"] for request in by_code[first_codes[0]]["requests"]]
    assert toggle.get_attribute("aria-expanded") == "true"
    shots(browser, "audit")

    # The demo keeps files for one process in ten: page on to the first that has one.
    with_file = next(n for n, action in enumerate(listed["actions"]) if action["input_file_exists"])
    for page in range(with_file // 20):
        browser.find_element(By.ID, "audit-next").click()
        wait(browser, lambda page=page: text(browser, "audit-counters").startswith(f"Rows {(page + 1) * 20 + 1}–"))
    file_button = wait(
        browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#audit-table button[data-flow=INPUT]"), "a file"
    )[0]
    code = file_button.find_element(By.XPATH, "./ancestor::tr").find_elements(By.TAG_NAME, "td")[5].text
    assert code == listed["actions"][with_file]["process_code"]
    before = set(browser.downloads.iterdir())
    file_button.click()
    data = downloaded(browser, "_input_raw.bin", before)
    assert data.name == f"{code}_input_raw.bin"
    status, stored = api(server, token, f"/account/data/{code}?data_flow_type=INPUT")
    assert status == 200 and data.read_bytes() == stored

    # Profile: the API's own message by the field, then a saved edit.
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-view=profile]").click()
    wait(browser, lambda: visible(browser, "view-profile"), "the profile")
    email = browser.find_element(By.ID, "profile-email")
    email.clear()
    email.send_keys("not-an-email")
    browser.find_element(By.ID, "profile-save").click()
    wait(browser, lambda: text(browser, "profile-email-error"), "the e-mail's message")
    status, refused = api(server, token, "/account/info", "PUT", {"email": "not-an-email"})
    assert status == 400 and refused["message"] == f"Invalid request: email: {text(browser, 'profile-email-error')}"
    assert text(browser, "profile-phone-error") == ""
    shots(browser, "profile")
    email.clear()
    email.send_keys("manager@example.com")
    phone = browser.find_element(By.ID, "profile-phone")
    phone.clear()
    phone.send_keys("+7 999 000-11-22")
    browser.find_element(By.ID, "profile-add-attribute").click()
    keys = browser.find_elements(By.CSS_SELECTOR, "#profile-attributes .attribute-key")
    values = browser.find_elements(By.CSS_SELECTOR, "#profile-attributes .attribute-value")
    keys[-1].send_keys("<b>team</b>")
    values[-1].send_keys("planning & dispatch")
    browser.find_element(By.ID, "profile-save").click()
    wait(browser, lambda: text(browser, "profile-message") == "The profile is saved.", "saved")
    status, info = api(server, token, "/account/info")
    assert (info["email"], info["phone"]) == ("manager@example.com", "+7 999 000-11-22")
    assert {"key": "<b>team</b>", "value": "planning & dispatch"} in info["attributes"]
    assert browser.find_elements(By.CSS_SELECTOR, "#profile-attributes b") == []  # text, not markup

    # Quotas and today's use beside them; the demo bot records a finished process and
    # reserves for another first, so that no figure of the TRACE quota is zero.
    bot = token_for(server, "demo_bot")
    finished = process_record(
        "demo_user", "demo_company", "UNIVERSAL", "TRACE", datetime.now(UTC).isoformat(), points=200
    )
    status, stored = api(server, bot, "/account/processes", "POST", {"processes": [finished]})
    assert status == 200, stored
    reservation = {
        "username": "demo_user",
        "service": "UNIVERSAL",
        "process_type": "TRACE",
        "process_code": str(uuid.uuid4()),
        "points": 300,
    }
    status, granted = api(server, bot, "/account/quota/reservations", "POST", reservation)
    assert status == 200, granted
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-view=quotas]").click()
    wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#quotas-table tbody tr"), "quotas")
    status, quota = api(server, token, "/account/quota")
    assert status == 200
    status, usage = api(server, token, "/account/quota/usage")
    assert status == 200 and usage["day"] == local_today().isoformat()
    rows = "document.querySelectorAll('#quotas-table tbody tr')"
    script = f"return [...{rows}].map(row => [...row.cells].map(cell => cell.innerText))"
    shown = {(cells[0], cells[1]): cells[2:] for cells in browser.execute_script(script)}
    assert len(shown) == sum(len(service["processes"]) for service in quota["base"]["services"])
    expected = {
        (service["service"], limits["process_type"]): [
            f"{limits['points_per_request']:,}",
            f"{limits['points_per_day']:,}",
            f"{limits['max_concurrent_execution']:,}",
            f"{limits['points_used']:,} / {limits['points_per_day']:,}",
            f"{limits['points_reserved']:,}",
            f"{limits['active_reservations']:,} / {limits['max_concurrent_execution']:,}",
        ]
        for service in usage["services"]
        for limits in service["processes"]
    }
    assert shown == expected
    assert shown[("UNIVERSAL", "TRACE")] == ["500", "800", "2", "200 / 800", "300", "1 / 2"]
    note = f"their use today ({usage['day']}, local day of UTC+{DEMO_TIMEZONE}) so far."
    assert text(browser, "quotas-message").endswith(note)
    shots(browser, "quotas")

    # Russian, remembered across a reload (the session too: same tab).
    Select(browser.find_element(By.ID, "lang")).select_by_value("ru")
    wait(browser, lambda: browser.find_element(By.CSS_SELECTOR, "#nav a[data-view=usage]").text == "Использование")
    held = browser.find_element(By.CSS_SELECTOR, "#quotas-table th[data-i18n='quotas.held']")
    assert held.text == "Зарезервировано"
    wait(browser, lambda: "местные сутки UTC+3" in text(browser, "quotas-message"), "the quotas' note in Russian")
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-view=usage]").click()
    browser.refresh()
    wait(browser, lambda: visible(browser, "view-usage") and bars(browser), "usage after a reload")
    assert browser.find_element(By.ID, "usage-title").text == "Использование"
    assert browser.execute_script("return document.documentElement.lang") == "ru"
    shots(browser, "usage-ru")

    # Sign out forgets the token and the user's data; a revoked token brings the sign-in
    # form back with a message.
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-view=profile]").click()
    wait(browser, lambda: browser.find_element(By.ID, "profile-email").get_attribute("value"), "the profile")
    browser.find_element(By.ID, "signout").click()
    wait(browser, lambda: visible(browser, "view-signin"), "the sign-in form")
    assert text(browser, "signin-message") == "Вы вышли из консоли."
    assert browser.execute_script("return sessionStorage.length") == 0
    assert not visible(browser, "nav")
    page = browser.execute_script("return document.body.innerHTML")
    for trace in ("manager@example.com", "demo_company", first_codes[0], 'g class="bar"'):
        assert trace not in page  # not even in the hidden views
    assert browser.execute_script("return [...document.querySelectorAll('#view-profile input')].every(i => !i.value)")
    Select(browser.find_element(By.ID, "lang")).select_by_value("en")
    sign_in(browser, "demo_user", PASSWORD)
    wait(browser, lambda: bars(browser), "signed in again")
    servers.cli(server, "disable-user", "demo_user")
    try:
        browser.find_element(By.CSS_SELECTOR, "#nav a[data-view=quotas]").click()
        wait(browser, lambda: visible(browser, "view-signin"), "the sign-in form after revocation")
        expired = "Your session has expired or was ended elsewhere. Please sign in again."
        assert text(browser, "signin-message") == expired
        assert browser.execute_script("return sessionStorage.length") == 0
    finally:
        servers.cli(server, "enable-user", "demo_user")


# ---------------------------------------------------------------- password, keyboard, no quota


def test_password_change_keyboard_and_no_quota(server, browser):
    """A user without quotas, driven by the keyboard alone: Tab to the sections, change the
    password (the tab keeps working with the new token; the old one is revoked)."""
    servers.cli(server, "create-user", "kim", "--company", "acme", "--password-stdin", stdin=f"{PASSWORD}\n")
    open_console(browser, server)
    browser.execute_script("localStorage.clear(); sessionStorage.clear();")
    open_console(browser, server)
    sign_in(browser, "kim", PASSWORD)
    wait(
        browser,
        lambda: visible(browser, "view-usage") and text(browser, "usage-legend") == "No usage in this period.",
        "",
    )
    old_token = browser.execute_script("return sessionStorage.getItem('account-console.token')")

    # Tab from the page's start reaches the sections in order; Enter opens one.
    browser.execute_script("document.activeElement.blur(); window.focus()")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    reached = []
    for _ in range(8):
        active = browser.switch_to.active_element
        reached.append(active.get_attribute("data-view") or active.get_attribute("id") or active.text)
        if active.get_attribute("data-view") == "quotas":
            break
        active.send_keys(Keys.TAB)
    assert reached[-4:] == ["usage", "audit", "profile", "quotas"], reached
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait(browser, lambda: text(browser, "quotas-message") == "No quotas are set for this account.", "no quotas")
    assert browser.find_elements(By.CSS_SELECTOR, "#quotas-table tbody tr") == []

    browser.find_element(By.CSS_SELECTOR, "#nav a[data-view=profile]").send_keys(Keys.ENTER)
    wait(browser, lambda: visible(browser, "view-profile"), "the profile")
    new_password = "kims_new_password_2"
    for field, value in (
        ("password-current", "a wrong current one"),
        ("password-new", new_password),
        ("password-repeat", new_password),
    ):
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "password-repeat").send_keys(Keys.ENTER)
    wait(browser, lambda: text(browser, "password-current-error"), "the wrong current password")
    assert "current_password" in text(browser, "password-current-error")
    current = browser.find_element(By.ID, "password-current")
    current.clear()
    current.send_keys(PASSWORD + Keys.ENTER)
    wait(browser, lambda: text(browser, "password-message").startswith("The password is changed"), "changed")
    new_token = browser.execute_script("return sessionStorage.getItem('account-console.token')")
    assert new_token and new_token != old_token
    assert api(server, old_token, "/account/info")[0] == 401
    assert api(server, new_token, "/account/info")[1]["username"] == "kim"
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-view=quotas]").click()
    wait(browser, lambda: visible(browser, "view-quotas"), "still signed in with the new token")
    assert not visible(browser, "view-signin")
