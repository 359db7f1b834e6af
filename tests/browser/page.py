"""Driving the evidence page: choose the two files, press Verify, wait for the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

PAGE_TIMEOUT_S = 20.0
"""How long a test waits for the page to load or to show a result."""
RESULT_STATES = ("valid", "invalid", "error")
"""``data-state`` values of ``#result`` once the page is done."""


def write_receipt(path: Path, receipt: Any) -> Path:
    path.write_text(json.dumps(receipt))
    return path


def verify_on_page(driver: WebDriver, url: str, record: Path, receipt: Path) -> WebElement:
    """Load the page, choose ``record`` and ``receipt``, press Verify; return ``#result`` when done."""
    driver.get(url)
    driver.find_element(By.ID, "file").send_keys(str(record))
    driver.find_element(By.ID, "receipt").send_keys(str(receipt))
    driver.find_element(By.ID, "verify").click()
    result = driver.find_element(By.ID, "result")
    WebDriverWait(driver, PAGE_TIMEOUT_S).until(
        lambda _: result.get_attribute("data-state") in RESULT_STATES
    )
    return result


def page_digest(driver: WebDriver) -> str:
    """The digest the page computed and shows (``#digest``)."""
    return driver.find_element(By.ID, "digest").text
