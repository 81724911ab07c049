"""The course in a real JupyterLab, driven by headless Chromium (``make test-browser``).

The fixtures (``conftest.py``) start JupyterLab on a copy of the course and a fresh Chromium.
"""

from __future__ import annotations

import time

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tools.execute import KERNELSPEC

STUDENT_01 = "notebooks/01_dictionary_translator.ipynb"
SOLUTION_01 = "solutions/01_dictionary_translator.ipynb"
NOT_SOLVED_11 = "Exercise 1.1 (Split a sentence into tokens) is not solved yet"

def open_notebook(driver: WebDriver, lab, path: str) -> WebElement:
    """Open ``path`` in JupyterLab and wait until its kernel is idle; return the notebook panel."""
    driver.get(lab.address(f"lab/tree/{path}"))
    wait = WebDriverWait(driver, 60)
    panel = wait.until(lambda d: visible(d, ".jp-NotebookPanel"))
    wait.until(lambda d: kernel_idle(d))
    return panel


def visible(driver: WebDriver, selector: str) -> WebElement | None:
    found = [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]
    return found[0] if found else None


def kernel_idle(driver: WebDriver) -> bool:
    """Whether the status bar says the course's kernel is idle (started, and running nothing)."""
    status = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".jp-StatusBar-TextItem")]
    return f"{KERNELSPEC['display_name']} | Idle" in status


def uncovered(driver: WebDriver, element: WebElement) -> bool:
    """Whether ``element`` is on screen and is what the browser shows at its centre (nothing covers it)."""
    return driver.execute_script(
        "const e = arguments[0], r = e.getBoundingClientRect();"
        "const top = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);"
        "return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && e.contains(top);", element)


def run_all(driver: WebDriver) -> None:
    """Run → Run All Cells, from the menu, as a student does."""
    menu = next(e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if e.text == "Run")
    menu.click()
    item = WebDriverWait(driver, 10).until(lambda d: next(
        (e for e in d.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel") if e.text == "Run All Cells"), None))
    item.click()


def test_run_all_on_the_student_notebook_shows_the_not_solved_message(lab, browser):
    open_notebook(browser, lab, STUDENT_01)
    run_all(browser)
    error = WebDriverWait(browser, 60).until(lambda d: next(
        (e for e in d.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output") if NOT_SOLVED_11 in e.text), None))
    WebDriverWait(browser, 30).until(lambda d: kernel_idle(d))
    # JupyterLab leaves the view at the last cell after Run All; the notebook tells the student
    # to scroll up to the first red box. Nothing may cover it there (a pop-up, a scrollbar).
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", error)
    assert uncovered(browser, error), "something covers the not-solved message"
    assert "Traceback" not in error.text and "helpers/checks" not in error.text, error.text
    assert len(error.text.splitlines()) <= 3, error.text
    assert not [e for e in browser.find_elements(By.CSS_SELECTOR, ".jp-toast-message, .Toastify__toast")
                if "news" in e.text.lower()], "the 'Jupyter news' pop-up is showing"


def loaded_images(driver: WebDriver) -> list[WebElement]:
    """The notebook's images that the browser has decoded, each scrolled into view first.

    JupyterLab draws cells far below the view lazily, so an image there loads only once shown.
    """
    loaded = []
    for img in driver.find_elements(By.CSS_SELECTOR, ".jp-RenderedImage img"):
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)
        if driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img):
            loaded.append(img)
    return loaded


def test_a_solution_notebook_shows_its_figures_and_no_error(lab, browser):
    open_notebook(browser, lab, SOLUTION_01)
    WebDriverWait(browser, 30).until(lambda d: len(loaded_images(d)) == 2, "notebook 01 saves two figures; "
                                     "the browser did not show both within 30 s")
    assert not browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")


def test_opening_a_notebook_does_not_modify_it(lab, browser):
    before = (lab.course / STUDENT_01).read_bytes()
    open_notebook(browser, lab, STUDENT_01)
    time.sleep(2)  # let JupyterLab settle (a rewritten kernelspec would mark the notebook modified)
    tab = visible(browser, ".jp-mod-current")
    assert "jp-mod-dirty" not in tab.get_attribute("class"), "JupyterLab marks the notebook as modified"
    assert (lab.course / STUDENT_01).read_bytes() == before
    code_line = visible(browser, ".jp-CodeCell .cm-content")
    assert "cm-lineWrapping" in code_line.get_attribute("class"), "code cells do not wrap long lines"
    assert "without encryption" not in lab.log.read_text(), "a kernel warned that it runs over TCP without encryption"


def listed(driver: WebDriver) -> list[str]:
    """The names the file browser lists."""
    return driver.execute_script(  # in one go: the listing is redrawn while it loads
        "return [...document.querySelectorAll('.jp-DirListing-itemText')].map(e => e.textContent)")


def test_lab_opens_in_notebooks_with_solutions_one_folder_up(lab, browser):
    browser.get(lab.address(""))  # the server's own address, as `make lab` opens it
    WebDriverWait(browser, 60).until(lambda d: "01_dictionary_translator.ipynb" in listed(d), "notebooks/ is not listed")
    assert "solutions" not in listed(browser)
    crumbs = visible(browser, ".jp-BreadCrumbs")
    assert "notebooks" in crumbs.text
    crumbs.find_element(By.CSS_SELECTOR, ".jp-BreadCrumbs-home").click()
    WebDriverWait(browser, 10).until(lambda d: "solutions" in listed(d), "solutions/ is not reachable")
