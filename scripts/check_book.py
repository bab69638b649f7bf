"""Check the built book (make book) in a headless Chromium and with a link checker over its files.

Usage: python scripts/check_book.py [--site out/book/site] [--screenshots DIR]   (make book-check)

- Links: every link and resource of every page (href, src) that stays on the site must name a file that exists,
  and an anchor (#...) must name an id on that page. Links that leave the site are counted, not fetched.
- Browser (Chromium with chromedriver, as Debian's `chromium chromium-driver` packages install them): each
  edition's home page and every notebook page renders with its title and heading, every image on it has loaded
  (naturalWidth > 0), nothing it loads fails, and its language link opens the same page in the other edition,
  whose language link leads back.
--screenshots writes DIR/book-en.png and DIR/book-zh.png, the top of one page of each edition (down to its first
figure) as the browser drew it (the Chinese page needs a CJK font, e.g. Debian's fonts-wqy-microhei, to show
its characters).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
EDITIONS = ("en", "zh")
LANG = {"en": "en", "zh": "zh-CN"}
SCREENSHOT_PAGE = "03_visualization"  # a page with figures


class _Page(HTMLParser):
    """Collect the ids and the links (href and src) of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name") and (name == "id" or tag == "a"):
                self.ids.add(value)
            elif name in ("href", "src") and not (tag == "link" and ("rel", "preconnect") in attrs):
                self.links.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def check_links(site: Path) -> tuple[list[str], int, int]:
    """Return (the broken links as 'page: link (why)', links checked, links leaving the site)."""
    # _static/ holds the theme's template fragments, which are no pages (nothing links to them)
    pages = {path: _parse(path) for path in sorted(site.rglob("*.html")) if "_static" not in path.parts}
    broken, checked, outside = [], 0, 0
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                outside += parts.scheme in ("http", "https") or link.startswith("//")
                continue
            checked += 1
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(site)}: {link}"
            if site.resolve() not in target.parents:
                broken.append(f"{where} (leaves the site folder)")
            elif not target.is_file():
                broken.append(f"{where} (no such file)")
            elif parts.fragment and target in pages and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{where} (no id {parts.fragment!r} on that page)")
    return broken, checked, outside


def _serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve the site on a free local port, as a web server would publish it; return the server and its URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # a browser that hung up early is no failure
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # the check reports failures itself
        pass


def _browser():
    """Return a headless Chromium driven by chromedriver, or stop with how to install them."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        sys.exit("error: the browser check needs Chromium and chromedriver; on Debian or Ubuntu: "
                 "apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1400",
                 "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


def _wait(driver, url: str) -> None:
    deadline = time.monotonic() + 30
    while driver.execute_script("return document.readyState") != "complete":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not finish loading in 30 s")
        time.sleep(0.1)


def _load(driver, url: str) -> None:
    driver.get(url)
    _wait(driver, url)


def _failures(driver) -> list[str]:
    """Return (and clear) what failed in the browser since the last call: resources that did not load, and
    uncaught script errors. Console messages of the theme and the browser's own favicon request are no failures."""
    messages = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    return [m for m in messages if ("Failed to load resource" in m or "net::" in m or "Uncaught" in m)
            and "/favicon.ico" not in m]


_PAGE_STATE = """
const images = Array.from(document.images);
const link = document.querySelector("p.book-language-link a");
const heading = document.querySelector("main h1, article h1");
return {
  title: document.title,
  lang: document.documentElement.lang,
  heading: heading ? heading.textContent.trim() : "",
  images: images.length,
  broken_images: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src")),
  language_link: link ? link.href : null,
};
"""


def check_page(driver, base: str, edition: str, page: str) -> tuple[list[str], dict]:
    """Load one page, check it, follow its language link; return (problems, what the page held)."""
    url = f"{base}/{edition}/{page}.html"
    problems = []
    _failures(driver)
    _load(driver, url)
    state = driver.execute_script(_PAGE_STATE)
    failed = _failures(driver)
    where = f"{edition}/{page}"
    if not state["title"] or not state["heading"]:
        problems.append(f"{where}: no title or no heading rendered")
    if not state["lang"].startswith(LANG[edition]):
        problems.append(f"{where}: <html lang={state['lang']!r}>, expected {LANG[edition]}")
    problems += [f"{where}: image did not load: {src}" for src in state["broken_images"]]
    problems += [f"{where}: the browser reported: {message}" for message in failed]
    other = "zh" if edition == "en" else "en"
    expected = f"{base}/{other}/{page}.html"
    if state["language_link"] != expected:
        problems.append(f"{where}: the language link goes to {state['language_link']}, expected {expected}")
    else:
        driver.find_element("css selector", "p.book-language-link a").click()
        _wait(driver, expected)
        back = driver.execute_script(_PAGE_STATE)
        problems += [f"{other}/{page}: the browser reported: {message}" for message in _failures(driver)]
        if driver.current_url != expected or not back["heading"]:
            problems.append(f"{where}: following the language link did not open {expected}")
        elif back["language_link"] != url:
            problems.append(f"{other}/{page}: its language link goes to {back['language_link']}, not back to {url}")
    return problems, state


def check_search(driver, base: str, edition: str, word: str) -> list[str]:
    """Search the edition for a word and return the problems: the search page must list at least one page."""
    _failures(driver)
    url = f"{base}/{edition}/search.html?q={word}"
    _load(driver, url)
    deadline = time.monotonic() + 30
    found = 0
    while time.monotonic() < deadline and not found:
        found = driver.execute_script("return document.querySelectorAll('#search-results li').length")
        time.sleep(0.2)
    problems = [f"{edition}/search: the browser reported: {message}" for message in _failures(driver)]
    return problems + ([] if found else [f"{edition}/search: searching for {word!r} found no page"])


def check_in_browser(site: Path, screenshots: Path | None) -> tuple[list[str], int, int]:
    """Check the home page and every notebook page of both editions; return (problems, pages, images)."""
    pages = ["index"] + sorted(str(p.relative_to(site / "en").with_suffix("")) for p in
                               [*site.glob("en/[0-9][0-9]_*.html"), *site.glob("en/exercises/student/*.html")])
    server, base = _serve(site)
    driver = _browser()
    problems, images, visited = [], 0, 0
    try:
        _load(driver, f"{base}/index.html")  # the site root sends visitors to the English edition
        if not driver.current_url.endswith("/en/index.html"):
            problems.append(f"the site root leads to {driver.current_url}, not en/index.html")
        for edition in EDITIONS:
            for page in pages:
                found, state = check_page(driver, base, edition, page)
                problems += found
                images += state["images"]
                visited += 1
            problems += check_search(driver, base, edition, "Inception")
            if screenshots:
                screenshots.mkdir(parents=True, exist_ok=True)
                driver.set_window_size(1280, 2400)  # tall enough for the language link and the first figure
                _load(driver, f"{base}/{edition}/{SCREENSHOT_PAGE}.html")
                driver.save_screenshot(str(screenshots / f"book-{edition}.png"))
                driver.set_window_size(1280, 1400)
    finally:
        driver.quit()
        server.shutdown()
    return problems, visited, images


def main(argv: list[str] | None = None) -> int:
    """Run the link check and the browser check; print what was checked; exit 1 on any problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "out" / "book" / "site", help="the built site")
    parser.add_argument("--screenshots", type=Path, help="write book-en.png and book-zh.png into this folder")
    args = parser.parse_args(argv)
    if not all((args.site / edition / "index.html").is_file() for edition in EDITIONS):
        sys.exit(f"error: no built book in {args.site}; build it first with `make book`")
    started = time.perf_counter()
    broken, checked, outside = check_links(args.site)
    print(f"links: {checked} on the site checked, {len(broken)} broken; {outside} leave the site (not fetched)")
    problems, visited, images = check_in_browser(args.site, args.screenshots)
    print(f"browser: {visited} pages and their language links, {images} images, search; {len(problems)} problems")
    for line in broken + problems:
        print(f"  {line}")
    print(f"checked in {time.perf_counter() - started:.1f} s")
    # One check per page (with its language link), per edition's search, the site root and the link check; a test
    # runner's closing line, so that CI's log says what ran.
    checks = visited + len(EDITIONS) + 2
    failed = min(checks, len({problem.split(":")[0] for problem in problems}) + bool(broken))
    print(f"book-check: {checks - failed} passed, {failed} failed")
    return 1 if broken or problems else 0


if __name__ == "__main__":
    sys.exit(main())
