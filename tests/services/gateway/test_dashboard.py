"""The web console and the API documents.

* ``/openapi.json`` against real answers (in-process stack): no route lists 422, every
  route that reads input lists the 400 ``ErrorResponse`` the server really sends, and
  ``filter`` has a real schema that accepted filters satisfy.
* The console in a real headless Chromium (Debian's ``chromium`` + ``chromedriver``,
  driven by Selenium) against a real ``vectrond --role all``: sign in through the page,
  create a collection, find points uploaded through the API in the points browser, a
  filtered search, API keys, the cluster view, and ``/docs`` and ``/redoc`` rendering with
  every host but loopback unreachable. Skips, saying why, when the browser is missing.
  ``VECTRON_SCREENSHOTS=docs/img`` saves the screenshots the docs show.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from tests.services.gateway.conftest import Stack
from tests.services.gateway.procs import Daemon, single_node
from vectron.services.gateway import models as m

PASSWORD = "correct horse battery"


def H(cred: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {cred}"}


def check(doc: dict[str, Any], name: str, instance: Any) -> None:
    """Validate ``instance`` against the document's component schema ``name``."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    jsonschema.Draft202012Validator(schema).validate(instance)


def response_schema(doc: dict[str, Any], path: str, method: str, status: str) -> str:
    ref = doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


# -- OpenAPI -------------------------------------------------------------------------------


def test_openapi_lists_real_errors_and_a_real_filter_schema(stack: Stack) -> None:
    http = stack.http
    doc = http.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert "422" not in op["responses"], f"{method.upper()} {path} lists 422"
            if op.get("requestBody") or op.get("parameters"):
                assert response_schema(doc, path, method, "400") == "ErrorResponse", f"{method.upper()} {path}"

    a = stack.account()
    key = a["key"]
    assert http.put("/v1/collections/docs", json={"dimension": 4, "shards": 2}, headers=H(key)).status_code == 201
    # real 400 answers match ErrorResponse, as the document says
    bad = [
        http.put("/v1/collections/other", json={"dimension": "four"}, headers=H(key)),
        http.post("/v1/users/register", content=b"{not json", headers={"Content-Type": "application/json"}),
        http.post("/v1/collections/docs/points/search", json={"vector": [1, 0, 0, 0], "filter": {"must": [{"key": "a"}]}}, headers=H(key)),
    ]
    for r in bad:
        assert r.status_code == 400, r.text
        check(doc, "ErrorResponse", r.json())
    # ...and a body that is not one fails the schema (the check can fail)
    with pytest.raises(jsonschema.ValidationError):
        check(doc, "ErrorResponse", {"detail": [{"loc": ["body"], "msg": "x"}]})

    # successful answers match their documented schemas
    pts = [{"id": i, "vector": [float(i), 1.0, 0.0, 0.5], "payload": {"color": "red" if i % 2 else "blue", "n": i}} for i in range(10)]
    assert http.post("/v1/collections/docs/points", json={"points": pts}, headers=H(key)).status_code == 200
    flt = {"must": [{"key": "color", "match": {"value": "red"}}, {"key": "n", "range": {"gte": 3}}],
           "must_not": {"has_id": [9]}, "should": [{"is_empty": {"key": "gone"}}, {"must": [{"is_null": {"key": "n"}}]}]}
    answers = {
        ("/v1/collections/{collection}", "get"): http.get("/v1/collections/docs", headers=H(key)),
        ("/v1/collections", "get"): http.get("/v1/collections", headers=H(key)),
        ("/v1/collections/{collection}/points/search", "post"):
            http.post("/v1/collections/docs/points/search", json={"vector": [1, 1, 0, 0], "filter": flt}, headers=H(key)),
        ("/v1/collections/{collection}/points/scroll", "post"):
            http.post("/v1/collections/docs/points/scroll", json={"limit": 3, "filter": flt}, headers=H(key)),
        ("/v1/keys", "get"): http.get("/v1/keys", headers=H(a["token"])),
    }
    for (path, method), r in answers.items():
        assert r.status_code == 200, r.text
        check(doc, response_schema(doc, path, method, "200"), r.json())
    assert sorted(h["id"] for h in answers[("/v1/collections/{collection}/points/search", "post")].json()["results"]) == [3, 5, 7]

    # the filter fields point at a Filter schema that accepted filters satisfy and wrong ones fail
    for model in ("SearchRequest", "ScrollRequest", "CountRequest", "DeletePointsRequest"):
        assert "#/components/schemas/Filter" in json.dumps(schemas[model]["properties"]["filter"]), model
    check(doc, "Filter", flt)
    for wrong in ({"must": [{"key": "a"}]}, {"must": [{"key": "a", "match": {"value": 1.5}}]}, {"all": []},
                  {"must": [{"key": "a", "range": {"above": 1}}]}):
        with pytest.raises(jsonschema.ValidationError):
            check(doc, "Filter", wrong)
        r = http.post("/v1/collections/docs/points/count", json={"filter": wrong}, headers=H(key))
        assert r.status_code == 400 and r.json()["error"]["field"].startswith("filter"), r.text


def test_request_models_have_a_filter_schema_of_their_own() -> None:
    """Outside OpenAPI too (pydantic's model_json_schema): the Filter schema comes along."""
    flt = {"must": [{"key": "n", "range": {"gt": 1}}], "should": {"has_id": [1, "a"]}}
    for model, body in ((m.SearchRequest, {"vector": [1.0], "filter": flt}), (m.ScrollRequest, {"filter": flt}),
                        (m.CountRequest, {"filter": flt}), (m.DeletePointsRequest, {"filter": flt})):
        validator = jsonschema.Draft202012Validator(model.model_json_schema())
        validator.validate(body)
        assert not validator.is_valid({**body, "filter": {"must": [{"key": "n", "range": {"over": 1}}]}}), model
        assert model.model_validate(body).filter == flt  # validation keeps the plain JSON


def test_docs_pages_use_only_vendored_assets(stack: Stack) -> None:
    http = stack.http
    for page, assets in {"/docs": ("swagger-ui-bundle.js", "swagger-ui.css"), "/redoc": ("redoc.standalone.js",)}.items():
        r = http.get(page)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert "cdn" not in r.text and "fonts.googleapis" not in r.text and "fastapi.tiangolo" not in r.text, page
        for asset in assets:
            url = next(part.split('"')[0] for part in r.text.split('"/dashboard/static/')[1:] if asset in part.split('"')[0])
            got = http.get(f"/dashboard/static/{url}")
            assert got.status_code == 200 and len(got.content) > 10_000, url
    assert http.get("/dashboard/static/vendor/swagger-ui/LICENSE").status_code == 200
    assert http.get("/dashboard/static/vendor/redoc/LICENSE").status_code == 200
    assert http.get("/dashboard/static/../__init__.py").status_code == 404
    r = http.get("/dashboard/", follow_redirects=False)
    assert r.status_code == 200 and "Vectron console" in r.text
    assert http.get("/dashboard", follow_redirects=False).headers["location"] == "/dashboard/"


def test_cluster_route_needs_a_session(stack: Stack) -> None:
    http = stack.http
    r = http.get("/dashboard/api/cluster")
    assert r.status_code == 401 and r.json()["error"]["code"]
    a = stack.account()
    r = http.get("/dashboard/api/cluster", headers=H(a["key"]))  # an API key is not a session
    assert r.status_code == 401
    r = http.get("/dashboard/api/cluster", headers=H(a["token"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["checks"]["placement"] is True
    assert [(w["worker_id"], w["raft_ports"]) for w in body["workers"]] == [("w0", "30000-30099"), ("w1", "30100-30199")]


# -- the console in a real browser ---------------------------------------------------------

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="the console's browser tests need Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = single_node(tmp_path_factory.mktemp("dash"), "--default-shards", "2")
    d.start()
    try:
        d.wait_ready()
        yield d
    finally:
        d.stop()


@pytest.fixture
def browser(tmp_path: pathlib.Path) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,900",
                 # every host but loopback is unreachable: the pages must not need the internet
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _shots() -> pathlib.Path | None:
    folder = os.environ.get("VECTRON_SCREENSHOTS")
    if not folder:
        return None
    path = pathlib.Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


@needs_browser
@pytest.mark.slow
def test_console_in_a_real_browser(daemon: Daemon, browser: Any, tmp_path: pathlib.Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    http = httpx.Client(base_url=daemon.url, timeout=30)
    shots = _shots()
    # views re-render their tables (the cluster view every 5 s): a wait re-reads a replaced row
    wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))
    find = browser.find_element

    def shot(name: str) -> None:
        browser.save_screenshot(str(tmp_path / name))
        if shots:
            browser.save_screenshot(str(shots / name))

    def rows(table: str) -> list[Any]:
        return browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")

    def go(view: str) -> None:
        find(By.CSS_SELECTOR, f'#nav a[href="#{view}"]').click()
        wait.until(lambda d: d.find_element(By.ID, f"view-{view}").is_displayed())

    email = "grace@example.com"
    assert http.post("/v1/users/register", json={"email": email, "password": PASSWORD}).status_code == 201

    # sign in with the keyboard only: type, Tab, type, Enter
    browser.get(f"{daemon.url}/dashboard")
    field = wait.until(ec.element_to_be_clickable((By.ID, "signin-email")))
    field.click()
    browser.switch_to.active_element.send_keys(email, Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "signin-password"
    browser.switch_to.active_element.send_keys(PASSWORD, Keys.ENTER)
    wait.until(ec.visibility_of_element_located((By.ID, "view-collections")))
    assert find(By.ID, "who-email").text == email
    key = browser.execute_script("return sessionStorage.getItem('vectron.key')")
    assert key and key.startswith("vk_")

    # create a collection through the page
    find(By.ID, "cc-name").send_keys("docs")
    find(By.ID, "cc-dimension").send_keys("4")
    find(By.ID, "cc-shards").send_keys("2")
    find(By.ID, "cc-submit").click()
    wait.until(lambda d: any(r.find_element(By.TAG_NAME, "th").text == "docs" for r in rows("collections-table")))
    info = http.get("/v1/collections/docs", headers=H(key)).json()["collection"]
    assert info["dimension"] == 4 and info["shards"] == 2

    # upload points through the API; the collections view counts them
    pts = [{"id": i, "vector": [1.0, i / 10, 0.0, (i % 3) / 3], "payload": {"color": "red" if i % 2 else "blue", "n": i}}
           for i in range(25)]
    assert http.post("/v1/collections/docs/points", json={"points": pts}, headers=H(key)).status_code == 200
    find(By.ID, "collections-refresh").click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, 'td[data-points="docs"]').text == "25")
    find(By.XPATH, "//button[text()='Details of docs']").click()
    detail = wait.until(ec.visibility_of_element_located((By.ID, "collection-detail")))
    assert detail.text.count("ok") >= 2  # both shards answered
    shot("console-collections.png")

    # the points browser pages through all 25 with their payloads
    go("points")
    wait.until(lambda d: "docs" in [o.text for o in Select(d.find_element(By.ID, "points-collection")).options])
    Select(find(By.ID, "points-collection")).select_by_visible_text("docs")
    limit = find(By.ID, "points-limit")
    limit.clear()
    limit.send_keys("10")
    find(By.ID, "points-load").click()
    seen: dict[str, dict[str, Any]] = {}
    for page in range(1, 4):
        wait.until(lambda d, page=page: d.find_element(By.ID, "points-info").text.startswith(f"Page {page} "))
        for r in rows("points-table"):
            seen[r.find_element(By.TAG_NAME, "th").text] = json.loads(r.find_elements(By.TAG_NAME, "td")[0].text)
        if page < 3:
            find(By.ID, "points-next").click()
    assert find(By.ID, "points-next").get_attribute("disabled") is not None
    assert seen == {str(p["id"]): p["payload"] for p in pts}
    find(By.ID, "points-prev").click()
    wait.until(lambda d: d.find_element(By.ID, "points-info").text.startswith("Page 2 "))

    # a filtered search by a stored point's vector, the same answer as the API's
    go("search")
    wait.until(lambda d: "docs" in [o.text for o in Select(d.find_element(By.ID, "search-collection")).options])
    Select(find(By.ID, "search-collection")).select_by_visible_text("docs")
    flt = {"must": [{"key": "color", "match": {"value": "red"}}], "must_not": [{"key": "n", "range": {"gt": 20}}]}
    find(By.ID, "search-id").send_keys("7")
    find(By.ID, "search-filter").send_keys(json.dumps(flt))
    find(By.ID, "search-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "search-info").text.endswith("result(s)."))
    got = [(r.find_element(By.TAG_NAME, "th").text, float(r.find_element(By.CLASS_NAME, "score").text)) for r in rows("search-table")]
    want = http.post("/v1/collections/docs/points/search", json={"vector": pts[7]["vector"], "top_k": 10, "filter": flt}, headers=H(key)).json()
    assert [g[0] for g in got] == [str(h["id"]) for h in want["results"]]
    assert got[0][0] == "7" and all(int(i) % 2 == 1 and int(i) <= 20 for i, _ in got)
    assert [g[1] for g in got] == pytest.approx([h["score"] for h in want["results"]], abs=1e-5)
    shot("console-search.png")
    # a bad filter is refused with the server's message, on the page
    find(By.ID, "search-filter").clear()
    find(By.ID, "search-filter").send_keys('{"must": [{"key": "n"}]}')
    find(By.ID, "search-submit").click()
    wait.until(lambda d: "400 invalid_filter" in d.find_element(By.ID, "status").text or "400" in d.find_element(By.ID, "status").text)

    # API keys: create (shown once), it works, revoke it, it stops working
    go("keys")
    find(By.ID, "ck-name").send_keys("ci")
    find(By.ID, "ck-submit").click()
    new_key = wait.until(ec.visibility_of_element_located((By.ID, "new-key-value"))).text
    assert new_key.startswith("vk_") and http.get("/v1/collections", headers=H(new_key)).status_code == 200
    find(By.ID, "new-key-hide").click()
    assert find(By.ID, "new-key-value").text == ""
    wait.until(lambda d: d.find_elements(By.XPATH, "//button[text()='Revoke ci']"))
    find(By.XPATH, "//button[text()='Revoke ci']").click()
    browser.switch_to.alert.accept()
    wait.until(lambda d: not d.find_elements(By.XPATH, "//button[text()='Revoke ci']"))
    assert http.get("/v1/collections", headers=H(new_key)).status_code == 401

    # the cluster view: readiness, the live worker, the shard routing; it refreshes by itself
    go("cluster")
    wait.until(lambda d: any("live" == c.text for c in d.find_elements(By.CSS_SELECTOR, "#workers-table td.live")))
    wait.until(lambda d: len(rows("routing-table")) == 2)
    first = find(By.ID, "cluster-updated").text
    wait.until(lambda d: d.find_element(By.ID, "cluster-updated").text not in ("", first))
    shot("console-cluster.png")

    # signing out revokes the console's own key
    find(By.ID, "signout").click()
    wait.until(ec.visibility_of_element_located((By.ID, "view-signin")))
    assert browser.execute_script("return sessionStorage.getItem('vectron.key')") is None
    assert http.get("/v1/collections", headers=H(key)).status_code == 401


@needs_browser
def test_docs_render_offline(daemon: Daemon, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    for page, title in (("/docs", "#swagger-ui .info .title"), ("/redoc", ".api-content h1")):
        browser.get(f"{daemon.url}{page}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, title))
        assert "Vectron" in browser.find_element(By.CSS_SELECTOR, title).text
        if page == "/docs":
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#swagger-ui .opblock")) >= 15)
        # every request the page made went to the gateway, or the page's CSP kept it from leaving
        sent: dict[str, str] = {}
        blocked: set[str] = set()
        for entry in browser.get_log("performance"):
            event = json.loads(entry["message"])["message"]
            if event["method"] == "Network.requestWillBeSent":
                sent[event["params"]["requestId"]] = event["params"]["request"]["url"]
            elif event["method"] == "Network.loadingFailed" and event["params"].get("blockedReason") == "csp":
                blocked.add(event["params"]["requestId"])
        assert f"{daemon.url}/openapi.json" in sent.values()
        outside = {rid: url for rid, url in sent.items() if url.startswith(("http:", "https:", "ws:", "wss:"))
                   and not url.startswith(daemon.url)}
        assert set(outside) <= blocked, (page, outside)
