"""The config file (--config PATH, STOPAY_CONFIG): a flag wins over the environment, the environment
over the file, the file over the defaults; a key no setting reads is refused, naming the key and the
file; `config show` prints every setting of serve with its source, passwords masked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from stopay.cli import main as cli_main
from stopay.cli import showconfig
from stopay.cli.serve import from_file, settings_from_args
from stopay.config import ConfigFileError, use_config_file


@pytest.fixture(autouse=True)
def no_file_left(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("STOPAY_CONFIG", "STOPAY_LEASE_SECONDS", "STOPAY_MAX_DEPTH", "STOPAY_DSN", "STOPAY_RULE"):
        monkeypatch.delenv(name, raising=False)
    yield
    use_config_file(None)  # the next test's parser reads no file


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stopay.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_flag_wins_over_the_environment_which_wins_over_the_file_which_wins_over_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, 'lease_seconds = 20\nmax-depth = 4\nrule = "fifo"\nbreaker_open = 2.5\n')
    monkeypatch.setenv("STOPAY_MAX_DEPTH", "3")
    monkeypatch.setenv("STOPAY_RULE", "lifo")
    args = cli_main.parse(["--config", str(config), "serve", "--insecure", "--rule", "pro_rata"])
    settings = settings_from_args(args)
    assert settings.dispatch.lease_s == 20.0  # file over default (15)
    assert settings.dispatch.breaker_open_s == 2.5  # file over default (10)
    assert settings.limits.max_depth == 3  # environment over file
    assert settings.limits.rule == "pro_rata"  # flag over environment and file
    assert settings.dispatch.retry_cap_s == 60.0  # nothing said: the default


def test_stopay_config_names_the_file_and_config_may_follow_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, "max_fanout = 7\n")
    monkeypatch.setenv("STOPAY_CONFIG", str(config))
    assert settings_from_args(cli_main.parse(["serve", "--insecure"])).limits.max_fanout == 7
    monkeypatch.delenv("STOPAY_CONFIG")
    assert settings_from_args(cli_main.parse(["serve", "--insecure", "--config", str(config)])).limits.max_fanout == 7
    assert settings_from_args(cli_main.parse(["serve", "--insecure"])).limits.max_fanout == 200


def test_repeatable_flags_and_switches_come_from_the_file_unless_given(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        'bank = ["ICBC=simulated"]\nregion = ["cq=5001,5002"]\nno_dispatcher = true\nno_migrate = true\n',
    )
    settings = settings_from_args(cli_main.parse(["--config", str(config), "serve", "--insecure"]))
    assert settings.bank_routes == {"ICBC": "simulated"}
    assert settings.regions == {"cq": ("5001", "5002")}
    assert settings.dispatcher is False and settings.migrate is False
    flagged = settings_from_args(cli_main.parse(["--config", str(config), "serve", "--insecure", "--bank", "ABC=x"]))
    assert flagged.bank_routes == {"ABC": "x"}  # the flags replace the file's list


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("lease_second = 20\n", "unknown key lease_second"),
        ("[serve]\nlisten = '0.0.0.0:1'\n", "serve must be a string or a number"),
        ("no_dispatcher = 'yes'\n", "no_dispatcher must be true or false"),
        ("bank = 'ICBC=simulated'\n", "bank must be a list of strings"),
        ("lease_seconds = \n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_key_and_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str
) -> None:
    config = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as refused:
        cli_main.parse(["--config", str(config), "serve", "--insecure"])
    assert str(config) in str(refused.value) and said in str(refused.value)
    # The command says it in one line and exits 2, before anything starts.
    assert cli_main.main(["--config", str(config), "config", "show"]) == 2
    assert said in capsys.readouterr().err


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="nowhere.toml"):
        cli_main.parse(["--config", str(tmp_path / "nowhere.toml"), "serve"])


def test_config_show_gives_each_setting_its_source_and_masks_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(
        tmp_path,
        'dsn = "postgresql://stopay:s3cret-pw@db:5432/stopay"\nlease_seconds = 20\ncheckpoint_key = "/keys/audit.key"\n'
        'adapter = ["grpc:target=10.0.0.5:7000;banks=ICBC;password=hunter2"]\n',
    )
    (tmp_path / "audit.key").write_text("PRIVATE KEY CONTENTS", encoding="utf-8")
    monkeypatch.setenv("STOPAY_MAX_DEPTH", "3")
    args = cli_main.parse(
        [
            "--config",
            str(config),
            "config",
            "show",
            "--json",
            "--rule",
            "fifo",
            "--migrate-dsn",
            "host=db user=owner password=0wner-pw dbname=stopay",
        ]
    )
    assert showconfig.run(args) == 0
    out = capsys.readouterr().out
    shown = json.loads(out)
    rows = {row["setting"]: row for row in shown["settings"]}
    assert shown["config_file"] == str(config)
    assert rows["dsn"] == {
        "setting": "dsn",
        "value": "postgresql://stopay:****@db:5432/stopay",
        "source": f"config file ({config})",
    }
    assert rows["migrate-dsn"]["value"] == "host=db user=owner password=**** dbname=stopay"
    assert rows["migrate-dsn"]["source"] == "flag"
    assert rows["adapter"]["value"] == ["grpc:target=10.0.0.5:7000;banks=ICBC;password=****"]
    assert rows["lease-seconds"]["value"] == 20.0 and rows["lease-seconds"]["source"].startswith("config file")
    assert rows["max-depth"] == {"setting": "max-depth", "value": 3, "source": "environment (STOPAY_MAX_DEPTH)"}
    assert rows["rule"]["source"] == "flag"
    assert rows["retry-cap"] == {"setting": "retry-cap", "value": 60.0, "source": "default"}
    assert rows["checkpoint-key"]["value"] == "/keys/audit.key"
    for secret in ("s3cret-pw", "0wner-pw", "hunter2", "PRIVATE KEY"):
        assert secret not in out
    # Every flag of serve is there (the help and the port file aside).
    serve = showconfig._serve_parser(cli_main.build_parser())
    flags = {a.option_strings[-1].lstrip("-") for a in serve._actions if a.option_strings}
    assert set(rows) == flags - {"help", "port-file"}


def test_config_show_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, 'dsn = "postgresql://u:pw@h/d"\n')
    assert showconfig.run(cli_main.parse(["--config", str(config), "config", "show", "--insecure"])) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"config file: {config}"
    assert any(line.split() == ["dsn", "postgresql://u:****@h/d", "[config", "file", f"({config})]"] for line in lines)
    assert any(line.split() == ["insecure", "True", "[flag]"] for line in lines)


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        (
            "postgresql://u:p%40ss@h1:5432,h2:5433/db?target_session_attrs=read-write",
            "postgresql://u:****@h1:5432,h2:5433/db?target_session_attrs=read-write",
        ),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://h:5432/db?password=x&sslmode=require", "postgresql://h:5432/db?password=****&sslmode=require"),
    ],
)
def test_mask(dsn: str, masked: str) -> None:
    assert showconfig.mask(dsn) == masked


def test_the_example_file_of_the_operations_guide_is_accepted(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    args = cli_main.parse(["--config", str(write(tmp_path, example)), "serve"])
    from_file(args)
    assert args.no_migrate is True and args.region == ["cq=5001,5002"]
    assert args.dsn.endswith("target_session_attrs=read-write") and args.lease_seconds == 15.0


def test_a_bad_log_level_names_where_it_came_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, 'log_level = "loud"\n')
    assert cli_main.main(["--config", str(config), "config", "show"]) == 2
    assert "log_level of the config file must be one of debug, info, warning, error, not 'loud'" in (
        capsys.readouterr().err
    )
