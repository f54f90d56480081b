"""The browser pages: the resident page and the officer console, served by the same app.

Pages are plain HTML files with separate scripts (no inline code, so a strict CSP can follow);
front-end libraries are vendored under static/vendor by scripts/vendor_frontend.sh.
"""

from pathlib import Path

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
PAGES_DIR = WEB_DIR / "pages"
