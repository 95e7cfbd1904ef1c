"""`make report-preview`: the demo user's 90-day report, rendered by LibreOffice.

Builds the demo data in a throw-away SQLite database at a fixed date, asks the service for
the report as the demo user would (GET /account/report for the last 90 days), then
converts the workbook to PDF with LibreOffice and its first page (the summary) to PNG with
pdftoppm. Writes docs/report-demo.xlsx and docs/report-preview.png."""

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app import create_app
from app.demo import PASSWORD, load_demo
from app.migrate import upgrade

DOCS = Path(__file__).resolve().parent.parent / "docs"
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def demo_report(workdir):
    url = f"sqlite:///{workdir / 'demo.db'}"
    app = create_app({"DATABASE_URL": url, "BCRYPT_ROUNDS": 4, "CLOCK": lambda: NOW, "TESTING": True})
    upgrade(app.config["DATABASE_URL"])
    with app.app_context():
        load_demo()
    client = app.test_client()
    answer = client.post("/account/token/generation", json={"username": "demo_user", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {answer.get_json()}"}
    today = (NOW + timedelta(hours=3)).date()
    period = {"from": (today - timedelta(days=90)).isoformat(), "to": (today - timedelta(days=1)).isoformat()}
    response = client.get("/account/report", query_string=period, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.data


def main():
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        xlsx = DOCS / "report-demo.xlsx"
        xlsx.write_bytes(demo_report(workdir))
        print(f"wrote {xlsx}")
        office = shutil.which("libreoffice") or shutil.which("soffice")
        if not office or not shutil.which("pdftoppm"):
            print("LibreOffice or pdftoppm not installed (apt-get install libreoffice-calc poppler-utils): no PNG")
            return 0
        profile = f"-env:UserInstallation=file://{workdir / 'profile'}"  # not the user's own
        convert = [office, profile, "--headless", "--convert-to", "pdf", "--outdir", str(workdir), str(xlsx)]
        subprocess.run(convert, check=True, capture_output=True, timeout=300)
        pdf = workdir / "report-demo.pdf"
        png = DOCS / "report-preview"
        first_page = ["-f", "1", "-l", "1", "-singlefile"]
        subprocess.run(["pdftoppm", "-png", "-r", "90", *first_page, str(pdf), str(png)], check=True)
        print(f"wrote {png}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
