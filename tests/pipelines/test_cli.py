from ijules_pipelines.cli import main


def test_db_commands_against_an_unreachable_url_fail_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("IJULES_DATABASE_URL", "postgresql://ijules:hunter2-secret@127.0.0.1:1/ijules")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ijules: error:") and len(err.splitlines()) == 1
    assert "hunter2-secret" not in err and "127.0.0.1:1" in err


def test_embedded_commands_refuse_when_an_external_url_is_set(monkeypatch, capsys):
    monkeypatch.setenv("IJULES_DATABASE_URL", "postgresql://x@127.0.0.1:1/ijules")
    assert main(["db", "stop"]) == 2
    assert "embedded server is not in use" in capsys.readouterr().err


def test_bad_port_setting_is_named(monkeypatch, capsys):
    monkeypatch.delenv("IJULES_DATABASE_URL", raising=False)
    monkeypatch.setenv("IJULES_PG_PORT", "99999")
    assert main(["db", "url"]) == 2
    assert "IJULES_PG_PORT='99999'" in capsys.readouterr().err


def test_db_upgrade_and_status_on_a_real_database(monkeypatch, capsys, empty_db_url):
    monkeypatch.setenv("IJULES_DATABASE_URL", empty_db_url)
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert "mode)" in out and "external (IJULES_DATABASE_URL)" in out
