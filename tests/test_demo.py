from app.demo import COMPANY, DAYS, PASSWORD

COUNTS = {
    "users": "select count(*) as n from users where company_key = :c",
    "processes": "select count(*) as n from processes where company = :c",
    "requests": "select count(*) as n from process_requests where company = :c",
    "points": "select count(*) as n from process_points",
    "chunks": "select count(*) as n from process_file_chunks",
    "quotas": "select count(*) as n from quotas",
}


def _counts(db):
    return {name: db(sql, c=COMPANY)[0]["n"] for name, sql in COUNTS.items()}


def test_load_demo_twice_stores_everything_once(runner, db, clock):
    first = runner.invoke(args=["account", "load-demo"])
    assert first.exit_code == 0, first.output
    counts = _counts(db)
    assert counts["users"] == 3
    assert counts["processes"] > DAYS * 2
    assert counts["requests"] == 2 * counts["processes"]
    assert counts["chunks"] > 0 and counts["quotas"] > 0
    second = runner.invoke(args=["account", "load-demo"])
    assert second.exit_code == 0, second.output
    assert _counts(db) == counts
    bots = db("select username from users where company_key = :c and cast(roles as text) like '%BOT%'", c=COMPANY)
    assert [row["username"] for row in bots] == ["demo_bot"]


def test_demo_user_reads_statistics_audit_report_and_files(runner, client, clock):
    assert runner.invoke(args=["account", "load-demo"]).exit_code == 0
    token = client.post("/account/token/generation", json={"username": "demo_user", "password": PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {token}"}
    stats = client.get("/account/statistics?from=2026-08-01&to=2026-11-14", headers=headers)
    assert stats.status_code == 200
    services = {s["service"] for day in stats.get_json()["dates"] for s in day["services"]}
    assert {"UNIVERSAL", "ROUTING", "PACKER"} <= services
    audit = client.get(
        "/account/audit?from=2026-08-01T00:00:00Z&to=2026-11-15T00:00:00Z&limit=1000", headers=headers
    ).get_json()
    assert audit["counters"]["filter"]["total"] > 100
    with_file = next(action for action in audit["actions"] if action["input_file_exists"])
    data = client.get(f"/account/data/{with_file['process_code']}", headers=headers)
    assert data.status_code == 200 and with_file["process_code"] in data.get_data(as_text=True)
    report = client.get("/account/report?from=2026-08-01&to=2026-11-14", headers=headers)
    assert report.status_code == 200 and report.data[:2] == b"PK"
