import pytest
from sqlalchemy import create_engine

from app.version import __version__


def test_check_reports_healthy_database(client):
    response = client.get("/account/system/check")
    assert response.status_code == 200
    assert response.get_json() == {"health": 1.0}


def test_check_reports_unreachable_database_without_crashing(app, client):
    app.extensions["account_db"] = create_engine(
        "postgresql+psycopg2://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 1}
    )
    response = client.get("/account/system/check")
    assert response.status_code == 200
    assert response.get_json() == {"health": 0.0}


def test_version(client):
    response = client.get("/account/system/version")
    assert response.status_code == 200
    assert response.get_json() == {"major": 7, "minor": 9, "build": __version__}


@pytest.mark.parametrize("name,marker", [("file_en.html", "Operations"), ("file_ru.html", "Операции")])
def test_documentation_files(client, name, marker):
    response = client.get(f"/account/file/{name}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert marker in page
    for operation in ("run_token_generation", "read_info", "update_info", "read_quota", "check", "version"):
        assert operation in page
